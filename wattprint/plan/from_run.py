"""Plan from a measured run (the paper's own method): energy and time per unit of work from the
run's stable part (``predict.extrapolate`` finds it and leaves the warm-up out), scaled to the
whole training's work. On other hardware the time scales by the ratio of peak FLOP/s (the same
MFU assumed) and the energy follows from that hardware's power, as for a FLOP-based plan."""
from __future__ import annotations

from .. import datasets_hw
from ..errors import UsageError
from ..predict import extrapolate
from .throughput import peak
from .work import number


def _run_hardware(rec) -> dict | None:
    names = [(rec.location or {}).get("hardware")] + [d.device or d.label for d in rec.domains
                                                       if getattr(d, "kind", "") == "gpu"]
    for n in names:
        if n:
            try:
                return datasets_hw.hardware(n)
            except UsageError:
                continue
    return None


def scaled(rec, rows, total_work) -> dict:
    """The run's work scaled to ``total_work`` units: device-hours and IT energy as ranges."""
    w = number(total_work, "total_work")
    p = extrapolate([(t, d, e) for t, d, _, e in rows], w, unit=rec.unit, resolution_s=rec.interval_s or 0.0)
    if p.energy_kwh is None or p.duration_s is None:
        why = "; ".join(p.problems + p.reasons) or "no progress recorded"
        raise UsageError(f"run {rec.id}: no stable rate to scale ({why}); report progress in the run "
                         "(run.progress(done, total) or --progress) and measure longer")
    gpus = [d for d in rec.domains if getattr(d, "kind", "") == "gpu"]
    n = max(1, len(gpus))
    spec = _run_hardware(rec)
    unit = rec.unit or "units"
    notes = [f"scaled from run {rec.id}: {p.kwh_per_unit * 3.6e6:.4g} J and {p.seconds_per_unit:.4g} s per "
             f"{unit} on its stable part ({p.segments} segments; warm-up {p.warmup_done:g} {unit} left out)"]
    if not p.reliable:
        notes.append(f"run {rec.id}'s rate is not yet reliable: " + "; ".join(p.problems + p.reasons))
    loc = rec.location or {}
    return {"run": rec.id, "hardware": spec["model"] if spec else None, "spec": spec, "devices": n,
            "where": loc.get("cloud") or loc.get("region") or None, "pue": loc.get("pue") or None,
            "device_hours_low": p.duration_s_low * n / 3600.0, "device_hours": p.duration_s * n / 3600.0,
            "device_hours_high": p.duration_s_high * n / 3600.0, "energy_kwh_it_low": p.energy_kwh_low,
            "energy_kwh_it_high": p.energy_kwh_high, "flops": None, "notes": notes,
            "basis": f"run {rec.id} scaled to {w:g} {unit} (measured rate x total work)"}


def on_hardware(fr: dict, spec: dict, precision) -> dict:
    """The scaled run's device-hours (and, on the same hardware, its energy) on ``spec``."""
    run_spec = fr["spec"]
    same = run_spec["model"] == spec["model"]
    out = {"precision": None, "peak_tflops": None, "mfu_low": None, "mfu_high": None, "mfu_basis": "measured run",
           "notes": [], "notes_": [], "sources": [{"factor": "measured_run", "value": fr["run"], "unit": "run",
                                                    "source": fr["basis"], "url": "", "year": None, "name": "",
                                                    "note": "energy and time per unit from the run's stable part"}]}
    ratio = 1.0
    if not same:
        old, _, _ = peak(run_spec, precision)
        new, used, src = peak(spec, precision)
        ratio = old / new
        out.update(precision=used, peak_tflops=new)
        out["sources"].append(src)
        out["notes_"].append(f"{spec['model']}: time scaled from {run_spec['model']} by peak FLOP/s "
                             f"{old:g} / {new:g} (same MFU assumed)")
    for e in ("_low", "", "_high"):
        out[f"device_hours{e}"] = fr[f"device_hours{e}"] * ratio
    if same:
        out["energy_kwh_it_low"], out["energy_kwh_it_high"] = fr["energy_kwh_it_low"], fr["energy_kwh_it_high"]
    return out
