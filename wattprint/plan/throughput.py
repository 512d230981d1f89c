"""How fast an accelerator does the work: device-hours = FLOPs / (peak x MFU).

Peak: dense (not sparsity) FLOP/s per precision from vendor datasheets, ``data/accelerator_peak.csv``.
MFU (model FLOPs utilisation): the range published training reports achieved on the same
hardware generation, ``data/mfu.csv``, one cited row per report. Rows are of two kinds: MFU
reported for the steady state (the high end, typically), and MFU implied by a model card's
GPU-hours, which include restarts, evaluation and idle time (the low end, typically). A
generation without any row uses the range of all rows, and says so.
"""
from __future__ import annotations

import math
import re

from .. import datasets, datasets_hw
from ..errors import UsageError
from ..fmt import opt
from ..units import shown

PRECISIONS = ("bf16", "fp16", "tf32", "fp32")


def _row_source(r: dict, factor: str, value: float, unit: str) -> dict:
    return {"factor": factor, "value": value, "unit": unit, "source": r["source"], "url": r["url"],
            "year": datasets.year_of(r["year"]), "name": r.get("model") or r.get("key", ""), "note": r["note"]}


def peak(spec: dict, precision: str | None = None) -> tuple[float, str, dict]:
    """(TFLOP/s per device, precision used, source) for an accelerator spec."""
    rows = {r["model"]: r for r in datasets.table("accelerator_peak.csv")}
    r = rows.get(spec["model"])
    if r is None:
        fams = sorted({datasets_hw.hardware(m)["family"] for m in rows})
        raise UsageError(f"no datasheet peak FLOP/s for {spec['model']} in wattprint's table; plan with one of "
                         f"{', '.join(fams)}")
    want = (precision or "bf16").lower()
    if want not in PRECISIONS:
        raise UsageError(f"{opt('precision')} {shown(precision)}: choose one of {', '.join(PRECISIONS)}")
    used = want
    if not r[f"{want}_tflops"]:
        if precision in (None, "") and want == "bf16" and r["fp16_tflops"]:
            used = "fp16"  # Volta, Turing: no bf16; mixed precision means fp16 there
        else:
            have = [p for p in PRECISIONS if r[f"{p}_tflops"]]
            raise UsageError(f"{spec['model']} has no {want} peak in its datasheet; {opt('precision')} "
                             f"{' or '.join(have)}")
    tflops = float(r[f"{used}_tflops"])
    per = spec.get("devices_per_board")
    src = _row_source(r, "peak_tflops", tflops, f"TFLOP/s {used} dense")
    if per:  # MI250(X): the datasheet is per board, the driver counts each die as a device
        tflops /= per
        src["note"] = f"{r['note']}; per device: board / {per}"
        src["value"] = tflops
    return tflops, used, src


def parse_mfu(text) -> tuple[float, float]:
    """``0.35`` or ``0.3-0.5`` (fractions of peak)."""
    t = str(text).strip()
    m = re.fullmatch(r"([0-9.]+)\s*(?:-|to|\.\.)\s*([0-9.]+)", t) or re.fullmatch(r"([0-9.]+)", t)
    try:
        vals = [float(g) for g in m.groups()] if m else None
    except ValueError:
        vals = None
    if not vals:
        raise UsageError(f"{opt('mfu')} {shown(text)}: give a fraction of peak, 0.35, or a range, 0.3-0.5")
    lo, hi = vals[0], vals[-1]
    for v in (lo, hi):
        if not (math.isfinite(v) and 0 < v <= 1):
            raise UsageError(f"{opt('mfu')} {shown(text)}: a fraction of peak between 0 and 1 (0.4 is 40 %)")
    if lo > hi:
        raise UsageError(f"{opt('mfu')} {shown(text)}: low end above high end; write it low-high")
    return lo, hi


def mfu_range(spec: dict, params: float | None = None, given=None) -> dict:
    """{'low', 'high', 'basis', 'sources', 'notes', 'rows'}: the MFU range for ``spec``."""
    if given not in (None, ""):
        lo, hi = parse_mfu(given)
        return {"low": lo, "high": hi, "basis": "given by the user", "notes": [], "rows": [],
                "sources": [{"factor": "mfu", "value": lo, "unit": f"fraction of peak (to {hi:g})",
                             "source": "given by the user", "url": "", "year": None, "name": "", "note": ""}]}
    rows = [r for r in datasets.table("mfu.csv")]
    mine = [r for r in rows if spec["family"] in r["families"].split(";")]
    notes = []
    if not mine:
        gens = sorted({r["families"].split(";")[0] for r in rows})
        notes.append(f"no published training report for {spec['family']} in wattprint's MFU table: the range "
                     f"of all reports ({', '.join(gens)}) is used; pass {opt('mfu')} to set it")
        mine = rows
    low = min(mine, key=lambda r: float(r["mfu"]))
    high = max(mine, key=lambda r: float(r["mfu"]))
    if params:
        sizes = [float(r["params_b"]) * 1e9 for r in mine]
        if params < min(sizes) / 10 or params > max(sizes) * 10:
            # the generation's reports say nothing at this size: the range says so by reaching down
            # to the lowest MFU any report achieved
            span = _b(min(sizes)) if min(sizes) == max(sizes) else f"{_b(min(sizes))}-{_b(max(sizes))}"
            floor = min(rows, key=lambda r: float(r["mfu"]))
            widened = float(floor["mfu"]) < float(low["mfu"])
            notes.append(f"MFU reports for {spec['family']} cover {span} parameters; {_b(params)} lies outside"
                         + (f", so the low end is the lowest MFU of any report ({floor['model']}, "
                            f"{float(floor['mfu']):.0%})" if widened else ": MFU at this size may differ"))
            low = floor if widened else low
    lo, hi = float(low["mfu"]), float(high["mfu"])
    for end, r in (("low", low), ("high", high)):
        if "hours" in r["basis"] or "upper bound" in r["basis"]:
            notes.append(f"MFU {end} end {float(r['mfu']):.0%} is {r['model']}: {r['note']}")
    return {"low": lo, "high": hi, "basis": f"{low['model']} ({lo:.0%}) to {high['model']} ({hi:.0%})",
            "notes": notes, "rows": [r["key"] for r in mine],
            "sources": [_row_source(r, "mfu", float(r["mfu"]), f"fraction of peak ({r['basis']})") for r in (low, high)]}


def _b(n: float) -> str:
    from ..fmt import plain

    return f"{plain(n / 1e9)}B" if n >= 1e9 else f"{plain(n / 1e6)}M"
