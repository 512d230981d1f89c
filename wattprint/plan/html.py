"""A plan as one offline HTML page, in the run report's style and rules (inline CSS and SVG, a
Content-Security-Policy that forbids every load, no script, all text escaped), with one chart:
each option's CO2e (else energy) against its cloud cost (else wall time), with both ranges."""
from __future__ import annotations

from .. import fmt
from .._version import __version__
from ..report.html import CSP, STYLE
from ..report.svg import PALETTE, axes, esc, nice_ticks
from . import text as T

ROWS = 60  # table rows on the page (all options are in --json)


def _axis(p, rows):
    """(quantity, label, divisor, unit) for x and y: CO2e against cost where known."""
    opts = [p.options[i] for i in rows]
    y = ("co2e_kg", "CO2e") if any(o.get("co2e_kg") is not None for o in opts) else ("energy_kwh", "energy")
    x = ("cost_usd", "cloud cost") if any(o.get("cost_usd") is not None for o in opts) else ("wall_hours", "wall time")
    vals = [o[f"{y[0]}_high"] for o in opts if o.get(f"{y[0]}_high") is not None]
    ys = fmt.mass_scale(vals) if y[0] == "co2e_kg" else fmt.energy_scale(vals)
    if x[0] == "cost_usd":
        top = max((o["cost_usd_high"] for o in opts if o.get("cost_usd_high") is not None), default=0)
        xs = (1e6, "million USD") if top >= 1e6 else (1e3, "thousand USD") if top >= 1e4 else (1.0, "USD")
    else:
        xs = (24.0, "days")
    return x, xs, y, (ys.size, ys.unit)


def chart(p, rows, width=760, height=380) -> str:
    (xq, xl), (xd, xu), (yq, yl), (yd, yu) = _axis(p, rows)
    pts = [(i, p.options[i]) for i in rows if p.options[i].get(xq) is not None and p.options[i].get(yq) is not None]
    title = f"options: {yl} against {xl} (bars: ranges)"
    out = [f'<svg class="plot options" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>',
           f'<text x="64" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    if not pts:
        return "".join(out) + '<text x="64" y="120" font-size="12">no option has both figures</text></svg>'
    left, right, top, bottom = 70, 16, 28, 44
    pw, ph = width - left - right, height - top - bottom

    def ends(o, q, d):
        return o[f"{q}_low"] / d, o[f"{q}_high"] / d
    xt = nice_ticks(0, max(ends(o, xq, xd)[1] for _, o in pts))
    yt = nice_ticks(0, max(ends(o, yq, yd)[1] for _, o in pts))
    grid, sx, sy = axes(xt, yt, (left, top, pw, ph), f"{xl} ({xu})", f"{yl} ({yu})", height - 6)
    out += grid
    hw = list(dict.fromkeys(o["hardware"] for _, o in pts))
    labelled = set(p.marks.values()) | {0}
    for i, o in pts:
        c = PALETTE[hw.index(o["hardware"]) % len(PALETTE)]
        (x0, x1), (y0, y1) = ends(o, xq, xd), ends(o, yq, yd)
        x, y = o[xq] / xd, o[yq] / yd
        name = esc(T.name_of(o))
        out.append(f'<g class="option"><title>{name}</title>'
                   f'<line class="range" x1="{sx(x0):.1f}" x2="{sx(x1):.1f}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
                   f'stroke="{c}" stroke-opacity="0.5"/>'
                   f'<line class="range" x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{sy(y0):.1f}" y2="{sy(y1):.1f}" '
                   f'stroke="{c}" stroke-opacity="0.5"/>'
                   f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{c}"/></g>')
        if i in labelled:
            marks = ", ".join([m for m, j in p.marks.items() if j == i] + (["first named"] if i == 0 else []))
            out.append(f'<text class="mark" x="{sx(x) + 6:.1f}" y="{sy(y) - 6:.1f}" font-size="11">{esc(marks)}</text>')
    for k, h in enumerate(hw):
        out.append(f'<rect x="{left + 8 + 180 * k}" y="{top + 8}" width="10" height="10" fill="{PALETTE[k % 10]}"/>'
                   f'<text x="{left + 22 + 180 * k}" y="{top + 17}" font-size="11">{esc(h)}</text>')
    out.append("</svg>")
    return "".join(out)


def page(p) -> str:
    rows, left = T.shown_rows(p, ROWS)
    sc = T.scales(p, rows)
    head = T.headers(sc)
    cols = [c for c in head if c != "net" or any(p.options[i].get("co2e_net_kg") is not None for i in rows)]
    h = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
         f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
         f'<meta name="viewport" content="width=device-width, initial-scale=1">'
         f"<title>wattprint plan</title><style>{STYLE}.wide{{overflow-x:auto}}</style></head><body>",
         "<h1>Training plan</h1>", f'<p class="muted">{esc(T.work_line(p))}</p>', chart(p, rows),
         "<h2>Options, best first</h2><div class=wide><table><tr><th>#</th>"
         + "".join(f'<th{"" if c == "option" else " class=n"}>{esc(head[c])}</th>' for c in cols) + "</tr>"]
    for n, i in enumerate(rows, 1):
        cells = T.cells(p, i, sc)
        h.append(f"<tr><td class=n>{n}</td>" + "".join(
            f'<td{"" if c == "option" else " class=n"}>{esc(cells[c])}</td>' for c in cols) + "</tr>")
    h.append("</table></div>")
    if left:
        h.append(f'<p class="muted">{left} more options ranked lower: the JSON output lists them all.</p>')
    h.append("<h2>What to choose</h2><ul>" + "".join(f"<li>{esc(v)}</li>" for v in T.verdicts(p)) + "</ul>")
    if p.trials != 1:
        h.append(f"<p>{esc(T.campaign_line(p))}</p>")
    h.append("<h2>How</h2><p>device-hours = FLOPs / (peak &times; MFU); energy = device-hours &times; device power "
             "(typical training draw to TDP) + node-hours &times; host power, &times; PUE. Each range pairs its low "
             "ends (high MFU, typical draw, spot price) and its high ends; a point value is the middle.</p>")
    h.append("<h3>Sources</h3><ul>" + "".join(f"<li>{esc(s)}</li>" for s in T.source_lines(p, rows)) + "</ul>")
    notes = list(dict.fromkeys(p.notes + [n for i in rows for n in p.options[i]["notes"]]))
    if notes:
        h.append("<h3>Notes</h3><ul>" + "".join(f'<li class="note">{esc(n)}</li>' for n in notes) + "</ul>")
    h.append(f'<p class="muted">wattprint {esc(__version__)}</p></body></html>')
    return "\n".join(h)


def write(p, path: str) -> None:
    """Write the page to ``path`` whole or not at all (report.files.write_output)."""
    from ..report.files import write_output

    body = page(p)
    write_output(path, lambda f: f.write(body))
