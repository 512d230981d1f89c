"""Accelerators and cloud prices: names as drivers report them resolved to one row of
accelerators.csv, and price rows matched to that exact variant (data/prices.csv).

A driver name (NVML, nvidia-smi, amdsmi, rocm-smi, JAX device_kind, hl-smi) resolves to its exact
variant when its words pin one down (memory, SXM/PCIe/NVL, HBM type); when only the family is
certain the spec says so in ``resolution_note``. Unknown names are a ``UsageError`` with the
closest known names.
"""
from __future__ import annotations

import re
from dataclasses import replace

from . import datasets
from .datasets import Factor, year_of, closest, norm, split_cloud, table, unknown
from .errors import UsageError
from .fmt import opt
from .units import shown

_BRANDS = ("nvidia", "amd", "google", "intel", "habana", "tesla", "geforce", "instinct", "radeon")
_FORM_WORDS = {"sxm": "SXM", "sxm2": "SXM", "sxm3": "SXM", "sxm4": "SXM", "sxm5": "SXM", "sxm6": "SXM",
               "pcie": "PCIe", "oam": "OAM"}
_MEMTYPES = {"hbm2", "hbm2e", "hbm3", "hbm3e", "gddr5", "gddr5x", "gddr6", "gddr6x"}
_DISTINCT = ("nvl",)  # a word that names its own variant: absent from the name, not that row
# names drivers report that share no word with the table: norm(name) -> models it may be
_ALIASES = {
    "tpuv5lite": ["TPU v5e"], "tpuv5litepod": ["TPU v5e"], "tpuv5": ["TPU v5p"], "tpuv6lite": ["TPU v6e (Trillium)"],
    "hl205": ["Gaudi 2"], "hl225": ["Gaudi 2"], "hl225b": ["Gaudi 2"], "hl325": ["Gaudi 3"], "hl325l": ["Gaudi 3"],
    "gfx906": ["Instinct MI50 32GB"], "gfx908": ["Instinct MI100"],
    "gfx90a": ["Instinct MI250X", "Instinct MI250", "Instinct MI210"],
    "gfx942": ["Instinct MI300X", "Instinct MI300A", "Instinct MI325X"],
    "vega20": ["Instinct MI50 32GB"], "arcturus": ["Instinct MI100"],
}
_NOT_IN_TABLE = ("laptop", "mobile", "maxq")
# boards that drivers show as two devices (power_note of each row): K80 (2 x GK210), M60 (2 x GM204),
# MI250/MI250X (2 GCDs). accelerators.csv gives the board's power; a spec gives it per device.
_BOARDS = {"Tesla K80": 2, "Tesla M60": 2, "Instinct MI250": 2, "Instinct MI250X": 2}


def _num(text: str) -> float | None:
    return float(text) if text not in (None, "") else None


def _strip_brand(text: str) -> str:
    k = norm(text)
    for prefix in _BRANDS:
        if k.startswith(prefix):  # brand, then product line
            k = k[len(prefix):]
    return k


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", str(text).lower()) if t]


def _spans(tokens: list[str]) -> set[str]:
    return {"".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, min(len(tokens), i + 4) + 1)}


def _where(family: str, tokens: list[str]) -> int:
    """Index of the first word where ``family`` starts in the name (families are ordered as named)."""
    f = norm(family)
    return next((i for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)
                 if "".join(tokens[i:j]) == f), len(tokens))


_SUFFIXES = {"ti", "super", "xt", "xtx", "lite"}


def _suffix(family: str, tokens: list[str]) -> str | None:
    """A word right after ``family`` in the name that makes it another product ('Ti', 'SUPER')."""
    f = norm(family)
    for i in range(len(tokens)):
        for j in range(i + 1, len(tokens)):
            if "".join(tokens[i:j]) == f and tokens[j] in _SUFFIXES:
                return tokens[j]
    return None


