"""A plan as plain data for people: the ranked rows both the terminal table and the HTML page show,
and the terminal text itself. One unit per quantity per view (fmt), ranges as ``low - high``."""
from __future__ import annotations

from .. import fmt

MARK_WORDS = {"cleanest": "cleanest", "cheapest": "cheapest", "fastest": "fastest"}
FLOP_UNITS = ((1e24, "yottaFLOP"), (1e21, "zettaFLOP"), (1e18, "exaFLOP"), (1e15, "petaFLOP"), (1e12, "teraFLOP"))


def big(x: float) -> str:
    """``fmt.plain`` for counts past 2**53, where a float's digits show (8.4e22 is not
    83,999,999,999,999,991,611,392 but 84,000,000,000,000,000,000,000)."""
    if x < 1e15:
        return fmt.plain(x)
    mag = len(str(int(x))) - 1
    head = round(x / 10 ** (mag - 2))
    return f"{int(str(head) + '0' * (mag - 2)):,}"


def flops_text(f: float) -> str:
    for size, unit in FLOP_UNITS:
        if f >= size:
            return f"{big(f)} FLOP ({fmt.plain(f / size)} {unit})"
    return f"{big(f)} FLOP"


def order(p) -> list[int]:
    """Option indices, best first: by CO2e, else cloud cost, else wall time (middle of each range)."""
    def key(i):
        o = p.options[i]
        return tuple(o[q] if o.get(q) is not None else float("inf") for q in ("co2e_kg", "cost_usd", "wall_hours"))
    return sorted(range(len(p.options)), key=key)


def shown_rows(p, top: int | None) -> tuple[list[int], int]:
    """(indices to show, how many left out): the best ``top``, plus the first named and marked ones."""
    ranked = order(p)
    if top is None or len(ranked) <= top:
        return ranked, 0
    keep = set(ranked[:top]) | {0} | set(p.marks.values()) | {s["worst"] for s in p.savings.values()}
    rows = [i for i in ranked if i in keep]
    return rows, len(ranked) - len(rows)


def scales(p, rows: list[int]) -> dict:
    opts = [p.options[i] for i in rows]

    def vals(q):
        return [o[f"{q}_{e}"] for o in opts for e in ("low", "high") if o.get(f"{q}_{e}") is not None]
    long_ = max(vals("wall_hours") or [0]) >= 48
    return {"energy": fmt.energy_scale(vals("energy_kwh")), "mass": fmt.mass_scale(vals("co2e_kg") + vals("embodied_kg")),
            "wall": (24.0, "days") if long_ else (1.0, "hours")}


def cells(p, i: int, sc: dict) -> dict:
    """One option's cells as text, in the view's units."""
    o = p.options[i]
    w, wu = sc["wall"]
    marks = [m for m, j in p.marks.items() if j == i]
    if i == 0 and len(p.options) > 1:
        marks.append("first named")

    def rng(s, q):
        lo, hi = o.get(f"{q}_low"), o.get(f"{q}_high")
        return "n/a" if lo is None or hi is None else f"{s.number(lo)} - {s.number(hi)}"
    return {"option": f"{o['hardware']} x {o['count']:,}" + (f", {o['location']}" if o["location"] else ""),
            "device_hours": f"{fmt.plain(o['device_hours_low'])} - {fmt.plain(o['device_hours_high'])}",
            "wall": f"{fmt.plain(o['wall_hours_low'] / w)} - {fmt.plain(o['wall_hours_high'] / w)}",
            "energy": rng(sc["energy"], "energy_kwh"), "co2e": rng(sc["mass"], "co2e_kg"),
            "net": rng(sc["mass"], "co2e_net_kg") if o.get("co2e_net_kg") is not None else "",
            "cost": fmt.usd(o["cost_usd_low"], o["cost_usd_high"]) if o.get("cost_usd_high") is not None else "n/a",
            "embodied": rng(sc["mass"], "embodied_kg"), "marks": ", ".join(marks), "mfu":
            f"{o['mfu_low']:.0%} - {o['mfu_high']:.0%}"}


def headers(sc: dict) -> dict:
    return {"option": "option (hardware x devices, where)", "device_hours": "device-hours", "mfu": "MFU",
            "wall": f"wall ({sc['wall'][1]})", "energy": f"energy ({sc['energy'].unit})",
            "co2e": f"CO2e ({sc['mass'].unit})", "net": f"net CO2e ({sc['mass'].unit})",
            "cost": "cloud cost (USD)", "embodied": f"embodied ({sc['mass'].unit})", "marks": ""}


