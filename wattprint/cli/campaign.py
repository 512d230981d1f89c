"""``wattprint campaign [--project P] [--tag T] [--since DATE] [--json]``."""
from __future__ import annotations

from ..errors import UsageError
from ..units import shown
from ._common import add_json, add_store, open_store
from ._output import print_json, say


def add_arguments(p, name) -> None:
    p.add_argument("--project", "-p", help="only runs of this project")
    p.add_argument("--tag", "-t", help="only runs with this tag")
    p.add_argument("--since", metavar="DATE",
                   help="only runs started since DATE (2026-01-31, 2026-01-31T12:00) or an age (7d, 12h)")
    add_store(p)
    add_json(p)
    p.epilog = ("Levels follow Strubell et al. 2019, Table 4: runs tagged 'final' are the final model, "
                "'tuning'/'sweep'/'hpo' the tuning sweep, all others experimentation; the whole R&D is "
                "every run. GPU-hours = GPU domains x run duration.")


def _usd(low, high) -> str:
    from .. import fmt

    return "-" if high is None else fmt.usd(low, high)


def since_time(text: str) -> float:
    """``--since`` as epoch seconds; a date no clock holds (year 1, year 9999 in some zones) is a
    UsageError, not a crash."""
    from ..campaign import parse_since

    try:
        return parse_since(text)
    except UsageError:
        raise
    except (ValueError, OverflowError, OSError) as e:
        raise UsageError(f"--since {shown(text)}: not a time this machine can count from ({e}); "
                         "give a date such as 2026-01-31 or an age such as 7d") from None


def run(args) -> int:
    from ..campaign import account

    since = since_time(args.since) if args.since else None
    store = open_store(args)
    runs = store.run_lines(project=args.project, tag=args.tag, since=since)
    if not runs:
        what = [f"project {args.project!r}" if args.project else "",
                f"tag {args.tag!r}" if args.tag else "", f"since {args.since}" if args.since else ""]
        what = " and ".join(w for w in what if w)
        raise UsageError(f"no runs in {store.path}" + (f" match {what}" if what else " (the store is empty)")
                         + "; 'wattprint runs' lists the stored runs")
    acc = account(runs)
    if args.json:
        acc["filters"] = {"project": args.project, "tag": args.tag, "since": args.since, "store": store.path}
        print_json(acc)
        return 0
    from .. import fmt

    # one unit per column: chosen from the whole R&D's figures, the largest in each
    tot = acc["levels"][-1]
    E = fmt.energy_scale(tot["energy_kwh"], tot["energy_kwh_it"])
    M = fmt.mass_scale(tot["co2e_kg"]) if tot["co2e_kg"] is not None else fmt.mass_scale(0.0)
    n = acc["runs"]
    head = "campaign" + (f" {args.project}" if args.project else "") + f": {fmt.count(n)} run{'s' * (n != 1)}"
    say(head)
    say(f"  {'':<31} {'RUNS':>7} {'GPU-h':>9} {'HOST-h':>9} {'IT ' + E.unit:>10} {'ENERGY ' + E.unit:>10} "
        f"{'CO2e ' + M.unit:>10} {'CLOUD COST':>14} {'ELECTRICITY':>11}")
    for lv in acc["levels"]:
        co2 = M.number(lv["co2e_kg"]) if lv["co2e_kg"] is not None else "-"
        if lv["co2e_kg"] is not None and lv["co2e_runs"] < lv["runs"]:
            co2 += "*"
        elec = fmt.usd(lv["electricity_cost_usd"]) if lv["electricity_cost_usd"] is not None else "-"
        say(f"  {lv['label']:<31} {fmt.count(lv['runs']):>7} {fmt.plain(lv['gpu_hours']):>9} {fmt.plain(lv['host_hours']):>9} "
            f"{E.number(lv['energy_kwh_it']):>10} {E.number(lv['energy_kwh']):>10} {co2:>10} "
            f"{_usd(lv['cost_usd_low'], lv['cost_usd_high']):>14} {elec:>11}")
    if acc["final_share_of_energy"] is not None:
        say(f"  the final model is {acc['final_share_of_energy'] * 100:.1f} % of the whole R&D's energy")
    say("  GPU-h: GPU domains x run duration; ENERGY includes PUE; * CO2e covers only runs with a location; "
        "'wattprint report --project P' writes this as a report (HTML, Markdown, LaTeX)")
    for n in acc["notes"]:
        say(f"  note: {n}")
    return 0
