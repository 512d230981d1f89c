"""One run's part of the HTML report: its power over time (windows and warm-up marked), its
predictions against the actual, its components, its windows by name and its facts.

Numbers are written in the units of the report's ``View`` (one energy unit, one mass unit for
the whole page); only the windows table, whose rows are small parts of a run, picks its own
energy unit and names it in its header.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .. import fmt
from ..units import J_PER_KWH
from . import data as D
from .svg import bar_chart, esc, line_chart, time_axis

MAX_SPANS = 40          # more windows than this are marked by a tick at each start, not shaded
MAX_MARKS = 400
MAX_WINDOW_ROWS = 500   # the folded full list of windows


@dataclass(frozen=True)
class View:
    """The units of one report: every energy in ``E``, every CO2e in ``M``."""

    E: fmt.Scale
    M: fmt.Scale


def when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "–"


def dur(s) -> str:
    return fmt.duration(s or 0.0)


def num(text: str) -> str:
    """A number cell: right-aligned and never wrapped (the style sheet's td.n)."""
    return f"<td class=n>{esc(text)}</td>"


def section(r, view: View) -> list[str]:
    rec, fp = r.record, r.footprint
    h = [f'<section class="run"><h2>Run <code>{esc(rec.id)}</code></h2>']
    h += _over_time(r, view)
    h += _components(r, view)
    h += _windows(r)
    h += _facts(r)
    for n in r.notes + (fp.notes if fp is not None else []):
        h.append(f'<p class="note">note: {esc(n)}</p>')
    h.append("</section>")
    return h


def _over_time(r, view: View) -> list[str]:
    rec = r.record
    if not r.series:
        return ["<p>No power samples to plot.</p>"]
    span = max([p[0] for pts in r.series.values() for p in pts] + [rec.duration_s or 0.0])
    div, unit = time_axis(span)
    P = fmt.power_scale([w for pts in r.series.values() for _, w in pts])
    series = {name: [(t / div, w / P.size) for t, w in pts] for name, pts in r.series.items()}
    spans, marks = [], []
    warm = D.warmup_s(r.predictions)
    if warm:
        spans.append((0.0, warm / div, "warm-up", "warmup"))
    if 0 < len(r.windows) <= MAX_SPANS:
        spans += [(a / div, b / div, name, "window") for name, a, b, _ in r.windows]
    elif r.windows:
        step = max(1, len(r.windows) // MAX_MARKS)
        marks = [a / div for _, a, _, _ in r.windows[::step]]
    h = ["<h3>Power over time</h3>",
         line_chart(series, title=f"Power per domain ({rec.id})", x_label=f"time since start ({unit})",
                    y_label=f"power ({P.unit})", css_class="plot power", spans=spans, marks=marks,
                    x_range=(0.0, span / div))]
    said = [f"Each point is the average power over {dur(r.bucket_s)}, from the energy counters at the "
            "bucket's edges; totals are the stored totals, not sums of plotted points."]
    if warm:
        said.append(f"Shaded yellow: warm-up (the first {dur(warm)}, left out of the prediction).")
    if spans and r.windows and len(r.windows) <= MAX_SPANS:
        said.append("Shaded grey: windows.")
    elif marks:
        said.append(f"Ticks at the top: the start of each of {len(r.windows):,} windows"
                    + (f" (every {step}th)" if step > 1 else "") + ".")
    h.append(f'<p class="muted">{" ".join(esc(s) for s in said)}</p>')
    return h + _predictions(r, view, (span, div, unit))


def _predictions(r, view: View, axis=None) -> list[str]:
    """The predicted total and its range over the run, on the power chart's time axis."""
    preds = [(t, p) for t, p in r.predictions if isinstance(p, dict) and p.get("energy_kwh") is not None]
    if not preds:
        return []
    E, actual = view.E, r.record.energy_kwh
    step = max(1, len(preds) // 300)  # keep the plot small for runs that predicted often
    shown = preds[::step] + ([preds[-1]] if (len(preds) - 1) % step else [])
    span = max(t for t, _ in shown)
    if axis is not None:
        span, div, unit = max(axis[0], span), axis[1], axis[2]
    else:
        div, unit = time_axis(span)
    line = [(t / div, p["energy_kwh"] / E.size) for t, p in shown]
    band = [(t / div, (p.get("energy_kwh_low") or p["energy_kwh"]) / E.size,
             (p.get("energy_kwh_high") or p["energy_kwh"]) / E.size) for t, p in shown]
    name = f"predicted total ({E.unit}, IT)"
    h = ["<h3>Predicted total energy during the run</h3>",
         line_chart({name: line}, bands={name: band}, hlines=[(actual / E.size, f"actual {E(actual)}")],
                    title="Prediction and its range (shaded) against the final energy",
                    x_label=f"time of prediction ({unit})", y_label=f"energy ({E.unit}, IT)",
                    css_class="plot predictions", x_range=(0.0, span / div))]
    last_t, last = preds[-1]
    err = (last["energy_kwh"] - actual) / actual * 100 if actual > 0 else None
    done = last.get("fraction_done")
    rng = ""
    if last.get("energy_kwh_low") is not None and last.get("energy_kwh_high") is not None:
        rng = f" ({E.range(last['energy_kwh_low'], last['energy_kwh_high'])})"
    h.append(f"<p>Last prediction ({dur(last_t)} in" + (f", {done * 100:.0f} % done" if done is not None else "")
             + f"): {esc(E(last['energy_kwh']))}{esc(rng)}; actual {esc(E(actual))}"
             + (f" ({err:+.1f} %)." if err is not None else ".") + "</p>")
    return h


def _components(r, view: View) -> list[str]:
    rec, E = r.record, view.E
    h = ["<h3>Components</h3>"]
    if not rec.domains:
        return h + ["<p>No meters: nothing was measured.</p>"]
    bars = [(d.name, d.energy_j / J_PER_KWH / E.size) for d in rec.domains]
    h.append(bar_chart(bars, title=f"Energy by domain ({E.unit}, IT side)", unit=E.unit, css_class="plot breakdown"))
    P = fmt.power_scale([d.avg_power_w for d in rec.domains])
    h.append(f'<table class="domains"><tr><th>domain</th><th>kind</th><th class="n">energy ({E.unit})</th>'
             f'<th class="n">share</th><th class="n">mean power ({P.unit})</th><th>label</th><th>method</th></tr>')
    total_j = sum(d.energy_j for d in rec.domains if d.in_total) or 1.0
    for d in rec.domains:
        share = f"{d.energy_j / total_j * 100:.1f} %" if d.in_total else "inside another"
        h.append(f"<tr><td><code>{esc(d.name)}</code></td><td>{esc(d.kind)}</td>"
                 f"{num(E.number(d.energy_j / J_PER_KWH))}{num(share)}{num(P.number(d.avg_power_w))}"
                 f'<td class="label-{esc(d.label)}">{esc(d.label)}</td><td class="wrap">{esc(d.method)}</td></tr>')
    h.append("</table>")
    return h


def _windows(r) -> list[str]:
    if not r.windows:
        return []
    groups = D.window_groups(r.windows)
    # the windows are small parts of a run: their own unit, named in the header
    E = fmt.energy_scale([g["energy_kwh"] for g in groups] + [g["mean_energy_kwh"] for g in groups])
    h = ["<h3>Windows by name</h3>",
         f'<table class="window-groups"><tr><th>name</th><th class="n">count</th><th class="n">time</th>'
         f'<th class="n">energy ({E.unit})</th><th class="n">mean ({E.unit})</th><th class="n">mean time</th></tr>']
    for g in groups:
        h.append(f"<tr><td><code>{esc(g['name'])}</code></td>{num(format(g['count'], ','))}{num(dur(g['seconds']))}"
                 f"{num(E.number(g['energy_kwh']))}{num(E.number(g['mean_energy_kwh']))}"
                 f"{num(dur(g['mean_seconds']))}</tr>")
    h.append("</table>")
    rows = r.windows[:MAX_WINDOW_ROWS]
    h.append(f'<details class="windows"><summary>All {len(r.windows):,} windows</summary>'
             f'<table class="windows"><tr><th>name</th><th class="n">start</th><th class="n">time</th>'
             f'<th class="n">energy ({E.unit})</th></tr>')
    for name, a, b, e in rows:
        h.append(f"<tr><td><code>{esc(name)}</code></td>{num(dur(a))}{num(dur(b - a))}"
                 f"{num(E.number(sum(e.values()) / J_PER_KWH))}</tr>")
    h.append("</table>")
    if len(r.windows) > MAX_WINDOW_ROWS:
        h.append(f'<p class="muted">{len(r.windows) - MAX_WINDOW_ROWS:,} more windows not listed '
                 "('wattprint export --what windows' writes them all).</p>")
    h.append("</details>")
    return h


def _facts(r) -> list[str]:
    rec = r.record
    facts = [("project", rec.project or "–"), ("tags", ", ".join(rec.tags) or "–"),
             ("status", rec.status + (" (degraded: a meter failed during the run)" if rec.degraded else "")),
             ("command", rec.command or "–"), ("host", rec.host or "–"),
             ("started", when(rec.started_at)), ("ended", when(rec.ended_at)), ("duration", dur(rec.duration_s)),
             ("location", ", ".join(f"{k}={v}" for k, v in sorted(rec.location.items())) or "none given"),
             ("samples", f"{r.samples:,} rows over {len(rec.domains)} domains"
                         + (f", every {fmt.plain(rec.interval_s)} s" if rec.interval_s else ""))]
    if rec.job_id:
        facts.append(("job", f"{rec.job_id} node {rec.node or '?'}"))
    h = ['<h3>Run details</h3><table class="facts">']
    for k, v in facts:
        h.append(f'<tr><th>{esc(k)}</th><td class="wrap">{esc(v)}</td></tr>')
    h.append("</table>")
    return h
