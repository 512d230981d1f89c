"""One self-contained, offline HTML report: inline CSS and SVG, no script, no external request.

A Content-Security-Policy meta tag forbids the page from loading anything at all, so even a
mistake here cannot make a browser fetch from the network. All user text is escaped.

The page answers first and explains after: a headline card (energy, CO2e, cost, duration,
measured or modelled), then each run's power over time and its components, then what the same
energy would have emitted elsewhere (one scope), at most three equivalents, and every source.
One unit per quantity for the whole page (``View``), except the windows table, whose small
parts of a run name their own unit in its header; it prints on A4.
"""
from __future__ import annotations

import time
from urllib.parse import urlparse

from .. import fmt
from .._version import __version__
from . import data as D
from .html_run import View, dur, num, section, when
from .svg import bar_chart, esc

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;
max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0 12px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;overflow-wrap:anywhere}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.sum td{font-weight:bold;background:#f6f6f6}
.muted{color:#666}.note{color:#8a5a00}code{background:#f3f3f3;padding:0 3px;white-space:nowrap}
svg.plot{display:block;max-width:100%;height:auto;margin:8px 0}
.label-measured{color:#1a7f37}.label-modelled{color:#9a6700}
.card{display:flex;flex-wrap:wrap;gap:10px;border:1px solid #ccc;border-radius:8px;padding:12px 14px;
margin:12px 0 8px;background:#fafafa}
.card .fig{flex:1 1 0;min-width:120px}.card .k{font-size:12px;color:#555;text-transform:uppercase;
letter-spacing:.04em}.card .v{font-size:22px;font-weight:600;white-space:nowrap}
.card .s{font-size:12px;color:#555}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:13px;font-weight:600;color:#fff}
.badge.measured{background:#1a7f37}.badge.modelled{background:#9a6700}.badge.mixed{background:#5a5a9a}
details summary{cursor:pointer;color:#1f4e99}
@page{size:A4;margin:12mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:11px}
h2{break-after:avoid}svg.plot,.card,table.facts,table.domains{break-inside:avoid}
.card{background:none}.card .v{font-size:18px}td,th{padding:2px 5px}a{color:#222;text-decoration:none}}
"""


def _link(url: str | None) -> str:
    """A link only for http(s) URLs; anything else is shown as text."""
    if not url:
        return ""
    if urlparse(str(url)).scheme in ("http", "https"):
        return f'<a href="{esc(url)}" rel="noreferrer noopener">{esc(url)}</a>'
    return esc(url)


def _cost(low, high, elec) -> str:
    parts = []
    if high is not None:
        parts.append("cloud " + fmt.usd(low, high))
    if elec is not None:
        parts.append("electricity " + fmt.usd(elec))
    return "; ".join(parts) or "n/a"


def view_of(runs, tot, compared) -> View:
    """One energy unit and one mass unit for every number on the page."""
    kwh = [tot.energy_kwh, tot.energy_kwh_it]
    kg = [tot.co2e_kg] + [c["co2e_kg"] for c in compared]
    for r in runs:
        kwh += [r.record.energy_kwh] + [p.get("energy_kwh_high") or p.get("energy_kwh")
                                        for _, p in r.predictions if isinstance(p, dict)]
        if r.footprint is not None:
            kwh.append(r.footprint.energy_kwh)
            kg += [r.footprint.co2e_kg, r.footprint.co2e_net_kg]
    num_ = (int, float)
    return View(fmt.energy_scale([v for v in kwh if isinstance(v, num_)]),
                fmt.mass_scale([v for v in kg if isinstance(v, num_)]))


def _badge(runs) -> tuple[str, str]:
    """The measured/modelled badge and the line under it."""
    share = D.share_modelled(runs)
    if share <= 0:
        return '<span class="badge measured">measured</span>', "by hardware energy counters"
    if share >= 0.999:
        return '<span class="badge modelled">modelled</span>', "no energy counter: a power model"
    word = "mostly measured" if share < 0.5 else "mostly modelled"
    return f'<span class="badge mixed">{word}</span>', f"{share * 100:.0f} % of the energy modelled"


def _intensity(runs) -> str:
    """'DE, 342 g/kWh, life-cycle' for one location; 'several locations' otherwise."""
    seen = []
    for r in runs:
        f = next((s for s in (r.footprint.sources if r.footprint else []) if s.get("factor") == "intensity"), None)
        if f is not None:
            text = f"{f.get('name') or 'given'}, {fmt.plain(f['value'])} g/kWh, {D.scope_text(f.get('scope'))}"
            if text not in seen:
                seen.append(text)
    return seen[0] if len(seen) == 1 else (f"{len(seen)} locations" if seen else "")


def _headline(runs, tot, view: View) -> list[str]:
    E, M = view.E, view.M
    pues = sorted({r.footprint.pue for r in runs if r.footprint is not None})
    it = f"IT {E(tot.energy_kwh_it)}" + (f" × PUE {pues[0]:g}" if len(pues) == 1 else "")
    if tot.co2e_kg is None:
        co2, co2_s = "n/a", "no location given"
    else:
        co2 = M(tot.co2e_kg)
        co2_s = _intensity(runs) + (f"; {tot.co2e_runs} of {tot.runs} runs" if tot.co2e_runs < tot.runs else "")
    cost = _cost(tot.cost_usd_low, tot.cost_usd_high, tot.electricity_cost_usd)
    cost_s = "no price or tariff known" if cost == "n/a" else ""
    what = runs[0].record.status if len(runs) == 1 else f"sum of {tot.runs} runs"
    figs = [("energy", E(tot.energy_kwh), it), ("CO2e", co2, co2_s), ("cost", cost, cost_s),
            ("duration", dur(tot.duration_s), what)]
    h = ['<div class="card headline">']
    for k, v, s in figs:
        h.append(f'<div class="fig"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div>'
                 f'<div class="s">{esc(s)}</div></div>')
    badge, said = _badge(runs)
    h.append(f'<div class="fig"><div class="k">how</div><div class="v">{badge}</div>'
             f'<div class="s">{esc(said)}</div></div></div>')
    return h


def _summary_table(runs, tot, view: View) -> list[str]:
    """One row per run, narrow enough for A4: the project is in the subtitle, a status only
    when it is not 'finished', a cost column only when some run has a price."""
    E, M = view.E, view.M
    costs = any(r.footprint is not None and (r.footprint.cost_usd_high is not None
                                             or r.footprint.electricity_cost_usd is not None) for r in runs)
    h = ['<table class="runs"><tr><th>run</th><th>tags</th><th>started (UTC)</th><th class="n">duration</th>'
         f'<th class="n">IT ({E.unit})</th><th class="n">PUE</th><th class="n">energy ({E.unit})</th>'
         f'<th class="n">CO2e ({M.unit})</th>' + ("<th>cost</th>" if costs else "") + "</tr>"]
    for r in runs:
        rec, fp = r.record, r.footprint
        status = "" if rec.status == "finished" else f' <span class="note">{esc(rec.status)}</span>'
        started = time.strftime("%Y-%m-%d %H:%M", time.gmtime(rec.started_at)) if rec.started_at else "–"
        cost = (f"<td>{esc(_cost(fp.cost_usd_low, fp.cost_usd_high, fp.electricity_cost_usd) if fp else 'n/a')}</td>"
                if costs else "")
        h.append(f"<tr><td><code>{esc(rec.id)}</code>{status}</td><td class=wrap>{esc(', '.join(rec.tags) or '–')}</td>"
                 f"<td>{started}</td>{num(dur(rec.duration_s))}{num(E.number(rec.energy_kwh))}"
                 f"{num(f'{fp.pue:g}' if fp else 'n/a')}{num(E.number(fp.energy_kwh if fp else None))}"
                 f"{num(M.number(fp.co2e_kg if fp else None))}{cost}</tr>")
    if len(runs) > 1:
        partial = tot.co2e_kg is not None and tot.co2e_runs < tot.runs
        co2 = M.number(tot.co2e_kg) + ("*" if partial else "")
        cost = (f"<td>{esc(_cost(tot.cost_usd_low, tot.cost_usd_high, tot.electricity_cost_usd))}</td>"
                if costs else "")
        h.append(f"<tr class=sum><td>sum of {tot.runs} runs</td><td></td><td></td>"
                 f"{num(dur(tot.duration_s))}{num(E.number(tot.energy_kwh_it))}<td></td>"
                 f"{num(E.number(tot.energy_kwh))}{num(co2)}{cost}</tr>")
    h.append("</table>")
    if len(runs) > 1 and partial:
        h.append(f'<p class="muted">* CO2e of the {tot.co2e_runs} of {tot.runs} runs with a location; '
                 "the others have energy only.</p>")
    return h


def _regions(runs, tot, rows, view: View) -> list[str]:
    if not rows:
        return []
    M = view.M
    scope = rows[0]["scope"]
    bars = [(r["name"], r["co2e_kg"] / M.size) for r in rows]
    mine = None
    own = {s.get("scope") for r in runs for s in (r.footprint.sources if r.footprint else [])
           if s.get("factor") == "intensity"}
    if tot.co2e_kg is not None and tot.co2e_runs == tot.runs and own == {scope}:
        mine = "this run" if tot.runs == 1 else "these runs"
        bars.insert(0, (mine, tot.co2e_kg / M.size))
    h = ["<h2>Had you trained elsewhere</h2>",
         f"<p>The same energy ({esc(view.E(tot.energy_kwh))}, PUE included) on other grids, every factor "
         f"{esc(D.scope_text(scope, long=True))}.</p>"]
    if mine is None and tot.co2e_kg is not None:
        h.append('<p class="muted">This run\'s own factor has another scope, so it is not drawn beside them.</p>')
    h.append(bar_chart(bars, title=f"CO2e of the same energy on other grids ({M.unit})", unit=M.unit,
                       css_class="plot regions", highlight=mine))
    h.append(f'<table class="regions"><tr><th>grid</th><th class="n">g/kWh</th><th class="n">CO2e ({M.unit})</th>'
             "<th>source</th></tr>")
    for r in rows:
        h.append(f"<tr><td class=wrap>{esc(r['name'])}</td>{num(fmt.plain(r['intensity_g_per_kwh']))}"
                 f"{num(M.number(r['co2e_kg']))}<td class=wrap>{esc(r['source'])}"
                 f"{', ' + esc(r['year']) if r['year'] else ''}</td></tr>")
    h.append("</table>")
    return h


def _equivalents(tot, view: View) -> list[str]:
    eq = D.equivalents(tot.co2e_kg, tot.energy_kwh)[:3]
    if not eq:
        return []
    h = ["<h2>Equivalents</h2>", f"<p>{esc(view.M(tot.co2e_kg))} CO2e is about:</p>",
         '<table class="equivalents"><tr><th class="n">about</th><th>item</th><th>source</th>'
         "</tr>"]
    for e in eq:
        h.append(f"<tr><td class=n>{esc(e['text'])}</td><td class=wrap>{esc(e['name'])}</td>"
                 f"<td class=wrap>{esc(D.source_text(e))}</td></tr>")
    h.append("</table>")
    return h


def _sources(runs, compared) -> list[str]:
    src = D.sources(runs, compared)
    h = ["<h2>Sources of every factor</h2>"]
    if not src:
        return h + ["<p>No factors were used (no location given): energy only.</p>"]
    h.append('<table class="sources"><tr><th>factor</th><th>for</th><th class="n">value</th><th>source</th>'
             "<th>year</th><th>link</th></tr>")
    for s in src:
        value = fmt.plain(s["value"]) if isinstance(s.get("value"), (int, float)) else str(s.get("value") or "")
        h.append(f"<tr><td>{esc(s.get('factor', ''))}</td><td class=wrap>{esc(s.get('name') or '')}</td>"
                 f"{num((value + ' ' + (s.get('unit') or '')).strip())}"
                 f"<td class=wrap>{esc(s.get('source') or '')}"
                 f"{'<br><span class=muted>' + esc(s['note']) + '</span>' if s.get('note') else ''}</td>"
                 f"<td>{esc(s.get('year') or '')}</td><td class=wrap>{_link(s.get('url'))}</td></tr>")
    h.append("</table>")
    return h


def _method(runs) -> list[str]:
    measured, modelled = D.measured_modelled(runs)
    h = ["<h2>How it was measured</h2><ul>"]
    for d in measured:
        h.append(f'<li><span class="label-measured">measured</span> {esc(d.kind)}: {esc(d.method)}</li>')
    for d in modelled:
        h.append(f'<li><span class="label-modelled">modelled</span> {esc(d.kind)}: {esc(d.method)}</li>')
    if not measured and not modelled:
        h.append("<li>nothing was measured</li>")
    h.append("</ul>")
    return h


def page(title: str, body: list[str]) -> str:
    """The page around ``body``: the policy that forbids every fetch, the style sheet, the title."""
    return "\n".join(["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                      f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
                      f"<h1>{esc(title)}</h1>", *body, "</body></html>\n"])


def render(runs: list) -> str:
    """The whole report for one or more loaded runs (``report.data.load``)."""
    tot = D.totals(runs)
    compared = D.regions(tot.energy_kwh)
    view = view_of(runs, tot, compared)
    ids = ", ".join(r.record.id for r in runs)
    title = f"wattprint report: {ids}" if len(runs) <= 3 else f"wattprint report: {len(runs)} runs"
    rec = runs[0].record
    projects = sorted({r.record.project or "–" for r in runs})
    sub = ((f"project {rec.project} · " if rec.project else "no project · ")
           + f"{rec.host or 'host unknown'} · started {when(rec.started_at)}"
           if len(runs) == 1 else f"{len(runs)} runs · project{'s' if len(projects) > 1 else ''} "
           + ", ".join(projects))
    h = [f'<p class="muted">{esc(sub)}</p>']
    h += _headline(runs, tot, view)
    if len(runs) > 1:
        h += ["<h2>Runs</h2>"] + _summary_table(runs, tot, view)
    for r in runs:
        h += section(r, view)
    h += _regions(runs, tot, compared, view)
    h += _equivalents(tot, view)
    h += _method(runs)
    h += _sources(runs, compared)
    h.append(f'<p class="muted">Written by wattprint {esc(__version__)} on {when(time.time())}. Energy is what '
             "the meters read (IT side); PUE adds the data centre's overhead; CO2e is energy × grid carbon "
             "intensity (Strubell, Ganesh &amp; McCallum 2019).</p>")
    return page(title, h)
