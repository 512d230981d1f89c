"""``wattprint predict RUN [--total N]``: a stored or running run's predicted totals."""
from __future__ import annotations

from ..errors import UsageError
from ..fmt import exact
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
        raise UsageError(f"--total: {exact(total)} is more than {exact(MAX_WORK)}, the most wattprint accepts (a billion "
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


def _count(x) -> str:
    """Work done or to do in plain digits, as a training log writes it: 1000000 not 1e+06."""
    from .. import fmt

    return f"{x:.0f}" if float(x).is_integer() else fmt.plain(x)


def text(rec, p) -> str:
    """One energy unit and one mass unit for every line (issue 12, item 5)."""
    from .. import fmt

    E = fmt.energy_scale([v for v in (rec.energy_kwh, p.energy_kwh, p.energy_kwh_low, p.energy_kwh_high)
                          if v is not None])
    lines = [f"run {rec.id} ({rec.status}), measured so far {E(rec.energy_kwh)} "
             f"in {fmt.duration(rec.duration_s or 0.0)}"]
    if p.energy_kwh is None:
        lines.append("no prediction: " + "; ".join(p.problems + p.reasons))
        return "\n".join(lines)
    unit = f" {p.unit}" if p.unit else ""
    lines.append(f"progress    {_count(p.done)}/{_count(p.total)}{unit} ({p.fraction_done * 100:.1f} %)")
    lines.append(f"energy      {E(p.energy_kwh)} (range {E.range(p.energy_kwh_low, p.energy_kwh_high)}), IT side")
    lines.append(f"duration    {fmt.duration(p.duration_s)} "
                 f"(range {fmt.duration(p.duration_s_low)} - {fmt.duration(p.duration_s_high)})")
    if p.co2e_kg is not None:
        M = fmt.mass_scale([v for v in (p.co2e_kg, p.co2e_kg_low, p.co2e_kg_high) if v is not None])
        lines.append(f"CO2e        {M(p.co2e_kg)} (range {M.range(p.co2e_kg_low, p.co2e_kg_high)}), PUE {p.pue:g}")
    if p.cost_usd is not None:
        lines.append(f"cost        {fmt.usd(p.cost_usd)} (range {fmt.usd(p.cost_usd_low, p.cost_usd_high)})")
    if p.kwh_per_unit is not None:
        warm = (f" after {_count(p.warmup_done)}{unit}{'' if p.warmup_done == 1 else 's'} of warm-up "
                f"({fmt.duration(p.warmup_s)}) left out" if p.warmup_done else "")
        lines.append(f"rate        {fmt.energy(p.kwh_per_unit)} and {fmt.plain(p.seconds_per_unit)} s "
                     f"per{unit or ' unit'}{warm}, over {p.segments} steady segments")
    if rec.status != "running" and p.fraction_done < 1:
        lines.append(f"note        the run ended ({rec.status}) at {p.fraction_done * 100:.0f} % of its "
                     "total: the totals above are what the whole would have taken")
    lines.append("reliable    yes" if p.reliable else
                 "reliable    no: " + "; ".join(p.problems + p.reasons))
    return "\n".join(lines)