def _spec(row: dict, resolved_from: str | None = None, note: str = "", family: bool = False) -> dict:
    spec = {"model": row["model"], "vendor": row["vendor"], "family": row["family"],
            "form_factor": row["form_factor"], "tdp_w": _num(row["tdp_w"]),
            "measured_avg_w": _num(row["measured_avg_w"]), "memory_gb": _num(row["memory_gb"]),
            "memory_type": row["memory_type"], "release_year": year_of(row["release_year"]),
            "source": row["source"], "confidence": row["confidence"], "power_note": row["power_note"]}
    per = _BOARDS.get(row["model"])
    if per and spec["tdp_w"]:  # --count counts devices as NVML/amdsmi do: the power is per device
        spec.update(board_tdp_w=spec["tdp_w"], devices_per_board=per, tdp_w=spec["tdp_w"] / per,
                    power_note=f"{spec['power_note']}; tdp_w is per device as NVML/amdsmi count them "
                               f"(board {spec['tdp_w']:g} W / {per})".lstrip("; "))
    if resolved_from:
        spec["resolved_from"] = resolved_from
        spec["resolution"] = "family" if family else "exact"
        spec["resolution_note"] = note or f"hardware {resolved_from!r} resolved to {row['model']}"
    return spec


def _variant(rows: list[dict], tokens: list[str]) -> tuple[list[dict], list[str]]:
    """Rows of one family the name's words allow, and the words no row had (then ignored)."""
    words = set(tokens)
    mem = next((float(m.group(1)) for t in tokens if (m := re.fullmatch(r"(\d+)gb?", t))), None)
    forms = {_FORM_WORDS[t] for t in tokens if t in _FORM_WORDS}
    memtypes = words & _MEMTYPES
    tests = [(f"{mem:g} GB", lambda r: _num(r["memory_gb"]) == mem) if mem is not None else None,
             (" ".join(sorted(forms)), lambda r: any(r["form_factor"].startswith(f) for f in forms)) if forms else None,
             (" ".join(sorted(memtypes)).upper(), lambda r: norm(r["memory_type"]) in memtypes) if memtypes else None]
    tests += [(w.upper(), lambda r, w=w: (w in _tokens(r["model"])) == (w in words)) for w in _DISTINCT]
    unmatched = []
    for test in filter(None, tests):
        kept = [r for r in rows if test[1](r)]
        if kept:
            rows = kept
        elif test[0] not in (w.upper() for w in _DISTINCT):
            unmatched.append(test[0])
    return rows, unmatched


