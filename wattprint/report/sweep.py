"""A sweep's views: the "within X %" sentence, the text table and the HTML page (inline SVG, no script).

They format ``wattprint.sweep.analyse()``'s plain data; nothing is computed here but scales.
"""
from __future__ import annotations

import math

from .. import fmt
from .html import page
from .svg import PALETTE, axes, esc, nice_ticks


def _numbers(nums: list) -> str:
    shown = [f"#{n}" for n in nums[:12]]
    return ", ".join(shown) + (f" and {len(nums) - 12} more" if len(nums) > 12 else "")


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def value(v) -> str:
    """An objective or a param in plain digits (4 significant), without trailing zeros."""
    return "-" if v is None else _trim(fmt.plain(v, 4))


def sentence(data: dict) -> str | None:
    """'the best trial (#7) reached 0.912; reaching within 1 % of it took only trials #0, #1,
    #2, which used 31.4 % of the energy' -- see wattprint.sweep for its meaning."""
    w = data.get("within")
    if not w:
        return None
    n, total = len(w["trials"]), len(data["trials"])
    share = "-" if w["energy_share"] is None else f"{w['energy_share'] * 100:.1f} %"
    only = "only " if n < total else ""
    return (f"the best trial (#{w['best_trial']}) reached {value(w['best_value'])}; reaching within "
            f"{_trim(fmt.plain(w['within_pct'], 3))} % of it took {only}trials {_numbers(w['trials'])} "
            f"({n} of {total}), which used {share} of the energy")


def text_lines(data: dict) -> list[str]:
    trials = data["trials"]
    E = fmt.energy_scale(*(t["energy_kwh"] for t in trials), data["total_energy_kwh"])
    masses = [t["co2e_kg"] for t in trials if t["co2e_kg"] is not None]
    M = fmt.mass_scale(*(masses or [0.0]))
    front = set(data["pareto_run_ids"])
    title = ", ".join(s for s in data["studies"] if s) or "sweep"
    lines = [f"{title}: {len(trials)} trials ({data['direction']}; * on the Pareto front of objective "
             "against energy)",
             f"  {'TRIAL':>6} {'STATE':<9} {'VALUE':>12} {'ENERGY ' + E.unit:>12} {'CO2e ' + M.unit:>11} "
             f"{'COST':>14}  PARAMS"]
    for t in trials:
        mark = "*" if t["run_id"] in front else " "
        co2 = M.number(t["co2e_kg"]) if t["co2e_kg"] is not None else "-"
        cost = fmt.usd(t["cost_usd_low"], t["cost_usd_high"]) if t["cost_usd_high"] is not None else "-"
        params = ", ".join(f"{k}={value(v) if isinstance(v, float) else v}"
                           for k, v in t["params"].items())
        lines.append(f" {mark}{'#' + str(t['number']):>6} {str(t['state'] or '-'):<9} {value(t['value']):>12} "
                     f"{E.number(t['energy_kwh']):>12} {co2:>11} {cost:>14}  {params}")
    tot_co2 = M.number(data["total_co2e_kg"]) if data["total_co2e_kg"] is not None else "-"
    tot_cost = "-" if data["total_cost_usd_high"] is None else fmt.usd(data["total_cost_usd_low"],
                                                                        data["total_cost_usd_high"])
    lines.append(f"  {'total':>6} {'':<9} {'':>12} {E.number(data['total_energy_kwh']):>12} {tot_co2:>11} "
                 f"{tot_cost:>14}")
    s = sentence(data)
    if s:
        lines += ["", "  " + s, "  (the trials listed are those run up to the first within that distance of "
                  "the best, in the order they ran; the share is of the whole sweep's energy)"]
    return lines