def verdicts(p) -> list[str]:
    """'cleanest: X; saves Y against the worst (Z)' lines."""
    out = []
    for mark in ("cleanest", "cheapest", "fastest"):
        if mark not in p.marks:
            continue
        o = p.options[p.marks[mark]]
        line = f"{mark}: {name_of(o)}"
        s = p.savings.get(mark)
        if s:
            worst = p.options[s["worst"]]
            saved = {"co2e_kg": lambda x: f"{fmt.mass(x)} CO2e", "cost_usd": lambda x: f"{fmt.usd(x)}",
                     "wall_hours": lambda x: fmt.duration(x * 3600)}[s["quantity"]](s["saves"])
            per = " over the campaign" if p.trials != 1 and s["quantity"] != "wall_hours" else ""
            line += f"; saves {saved} ({fmt.plain(s['share'] * 100)} %){per} against the worst, {name_of(worst)}"
        out.append(line)
    return out


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else fmt.plain(x)


def name_of(o) -> str:
    return f"{o['hardware']} x {o['count']:,}" + (f" at {o['location']}" if o["location"] else "")


def source_lines(p, rows: list[int]) -> list[str]:
    """Each input's source once (work rule, peaks, MFU ends, power, host, PUE, grids, prices,
    embodied) for the first named and the marked options and the best of ``rows``."""
    rows = list(dict.fromkeys([0] + list(p.marks.values()) + rows[:3]))
    seen, out = set(), []
    for s in p.sources + [s for i in rows for s in p.options[i]["sources"]]:
        key = (s["factor"], s.get("name"), s["source"])
        if key in seen:
            continue
        seen.add(key)
        name = f" {s['name']}" if s.get("name") else ""
        year = f", {s['year']}" if s.get("year") else ""
        value = _num(s["value"]) if isinstance(s.get("value"), (int, float)) else s.get("value")
        out.append(f"{s['factor']}{name}: {value} {s['unit']} ({s['source']}{year})")
    return out


def render(p, top: int | None = 10) -> str:
    rows, left = shown_rows(p, top)
    sc = scales(p, rows)
    head = headers(sc)
    cols = [c for c in ("option", "device_hours", "mfu", "wall", "energy", "co2e", "net", "cost", "embodied", "marks")
            if c != "net" or any(p.options[i].get("co2e_net_kg") is not None for i in rows)]
    table = [head] + [cells(p, i, sc) for i in rows]
    width = {c: max(len(r[c]) for r in table) for c in cols}
    lines = [work_line(p), ""]
    for n, r in enumerate(table):
        rank = "#" if n == 0 else str(n)
        lines.append(f"{rank:>3}  " + "  ".join(r[c].ljust(width[c]) if c == "option" else r[c].rjust(width[c])
                                               for c in cols).rstrip())
    if left:
        lines.append(f"     ... {left} more options ranked lower ({fmt.either(python='as_dict()', cli='--json')} "
                     "lists them all)")
    lines.append("")
    lines += verdicts(p)
    if p.trials != 1:
        lines.append(campaign_line(p))
    lines += ["", "how: device-hours = FLOPs / (peak x MFU); energy = device-hours x device power (typical training "
              "draw to TDP) + node-hours x host power, x PUE; each range pairs its low ends and its high ends", "sources:"]
    lines += ["  " + s for s in source_lines(p, rows)]
    notes = list(dict.fromkeys(p.notes + [n for i in rows for n in p.options[i]["notes"]]))
    if notes:
        lines.append("notes:")
        lines += ["  " + n for n in notes[:12]]
        if len(notes) > 12:
            lines.append(f"  ... {len(notes) - 12} more notes ({fmt.either(python='as_dict()', cli='--json')})")
    return "\n".join(lines)


def work_line(p) -> str:
    if p.flops is None:
        return f"work: {p.work['basis']}"
    return f"work: {p.work['basis']} = {flops_text(p.flops)}"


def campaign_line(p) -> str:
    i = p.marks.get("cleanest", 0)
    o = p.options[i]
    c = o["campaign"]
    basis = f" ({p.trials_basis})" if p.trials_basis and p.trials_basis != "given" else ""
    co2 = (f", CO2e {fmt.mass_scale(c['co2e_kg_low'], c['co2e_kg_high']).range(c['co2e_kg_low'], c['co2e_kg_high'])}"
           if c["co2e_kg_low"] is not None else "")
    cost = f", cost {fmt.usd(c['cost_usd_low'], c['cost_usd_high'])}" if c["cost_usd_high"] is not None else ""
    es = fmt.energy_scale(c["energy_kwh_low"], c["energy_kwh_high"])
    return (f"the campaign, {_num(p.trials)} trainings{basis}, on {name_of(o)}: energy "
            f"{es.range(c['energy_kwh_low'], c['energy_kwh_high'])}{co2}{cost}")
