"""One self-contained, offline HTML report: inline CSS and SVG, no script, no external request.

A Content-Security-Policy meta tag forbids the page from loading anything at all, so even a
mistake here cannot make a browser fetch from the network. All user text is escaped.
"""
from __future__ import annotations

import time
from urllib.parse import urlparse

from .._version import __version__
from ..units import J_PER_KWH, J_PER_WH
from . import data as D
from .svg import bar_chart, esc, line_chart, time_axis

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;
max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0 12px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.sum td{font-weight:bold;background:#f6f6f6}
.muted{color:#666}.note{color:#8a5a00}code{background:#f3f3f3;padding:0 3px;word-break:break-all}
svg.plot{display:block;max-width:100%;height:auto;margin:8px 0}
.label-measured{color:#1a7f37}.label-modelled{color:#9a6700}
"""


def _f(x, fmt="{:,.3g}", none="n/a") -> str:
    if x is None:
        return none
    return fmt.format(x)


def _kwh(x) -> str:
    from ..units import fmt_energy

    return "n/a" if x is None else fmt_energy(x)


def _kg(x) -> str:
    from ..units import fmt_mass

    return "n/a" if x is None else fmt_mass(x)


def _dur(s) -> str:
    from ..units import fmt_duration

    return fmt_duration(s or 0.0)


def _usd(low, high) -> str:
    if high is None and low is None:
        return "n/a"
    if low is None or low == high:
        return f"${high:,.2f}"
    return f"${low:,.2f} – ${high:,.2f}"


def _link(url: str | None) -> str:
    """A link only for http(s) URLs; anything else is shown as text."""
    if not url:
        return ""
    if urlparse(str(url)).scheme in ("http", "https"):
        return f'<a href="{esc(url)}" rel="noreferrer noopener">{esc(url)}</a>'
    return esc(url)


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "–"


def _cost(fp) -> str:
    if fp is None:
        return "n/a"
    parts = []
    if fp.cost_usd_high is not None:
        parts.append("cloud " + _usd(fp.cost_usd_low, fp.cost_usd_high))
    if fp.electricity_cost_usd is not None:
        parts.append(f"electricity ${fp.electricity_cost_usd:,.2f}")
    return "; ".join(parts) or "n/a"


def _summary_table(runs, tot) -> list[str]:
    h = ['<table class="runs"><tr><th>run</th><th>project</th><th>tags</th><th>status</th>'
         '<th>started</th><th class="n">duration</th><th class="n">energy (IT)</th>'
         '<th class="n">PUE</th><th class="n">energy</th><th class="n">CO2e</th><th>cost</th></tr>']
    for r in runs:
        rec, fp = r.record, r.footprint
        h.append(f"<tr><td><code>{esc(rec.id)}</code></td><td>{esc(rec.project or '–')}</td>"
                 f"<td>{esc(', '.join(rec.tags) or '–')}</td><td>{esc(rec.status)}</td>"
                 f"<td>{_when(rec.started_at)}</td><td class=n>{_dur(rec.duration_s)}</td>"
                 f"<td class=n>{_kwh(rec.energy_kwh)}</td>"
                 f"<td class=n>{_f(fp.pue if fp else None, '{:g}')}</td>"
                 f"<td class=n>{_kwh(fp.energy_kwh if fp else None)}</td>"
                 f"<td class=n>{_kg(fp.co2e_kg if fp else None)}</td><td>{esc(_cost(fp))}</td></tr>")
    if len(runs) > 1:
        co2 = _kg(tot.co2e_kg)
        if tot.co2e_kg is not None and tot.co2e_runs < tot.runs:
            co2 += f" ({tot.co2e_runs} of {tot.runs} runs)"
        cost = []
        if tot.cost_usd_high is not None:
            cost.append("cloud " + _usd(tot.cost_usd_low, tot.cost_usd_high))
        if tot.electricity_cost_usd is not None:
            cost.append(f"electricity ${tot.electricity_cost_usd:,.2f}")
        h.append(f"<tr class=sum><td>sum of {tot.runs} runs</td><td></td><td></td><td></td><td></td>"
                 f"<td class=n>{_dur(tot.duration_s)}</td><td class=n>{_kwh(tot.energy_kwh_it)}</td>"
                 f"<td></td><td class=n>{_kwh(tot.energy_kwh)}</td><td class=n>{esc(co2)}</td>"
                 f"<td>{esc('; '.join(cost) or 'n/a')}</td></tr>")
    h.append("</table>")
    return h


def _run_section(r) -> list[str]:
    rec, fp = r.record, r.footprint
    h = [f'<section class="run"><h2>Run <code>{esc(rec.id)}</code></h2>',
         '<table class="facts">']
    facts = [("project", rec.project or "–"), ("tags", ", ".join(rec.tags) or "–"),
             ("status", rec.status + (" (degraded: a meter failed during the run)" if rec.degraded else "")),
             ("command", rec.command or "–"), ("host", rec.host or "–"),
             ("started", _when(rec.started_at)), ("ended", _when(rec.ended_at)),
             ("duration", _dur(rec.duration_s)),
             ("location", ", ".join(f"{k}={v}" for k, v in sorted(rec.location.items())) or "none given"),
             ("samples", f"{r.samples:,} rows over {len(rec.domains)} domains"
                         + (f", every {rec.interval_s:g} s" if rec.interval_s else ""))]
    if rec.job_id:
        facts.append(("job", f"{rec.job_id} node {rec.node or '?'}"))
    for k, v in facts:
        h.append(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
    h.append("</table>")
    if r.series:
        span = max((p[0] for pts in r.series.values() for p in pts), default=0.0)
        div, unit = time_axis(span)
        series = {name: [(t / div, w) for t, w in pts] for name, pts in r.series.items()}
        h.append(line_chart(series, title=f"Power over time per domain ({rec.id})",
                            x_label=f"time since start ({unit})", y_label="power (W)",
                            css_class="plot power"))
        h.append(f'<p class="muted">Each point is the average power over a {_dur(r.bucket_s)} bucket, '
                 "from the cumulative energy at the bucket edges; totals below are the stored totals, "
                 "not sums of plotted points.</p>")
    h.append("<h3>Energy by component</h3>")
    if rec.domains:
        bars = [(d.name, d.energy_j / J_PER_WH) for d in rec.domains]
        h.append(bar_chart(bars, title="Energy by domain (Wh, IT side)", unit="Wh", css_class="plot breakdown"))
        h.append('<table class="domains"><tr><th>domain</th><th>kind</th><th class="n">energy</th>'
                 '<th class="n">share</th><th class="n">avg power</th><th>label</th><th>method</th></tr>')
        total_j = sum(d.energy_j for d in rec.domains if d.in_total) or 1.0
        for d in rec.domains:
            share = f"{d.energy_j / total_j * 100:.1f} %" if d.in_total else "inside another domain"
            h.append(f"<tr><td>{esc(d.name)}</td><td>{esc(d.kind)}</td><td class=n>{_kwh(d.energy_j / J_PER_KWH)}</td>"
                     f"<td class=n>{share}</td><td class=n>{d.avg_power_w:,.1f} W</td>"
                     f'<td class="label-{esc(d.label)}">{esc(d.label)}</td><td>{esc(d.method)}</td></tr>')
        h.append("</table>")
    else:
        h.append("<p>No meters: nothing was measured.</p>")
    if r.windows:
        h.append('<h3>Windows</h3><table class="windows"><tr><th>name</th><th class="n">start</th>'
                 '<th class="n">seconds</th><th class="n">energy</th></tr>')
        for name, a, b, e in r.windows[:200]:
            h.append(f"<tr><td>{esc(name)}</td><td class=n>{a:,.1f} s</td><td class=n>{b - a:,.1f}</td>"
                     f"<td class=n>{_kwh(sum(e.values()) / J_PER_KWH)}</td></tr>")
        h.append("</table>")
        if len(r.windows) > 200:
            h.append(f'<p class="muted">{len(r.windows) - 200:,} more windows not shown.</p>')
    h += _predictions(r)
    for n in r.notes + (fp.notes if fp is not None else []):
        h.append(f'<p class="note">note: {esc(n)}</p>')
    h.append("</section>")
    return h


def _predictions(r) -> list[str]:
    preds = [(t, p) for t, p in r.predictions if isinstance(p, dict) and p.get("energy_kwh") is not None]
    if not preds:
        return []
    rec = r.record
    step = max(1, len(preds) // 300)  # keep the plot small for runs that predicted often
    shown = preds[::step] + ([preds[-1]] if (len(preds) - 1) % step else [])
    span = max(t for t, _ in shown)
    div, unit = time_axis(span)
    line = [(t / div, p["energy_kwh"]) for t, p in shown]
    band = [(t / div, p.get("energy_kwh_low") or p["energy_kwh"], p.get("energy_kwh_high") or p["energy_kwh"])
            for t, p in shown]
    actual = rec.energy_kwh
    h = ["<h3>Predictions versus the final actual</h3>",
         line_chart({"predicted total (IT kWh)": line}, bands={"predicted total (IT kWh)": band},
                    hlines=[(actual, f"actual {_kwh(actual)}")], title="Predicted total energy during the run",
                    x_label=f"time of prediction ({unit})", y_label="energy (kWh, IT)",
                    css_class="plot predictions")]
    last = preds[-1][1]
    err = (last["energy_kwh"] - actual) / actual * 100 if actual > 0 else None
    h.append(f'<p>Last prediction ({_dur(preds[-1][0])} in, {esc(_f(last.get("fraction_done"), "{:.0%}"))} done): '
             f"{_kwh(last['energy_kwh'])} ({_kwh(last.get('energy_kwh_low'))} – {_kwh(last.get('energy_kwh_high'))}); "
             f"actual {_kwh(actual)}" + (f" ({err:+.1f} %)." if err is not None else ".") + "</p>")
    return h


def _regions(tot) -> list[str]:
    rows = D.regions(tot.energy_kwh)
    if not rows:
        return []
    bars = [(r["name"], r["co2e_kg"]) for r in rows]
    mine = None
    if tot.co2e_kg is not None and tot.co2e_runs == tot.runs:
        mine = "this run" if tot.runs == 1 else "these runs"
        bars.insert(0, (mine, tot.co2e_kg))
    h = ["<h2>Had you trained elsewhere</h2>",
         f"<p>The same energy ({_kwh(tot.energy_kwh)}, PUE included) on other grids (each factor's scope in the table):</p>",
         bar_chart(bars, title="CO2e of the same energy on other grids", unit="kg CO2e",
                   css_class="plot regions", highlight=mine)]
    h.append('<table class="regions"><tr><th>grid</th><th class="n">intensity</th><th class="n">CO2e</th>'
             "<th>source</th></tr>")
    for r in rows:
        h.append(f"<tr><td>{esc(r['name'])}</td><td class=n>{r['intensity_g_per_kwh']:,.0f} g/kWh</td>"
                 f"<td class=n>{_kg(r['co2e_kg'])}</td><td>{esc(r['source'])}, {esc(r.get('scope_text', ''))}"
                 f"{' (' + esc(r['year']) + ')' if r['year'] else ''}</td></tr>")
    h.append("</table>")
    return h


def _equivalents(tot) -> list[str]:
    eq = D.equivalents(tot.co2e_kg, tot.energy_kwh)
    if not eq:
        return []
    h = ["<h2>Equivalents</h2>", f"<p>{_kg(tot.co2e_kg)} CO2e is about:</p>",
         '<table class="equivalents"><tr><th class="n">about</th><th>item</th><th>per item</th>'
         "<th>source</th></tr>"]
    for e in eq:
        h.append(f"<tr><td class=n>{esc(e['text'])}</td><td>{esc(e['name'])}</td>"
                 f"<td>{e['per_item']:,g} {esc(e['per_item_unit'])}</td>"
                 f"<td>{esc(e['source'])}{' (' + esc(e['year']) + ')' if e.get('year') else ''}</td></tr>")
    h.append("</table>")
    return h


def _sources(runs) -> list[str]:
    src = D.sources(runs)
    h = ["<h2>Sources of every factor</h2>"]
    if not src:
        return h + ["<p>No factors were used (no location given): energy only.</p>"]
    h.append('<table class="sources"><tr><th>factor</th><th>for</th><th class="n">value</th><th>source</th>'
             "<th>year</th><th>link</th></tr>")
    for s in src:
        h.append(f"<tr><td>{esc(s.get('factor', ''))}</td><td>{esc(s.get('name') or '')}</td>"
                 f"<td class=n>{esc(_f(s.get('value'), '{:,g}'))} {esc(s.get('unit') or '')}</td>"
                 f"<td>{esc(s.get('source') or '')}"
                 f"{'<br><span class=muted>' + esc(s['note']) + '</span>' if s.get('note') else ''}</td>"
                 f"<td>{esc(s.get('year') or '')}</td><td>{_link(s.get('url'))}</td></tr>")
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


def render(runs: list) -> str:
    """The whole report for one or more loaded runs (``report.data.load``)."""
    tot = D.totals(runs)
    ids = ", ".join(r.record.id for r in runs)
    title = f"wattprint report: {ids}" if len(runs) <= 3 else f"wattprint report: {len(runs)} runs"
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
         f"<h1>{esc(title)}</h1>",
         f'<p class="muted">Written by wattprint {esc(__version__)} on {_when(time.time())}. '
         "Energy is what the meters read (IT side); PUE adds the data centre's overhead; CO2e is "
         "energy × grid carbon intensity (Strubell, Ganesh &amp; McCallum 2019).</p>",
         "<h2>Summary</h2>"]
    h += _summary_table(runs, tot)
    h += _method(runs)
    h += _regions(tot)
    h += _equivalents(tot)
    for r in runs:
        h += _run_section(r)
    h += _sources(runs)
    h.append("</body></html>\n")
    return "\n".join(h)