def _scatter(data: dict, E, width: int = 760, height: int = 320) -> str:
    """Objective against cumulative energy, each trial a dot; the front's trials filled in red."""
    pts = [t for t in data["trials"] if t["value"] is not None and math.isfinite(t["value"])]
    title = "objective against the sweep's cumulative energy"
    left, right, top, bottom = 70, 16, 28, 62
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    if not pts:
        return "".join(out) + f'<text x="{left}" y="{top + ph / 2:.0f}" font-size="12">no trial has a value</text></svg>'
    xt = nice_ticks(0.0, max(t["cumulative_energy_kwh"] / E.size for t in pts) or 1.0, 6)
    ys = [t["value"] for t in pts]
    yt = nice_ticks(min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1.0)
    grid, sx, sy = axes(xt, yt, (left, top, pw, ph), f"cumulative energy ({E.unit}), trials in the order they ran",
                        f"objective ({data['direction']})", top + ph + 34)
    out += grid
    front = set(data["pareto_run_ids"])
    for t in pts:
        x, y = sx(t["cumulative_energy_kwh"] / E.size), sy(t["value"])
        on = t["run_id"] in front
        style = f'fill="{PALETTE[1]}" r="5"' if on else f'fill="none" stroke="{PALETTE[0]}" r="4"'
        tip = (f"trial #{t['number']}: {value(t['value'])}, {E(t['energy_kwh'])}"
               + (" (Pareto front)" if on else ""))
        out.append(f'<circle class="{"front" if on else "trial"}" cx="{x:.1f}" cy="{y:.1f}" {style}>'
                   f'<title>{esc(tip)}</title></circle>')
    ly = height - 10
    out.append(f'<circle cx="{left + 6}" cy="{ly - 4}" r="5" fill="{PALETTE[1]}"/><text x="{left + 16}" '
               f'y="{ly}" font-size="11">on the Pareto front (objective against the trial\'s own energy)</text>'
               f'<circle cx="{left + 406}" cy="{ly - 4}" r="4" fill="none" stroke="{PALETTE[0]}"/>'
               f'<text x="{left + 416}" y="{ly}" font-size="11">other trials</text></svg>')
    return "".join(out)


def html(data: dict) -> str:
    title = "sweep " + (", ".join(s for s in data["studies"] if s) or "")
    body = []
    s = sentence(data)
    if s:
        body.append(f'<p class="headline">{esc(s[0].upper() + s[1:])}.</p>'
                    "<p>The trials listed are those run up to the first whose objective came within that "
                    "distance of the best (relative to its size), in the order they ran; the share is "
                    "of the whole sweep's energy.</p>")
    E = fmt.energy_scale(*(t["energy_kwh"] for t in data["trials"]), data["total_energy_kwh"])
    M = fmt.mass_scale(*([t["co2e_kg"] for t in data["trials"] if t["co2e_kg"] is not None]
                         + [data["total_co2e_kg"] or 0.0]))
    body.append(_scatter(data, E))
    body.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in
                                       ("trial", "state", "value", "energy", "CO2e", "cost", "params",
                                        "Pareto front", "run")) + "</tr>")
    front = set(data["pareto_run_ids"])
    for t in data["trials"]:
        cells = [f"#{t['number']}", t["state"] or "-", value(t["value"]), E(t["energy_kwh"]),
                 M(t["co2e_kg"]) if t["co2e_kg"] is not None else "-",
                 fmt.usd(t["cost_usd_low"], t["cost_usd_high"]) if t["cost_usd_high"] is not None else "-",
                 ", ".join(f"{k}={value(v) if isinstance(v, float) else v}" for k, v in t["params"].items()),
                 "yes" if t["run_id"] in front else "", t["run_id"]]
        body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    body.append("</table>")
    co2 = M(data["total_co2e_kg"]) if data["total_co2e_kg"] is not None else "unknown (no location)"
    body.append(f"<p>Total: {len(data['trials'])} trials, {esc(E(data['total_energy_kwh']))}, "
                f"{esc(co2)} CO2e.</p>")
    for n in data["notes"]:
        body.append(f"<p class=\"note\">{esc(n)}</p>")
    return page(title.strip(), body)