def hardware(name: str) -> dict:
    """Spec of an accelerator by model, family or driver-reported name (see the module docstring)."""
    rows = table("accelerators.csv")
    m = re.search(r"\s+MIG\s+", str(name), re.I)  # a MIG slice: its parent GPU
    text, slice_ = (str(name)[:m.start()], str(name)[m.end():]) if m else (str(name), "")
    k = _strip_brand(text)
    if not k:
        raise UsageError(f"hardware {shown(name)}: no such accelerator; see 'wattprint hardware'")
    known = [r["model"] for r in rows] + [r["family"] for r in rows]
    mig = f"; a MIG slice of it ({shown(slice_)}): the whole GPU's spec" if slice_ else ""
    for r in rows:
        if _strip_brand(r["model"]) == k:
            if text == r["model"] and not mig:
                return _spec(r)
            return _spec(r, str(name), f"hardware {str(name)!r} resolved to {r['model']}{mig}")
    tokens = _tokens(text)
    if any(t in _NOT_IN_TABLE for t in tokens):
        raise unknown("hardware (laptop/mobile variants are not in the table)", name, known, f"pass {opt('device_power_w')}")
    if k in _ALIASES:
        models = _ALIASES[k]
        if len(models) > 1:
            raise UsageError(f"hardware {shown(name)} may be any of {', '.join(models)}; pass {opt('hardware')} with one")
        return _spec(next(r for r in rows if r["model"] == models[0]), str(name), "")
    spans = _spans(tokens)
    fams = sorted({r["family"] for r in rows if norm(r["family"]) in spans}, key=lambda f: _where(f, tokens))
    other = [f for f in fams if _suffix(f, tokens)]  # 'RTX 3090 Ti', 'TPU v4 lite': another product
    if other:
        raise unknown(f"hardware (not {other[0]}: a different product)", name, known, "see 'wattprint hardware'")
    if not fams:
        near = closest(k, known) + [n for t in tokens for n in closest(t, known)]
        listed = ", ".join(list(dict.fromkeys(near))[:5])
        raise UsageError(f"unknown hardware {shown(name)}; " + (f"closest: {listed}" if listed else "nothing close")
                         + " (see 'wattprint hardware' for the list)")
    if len(fams) > 1:
        specs = {(r["tdp_w"], r["memory_gb"]) for r in rows if r["family"] in fams}
        if len(specs) > 1:
            raise UsageError(f"hardware {shown(name)} names {' and '.join(fams)}; pass {opt('hardware')} with one")
    family = [r for r in rows if r["family"] == fams[0]]
    kept, unmatched = _variant(family, tokens)
    row = kept[0]  # a family's first row is its data-centre (SXM) variant
    note = []
    if len(fams) > 1:
        note.append(f"names {' and '.join(fams)} (same power and memory)")
    if unmatched:
        note.append(f"no {fams[0]} row with {', '.join(unmatched)}")
    if len(kept) > 1:
        note.append(f"could be {' or '.join(r['model'] for r in kept)}")
    if note:
        text = (f"hardware {str(name)!r} resolved to {row['model']}, but only the family ({fams[0]}) is certain: "
                + "; ".join(note))
        return _spec(row, str(name), text + mig, family=True)
    if mig:
        return _spec(row, str(name), f"hardware {str(name)!r} resolved to {row['model']}{mig}")
    return _spec(row, str(name))


def hardware_list(query: str | None = None) -> list[dict]:
    if query and not norm(query):
        return []
    q = norm(query) if query else ""
    k = _strip_brand(query) if query else ""  # '' when the query is only a brand: match on vendor
    return [_spec(r) for r in table("accelerators.csv")
            if not q or q == norm(r["vendor"])
            or (k and (k in _strip_brand(r["model"]) or k in _strip_brand(r["family"])))]


def embodied_for(spec: dict) -> tuple[Factor, float] | None:
    """``datasets.embodied_for`` of a spec's model, per device as drivers count them (a dual-GPU card split)."""
    found = datasets.embodied_for(spec["model"])
    n = spec.get("devices_per_board")
    if found is None or not n:
        return found
    dev, life = found
    return replace(dev, value=dev.value / n, note=f"{dev.note}; per device: card / {n}"), life


# ---------------------------------------------------------------- prices

def _prices() -> str:
    return f"{opt('price_low')}/{opt('price_high')}"


def price_tables() -> list[str]:
    return sorted({r["table"] for r in table("prices.csv")})


_UNIT_WORD = {"gpu": "GPU", "gpu-chip": "GPU chip (half a dual-GPU board)", "board": "dual-GPU board",
              "tpu-device": "Cloud TPU device", "chip": "chip"}


def latest_table(provider: str) -> str | None:
    """The newest price table of a provider ('aws', 'azure', 'gcp'), or None."""
    dated = sorted((r["date"], r["table"]) for r in table("prices.csv") if r["provider"] == provider)
    return dated[-1][1] if dated else None


