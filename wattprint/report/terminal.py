"""The short human summary printed at the end of ``wattprint run`` / ``track()`` and by ``wattprint show``."""
from __future__ import annotations


from ..units import J_PER_KWH, printable
from ..units import fmt_duration as _fmt_s
from ..units import fmt_energy as _energy
from ..units import fmt_mass as _mass
from .data import scope_text, source_text


def _fmt_j(j: float) -> str:
    return _energy(j / J_PER_KWH)


def _source(s: dict | None) -> str:
    return source_text(s, unknown="")


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


def _footprint_lines(fp) -> list[str]:
    lines = []
    pue = next((s for s in fp.sources if s.get("factor") == "pue"), None)
    lines.append(f"  energy with PUE {fp.pue:g}: {_energy(fp.energy_kwh)}"
                 + (f"  (PUE: {_source(pue)})" if pue else ""))
    if fp.co2e_kg is not None:
        ci = next((s for s in fp.sources if s.get("factor") == "intensity"), None)
        where = (f"{ci.get('name') or 'given'} at {ci['value']:,.0f} g/kWh, {scope_text(ci.get('scope'))}, "
                 f"{_source(ci)}") if ci else ""
        lines.append(f"  CO2e: {_mass(fp.co2e_kg)}" + (f"  ({where})" if where else ""))
        if fp.co2e_net_kg is not None:
            lines.append(f"  CO2e net (market-based): {_mass(fp.co2e_net_kg)}")
    if fp.cost_usd_high is not None:
        low = fp.cost_usd_low if fp.cost_usd_low is not None else fp.cost_usd_high
        rng = f"${fp.cost_usd_high:,.2f}" if low == fp.cost_usd_high else f"${low:,.2f} - ${fp.cost_usd_high:,.2f}"
        lines.append(f"  cloud cost: {rng}")
    if fp.electricity_cost_usd is not None:
        lines.append(f"  electricity cost: ${fp.electricity_cost_usd:,.2f}")
    # At most three equivalents that fit the magnitude, as plain numbers (footprint picks them).
    for e in (fp.equivalents or [])[:3]:
        if e.get("text"):
            lines.append(f"  ≈ {e['text']}  ({_source(e)})")
    for n in fp.notes:
        lines.append(f"  note: {n}")
    return lines


def _prediction_line(p: dict, work_kwh: float | None, run_kwh: float) -> str:
    """The prediction against what the predicted work really took: the energy at the last
    progress report, not the whole run (teardown, saving and evaluation after it are no part of
    the work predicted). ``work_kwh`` is None when the work did not reach its total."""
    e = p["energy_kwh"]
    low, high = p.get("energy_kwh_low"), p.get("energy_kwh_high")
    rng = f" ({_energy(low)} - {_energy(high)})" if low is not None and high is not None else ""
    done = p.get("fraction_done")
    at = f" at {done * 100:.0f} %" if done is not None else ""
    kind = "prediction" if p.get("reliable") else "unreliable prediction"
    line = f"  {kind}{at}: {_energy(e)}{rng}"
    if work_kwh and work_kwh > 0:
        line += f"; the work took {_energy(work_kwh)} ({(e - work_kwh) / work_kwh * 100:+.1f} %)"
        after = run_kwh - work_kwh
        if after > 0.005 * run_kwh:
            line += f", {_energy(after)} more after the last progress report"
    return line


def summary(record, footprint=None, *, prediction: dict | None = None, store=None) -> str:
    """Duration, energy and average power per domain with its measured/modelled label; then,
    when known, energy with PUE, CO2e with the intensity's source and year, cost, equivalents and
    the last prediction (``prediction``, else read from ``store`` or the default store)."""
    status = record.status + (" (degraded)" if record.degraded else "")
    lines = [f"wattprint: run {record.id} {status} · {_fmt_s(record.duration_s)} · "
             f"{_fmt_j(record.energy_j)} · {record.avg_power_w:.1f} W average"]
    width = max((len(d.name) for d in record.domains), default=4)
    for d in record.domains:
        inside = "" if d.in_total else "  (inside another domain: not added)"
        lines.append(f"  {d.name:<{width}}  {_fmt_j(d.energy_j):>12}  {d.avg_power_w:8.1f} W  "
                     f"{d.label:<8}  {d.method}{inside}")
    if not record.domains:
        lines.append("  no meters: nothing was measured (see 'wattprint doctor')")
    if footprint is not None:
        try:
            lines += _footprint_lines(footprint)
        except Exception:  # a footprint from another version must not hide the energy
            pass
    work_kwh = None
    if prediction is None:
        prediction, work_kwh = _stored_prediction(record, store)
    if prediction and prediction.get("energy_kwh") is not None:
        lines.append(_prediction_line(prediction, work_kwh, record.energy_kwh))
    return "\n".join(printable(line) for line in lines)  # ids, names and notes: no raw control
