"""The short human summary printed at the end of ``wattprint run`` / ``track()`` and by ``wattprint show``.

One unit per quantity: every energy (domains, total, with PUE, prediction) shares one unit
chosen from the largest; every CO2e one mass unit; every power one power unit. Sources stay on
the line they support, cut to their name and year (the report has them in full).
"""
from __future__ import annotations

from .. import fmt
from ..units import J_PER_KWH, printable
from .data import scope_text, source_text


def _source(s: dict | None) -> str:
    return source_text(s, unknown="")


def short_source(s: dict | None) -> str:
    """'US EPA Greenhouse Gas Equivalencies Calculator, 2024': a source's name and year, without
    the detail after its first colon or parenthesis (the HTML report shows it whole)."""
    if not s:
        return ""
    text = str(s.get("source") or "")
    for cut in (": ", " ("):
        if cut in text:
            text = text.split(cut, 1)[0]
    text = text.strip() or "source unknown"
    if s.get("year") and str(s["year"]) not in text:
        text += f", {s['year']}"
    return text
def _stored_prediction(record, store):
    """The first reliable prediction made before the work was done (else the last such one) and
    the energy the work took (IT kWh at the last progress report, if it reached the total)."""

    own = None
    try:
        if store is None:
            from ..store import open_store

            store = own = open_store(create=False)
            if store.get_run(record.id).key != record.key:
                return None, None
        # A prediction made when the work was done tells nothing: compare the earlier ones.
        preds = [d for _, d in store.predictions(record.key)
                 if d.get("energy_kwh") is not None and (d.get("fraction_done") or 0) < 0.999]
        first = next((d for d in preds if d.get("reliable")), None)
        progress = store.progress(record.key)
        # the work is complete only when the last report reached the total
        done = bool(progress) and progress[-1][2] is not None and progress[-1][1] >= progress[-1][2]
        work_kwh = progress[-1][3] / J_PER_KWH if done else None
        return first or (preds[-1] if preds else None), work_kwh
    except Exception:  # a summary never fails for want of a prediction
        return None, None
    finally:
        if own is not None:
            own.close()


def _footprint_lines(fp, E, M) -> list[str]:
    lines = []
    pue = next((s for s in fp.sources if s.get("factor") == "pue"), None)
    lines.append(f"  energy with PUE {fp.pue:g}: {E(fp.energy_kwh)}"
                 + (f"  (PUE: {_source(pue)})" if pue else ""))
    if fp.co2e_kg is not None:
        ci = next((s for s in fp.sources if s.get("factor") == "intensity"), None)
        where = (f"{ci.get('name') or 'given'} at {fmt.plain(ci['value'])} g/kWh, {scope_text(ci.get('scope'))}, "
                 f"{short_source(ci)}") if ci else ""
        lines.append(f"  CO2e: {M(fp.co2e_kg)}" + (f"  ({where})" if where else ""))
        if fp.co2e_net_kg is not None:
            lines.append(f"  CO2e net (market-based): {M(fp.co2e_net_kg)}")
    if fp.cost_usd_high is not None:
        lines.append(f"  cloud cost: {fmt.usd(fp.cost_usd_low, fp.cost_usd_high)}")
    if fp.electricity_cost_usd is not None:
        lines.append(f"  electricity cost: {fmt.usd(fp.electricity_cost_usd)}")
    # At most three equivalents that fit the magnitude, as plain numbers (footprint picks them).
    for e in (fp.equivalents or [])[:3]:
        if e.get("text"):
            lines.append(f"  ≈ {e['text']}  ({short_source(e)})")
    for n in fp.notes:
        lines.append(f"  note: {n}")
    return lines


def _prediction_line(p: dict, work_kwh: float | None, run_kwh: float, E=None) -> str:
    """The prediction against what the predicted work really took: the energy at the last
    progress report, not the whole run (teardown, saving and evaluation after it are no part of
    the work predicted). ``work_kwh`` is None when the work did not reach its total."""
    e = p["energy_kwh"]
    low, high = p.get("energy_kwh_low"), p.get("energy_kwh_high")
    E = E or fmt.energy_scale(e, low, high, run_kwh)
    rng = f" ({E.range(low, high)})" if low is not None and high is not None else ""
    done = p.get("fraction_done")
    at = f" at {done * 100:.0f} %" if done is not None else ""
    kind = "prediction" if p.get("reliable") else "unreliable prediction"
    line = f"  {kind}{at}: {E(e)}{rng}"
    if work_kwh and work_kwh > 0:
        line += f"; the work took {E(work_kwh)} ({(e - work_kwh) / work_kwh * 100:+.1f} %)"
        after = run_kwh - work_kwh
        if after > 0.005 * run_kwh:
            line += f", {E(after)} more after the last progress report"
    return line


def _scales(record, fp, prediction):
    """One energy unit, one mass unit and one power unit for the whole summary."""
    kwh = [record.energy_kwh] + [d.energy_j / J_PER_KWH for d in record.domains]
    kg = []
    if fp is not None:
        kwh.append(getattr(fp, "energy_kwh", None))
        kg += [getattr(fp, "co2e_kg", None), getattr(fp, "co2e_net_kg", None)]
    if prediction:
        kwh += [prediction.get(k) for k in ("energy_kwh", "energy_kwh_low", "energy_kwh_high")]
    watts = [record.avg_power_w] + [d.avg_power_w for d in record.domains]
    num = (int, float)
    return (fmt.energy_scale([v for v in kwh if isinstance(v, num)]),
            fmt.mass_scale([v for v in kg if isinstance(v, num)]),
            fmt.power_scale([v for v in watts if isinstance(v, num)]))


def summary(record, footprint=None, *, prediction: dict | None = None, store=None) -> str:
    """Duration, energy and average power per domain with its measured/modelled label; then,
    when known, energy with PUE, CO2e with the intensity's source and year, cost, equivalents and
    the last prediction (``prediction``, else read from ``store`` or the default store)."""
    work_kwh = None
    if prediction is None:
        prediction, work_kwh = _stored_prediction(record, store)
    if not (prediction and prediction.get("energy_kwh") is not None):
        prediction = None
    E, M, W = _scales(record, footprint, prediction)
    status = record.status + (" (degraded)" if record.degraded else "")
    lines = [f"wattprint: run {record.id} {status} · {fmt.duration(record.duration_s or 0.0)} · "
             f"{E(record.energy_kwh)} · {W(record.avg_power_w)} average"]
    width = max((len(d.name) for d in record.domains), default=4)
    ew = max((len(E(d.energy_j / J_PER_KWH)) for d in record.domains), default=8)
    pw = max((len(W(d.avg_power_w)) for d in record.domains), default=6)
    for d in record.domains:
        inside = "" if d.in_total else "  (inside another domain: not added)"
        lines.append(f"  {d.name:<{width}}  {E(d.energy_j / J_PER_KWH):>{ew}}  {W(d.avg_power_w):>{pw}}  "
                     f"{d.label:<8}  {d.method}{inside}")
    if not record.domains:
        lines.append("  no meters: nothing was measured (see 'wattprint doctor')")
    if footprint is not None:
        try:
            lines += _footprint_lines(footprint, E, M)
        except Exception:  # a footprint from another version must not hide the energy
            pass
    if prediction is not None:
        lines.append(_prediction_line(prediction, work_kwh, record.energy_kwh, E))
    return "\n".join(printable(line) for line in lines)  # ids, names and notes: no raw control