def price_row(table_name: str, spec: dict) -> tuple[dict, str]:
    """The price row of a table for an accelerator spec, and a note when it is not the exact variant.

    Rows naming the exact model come first; then rows for the whole family (no model); then the
    family's other variants, same memory first, then same form factor. Among those, the largest
    instance (in counted devices) is used: its price per device carries the least host overhead.
    """
    if table_name not in price_tables():
        raise unknown("price table", table_name, price_tables(), f"or pass {_prices()}")
    rows = [r for r in table("prices.csv") if r["table"] == table_name]
    hits = [r for r in rows if norm(r["hardware"]) == norm(spec["family"])]
    if not hits:
        raise unknown(f"hardware in price table {table_name}", spec["model"], [r["hardware"] for r in rows],
                      f"pass {_prices()}")
    note = ""
    exact = [r for r in hits if r["model"] == spec["model"]] or [r for r in hits if not r["model"]]
    if not exact:
        by_model = {r["model"]: hardware(r["model"]) for r in hits}
        same = [r for r in hits if by_model[r["model"]]["memory_gb"] == spec["memory_gb"]] or \
            [r for r in hits if by_model[r["model"]]["form_factor"][:3] == spec["form_factor"][:3]] or hits
        exact = same
        note = (f"no {spec['model']} price in {table_name}: priced as {exact[0]['model']} "
                f"({', '.join(sorted({r['instance'] for r in exact}))})")
    best = max(exact, key=lambda r: int(r["units_per_instance"] or 1) * int(r["counted_per_unit"] or 1))
    return best, note


def price(table_name: str, hardware_name: str) -> tuple[float | None, float, Factor]:
    """(low, high) USD per counted device-hour (a GPU as NVML counts it; for TPUs, a chip) for
    hardware in a price table; low is pre-emptible/spot (may be None). Rows priced per board or per
    Cloud TPU device are divided by the devices they hold (``counted_per_unit``)."""
    spec = hardware(hardware_name)
    r, note = price_row(table_name, spec)
    per = int(r["counted_per_unit"] or 1)
    low = _num(r["preemptible_usd_per_unit_hour"])
    high = float(r["on_demand_usd_per_unit_hour"])
    counted = "chip" if r["unit"] in ("tpu-device", "chip") else "GPU"
    unit_note = f"priced per {_UNIT_WORD.get(r['unit'], r['unit'])}"
    if per != 1:
        unit_note += f" ({per} {counted}s): {high:g} / {per} = {high / per:g} USD per {counted}-hour"
        low, high = (low / per if low is not None else None), high / per
    f = Factor(high, f"USD/{counted}-hour", r["source"], "", year_of(r["date"]), None,
               note="; ".join(x for x in ((f"{r['instance']} " if r["instance"] else "") + f"priced {r['date']}",
                                          unit_note, note, r["note"]) if x),
               name=f"{table_name}:{r['model'] or r['hardware']}")
    return low, high, f


def cloud_price(prices, cloud, spec: dict | None) -> tuple[tuple | None, list[str]]:
    """((low, high, Factor) or None, notes) for a price table named by ``prices`` or, when none is,
    the latest table of ``cloud``'s provider. A provider with no price for the hardware is a note,
    not an error; prices of another provider or region than ``cloud`` are priced and warned about."""
    given = prices not in (None, "")
    provider, region = split_cloud(cloud) if cloud not in (None, "") else (None, None)
    name = str(prices) if given else latest_table(provider) if provider else None
    if name is None:
        return None, ([f"no price table for {provider}: cloud cost not computed; pass {_prices()}"]
                      if provider else [])
    if spec is None:
        if given:
            raise UsageError(f"price table {prices!r} needs {opt('hardware')} to pick a row")
        return None, [f"cloud cost not computed: pass {opt('hardware')} to price it from {name} ({provider}'s latest table)"]
    try:
        found = price(name, spec["model"])
    except UsageError:
        if given:
            raise
        return None, [f"no price for {spec['model']} in {name} ({provider}'s latest table): cloud cost not "
                      f"computed; pass {_prices()}"]
    notes = [] if given else [f"prices from {name}, the latest {provider} table (no {opt('prices')} given)"]
    if provider:
        t = next(r for r in table("prices.csv") if r["table"] == name)
        if t["provider"] != provider:
            notes.append(f"warning: price table {name} holds {t['provider']} prices ({t['region']}) but the cloud "
                         f"is {provider}:{region}: the cost is what {t['provider']} charged, not {provider}")
        elif norm(t["region"]) != norm(region):
            notes.append(f"prices in {name} are for {t['region']}; {region} may differ")
    return found, notes
