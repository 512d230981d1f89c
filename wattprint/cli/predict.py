"""``wattprint predict RUN [--total N]``: a stored or running run's predicted totals."""
from __future__ import annotations

from ..errors import UsageError
from ..units import MAX_WORK, positive_or_none
from ._common import add_json, add_store, open_store
from ._output import print_json, say


def add_arguments(p, name) -> None:
    p.add_argument("run_id", metavar="RUN", help="run id (or a unique prefix)")
    p.add_argument("--total", metavar="N",
                   help="total work, if the run was not given one (or to ask 'what if')")
    add_store(p)
    add_json(p)


def run(args) -> int:
    total = positive_or_none("--total", args.total)
    if total is not None and total > MAX_WORK:
        raise UsageError(f"--total: {total:g} is more than {MAX_WORK:g}, the most wattprint accepts (a billion "
                         "billion units of work); check the value")
    store = open_store(args)
    rec = store.get_run(args.run_id)
    from ..predict import predict_stored

    p = predict_stored(store, rec, total)
    if args.json:
        out = {"run": rec.id, "status": rec.status, "measured_kwh": rec.energy_kwh,
               "prediction": p.as_dict(),
               "history": [d for _, d in store.predictions(rec.key)]}
        print_json(out)
        return 0
    say(text(rec, p))
    return 0


def text(rec, p) -> str:
    from ..units import fmt_duration, fmt_energy, fmt_mass

    lines = [f"run {rec.id} ({rec.status}), measured so far {fmt_energy(rec.energy_kwh)} "
             f"in {fmt_duration(rec.duration_s or 0.0)}"]
    if p.energy_kwh is None:
        lines.append("no prediction: " + "; ".join(p.problems + p.reasons))
        return "\n".join(lines)
    unit = f" {p.unit}" if p.unit else ""
    lines.append(f"progress    {p.done:g}/{p.total:g}{unit} ({p.fraction_done * 100:.1f} %)")
    lines.append(f"energy      {fmt_energy(p.energy_kwh)} "
                 f"(range {fmt_energy(p.energy_kwh_low)} - {fmt_energy(p.energy_kwh_high)}), IT side")
    lines.append(f"duration    {fmt_duration(p.duration_s)} "
                 f"(range {fmt_duration(p.duration_s_low)} - {fmt_duration(p.duration_s_high)})")
    if p.co2e_kg is not None:
        lines.append(f"CO2e        {fmt_mass(p.co2e_kg)} "
                     f"(range {fmt_mass(p.co2e_kg_low)} - {fmt_mass(p.co2e_kg_high)}), PUE {p.pue:g}")
    if p.cost_usd is not None:
        lines.append(f"cost        ${p.cost_usd:,.2f} (range ${p.cost_usd_low:,.2f} - ${p.cost_usd_high:,.2f})")
    if p.kwh_per_unit is not None:
        warm = (f" after {p.warmup_done:g}{unit}{'' if p.warmup_done == 1 else 's'} of warm-up ({fmt_duration(p.warmup_s)}) left out"
                if p.warmup_done else "")
        lines.append(f"rate        {fmt_energy(p.kwh_per_unit)} and {p.seconds_per_unit:.3g} s "
                     f"per{unit or ' unit'}{warm}, over {p.segments} steady segments")
    if rec.status != "running" and p.fraction_done < 1:
        lines.append(f"note        the run ended ({rec.status}) at {p.fraction_done * 100:.0f} % of its "
                     "total: the totals above are what the whole would have taken")
    lines.append("reliable    yes" if p.reliable else
                 "reliable    no: " + "; ".join(p.problems + p.reasons))
    return "\n".join(lines)
