"""Small inline-SVG charts: lines over time and horizontal bars. No dependencies, no script.

Every label passes through ``esc``; numbers are written with few digits to keep files small.
"""
from __future__ import annotations

import math
from html import escape

from ..fmt import plain
from ..units import printable

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]


def esc(text) -> str:
    return escape(printable(text), quote=True)


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 12)]
    while ticks[-1] < hi - step * 1e-9 or len(ticks) < 2:
        ticks.append(round(start + len(ticks) * step, 12))
    return ticks


def _tick_label(v: float) -> str:
    """A tick value in plain digits (never an exponent), without trailing zeros."""
    text = plain(v, 3)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def time_axis(seconds: float) -> tuple[float, str]:
    """Divisor and unit name that make a span of ``seconds`` readable."""
    if seconds >= 2 * 86400:
        return 86400.0, "days"
    if seconds >= 2 * 3600:
        return 3600.0, "hours"
    if seconds >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def line_chart(series: dict, *, title: str, x_label: str, y_label: str, width: int = 760,
               height: int = 300, bands: dict | None = None, hlines: list | None = None,
               y_min: float | None = 0.0, css_class: str = "plot", spans: list | None = None,
               marks: list | None = None, x_range: tuple | None = None) -> str:
    """Lines ``{name: [(x, y), ...]}``, optional shaded ``bands {name: [(x, lo, hi)]}``,
    horizontal reference lines ``[(y, label)]``, shaded x-ranges ``spans [(x0, x1, label, kind)]``
    (kind 'warmup' or 'window'; labelled when wide enough) and short ``marks`` at the top (x
    positions: window starts when there are too many windows to shade), with axes and a legend.
    ``x_range`` widens the x axis to cover it (charts stacked on one time axis)."""
    bands = bands or {}
    hlines = hlines or []
    xs = ([p[0] for pts in series.values() for p in pts] + [b[0] for pts in bands.values() for b in pts]
          + [x for a, b, _, _ in spans or [] for x in (a, b)] + list(marks or []))
    if xs and x_range:
        xs += list(x_range)
    ys = ([p[1] for pts in series.values() for p in pts] + [v for pts in bands.values() for b in pts
                                                            for v in b[1:]] + [h[0] for h in hlines])
    ys = [y for y in ys if y is not None and math.isfinite(y)]
    left, right, top, bottom = 64, 16, 28, 44
    legend_rows = math.ceil(len(series) / 4) if len(series) > 1 or hlines else 0
    height += 18 * legend_rows
    pw, ph = width - left - right, height - top - bottom - 18 * legend_rows
    out = [f'<svg class="{esc(css_class)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f"<title>{esc(title)}</title>",
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    if not xs or not ys:
        out.append(f'<text x="{left}" y="{top + ph / 2:.0f}" font-size="12">no data to plot</text></svg>')
        return "".join(out)
    x0, x1 = min(xs), max(xs)
    if x1 <= x0:
        x1 = x0 + 1.0
    lo = min(ys) if y_min is None else min(y_min, min(ys))
    yt = nice_ticks(lo, max(ys) if max(ys) > lo else lo + 1.0)
    y0, y1 = yt[0], yt[-1]

    def sx(x):
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y):
        return top + ph - (y - y0) / (y1 - y0) * ph

    out.append('<g font-size="11" fill="#444">')
    for v in yt:
        y = sy(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{_num(y)}" y2="{_num(y)}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{esc(_tick_label(v))}</text>')
    for v in nice_ticks(x0, x1, 6):
        if x0 - 1e-9 <= v <= x1 + 1e-9:
            x = sx(v)
            out.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#888"/>'
                       f'<text x="{_num(x)}" y="{top + ph + 16}" text-anchor="middle">{esc(_tick_label(v))}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 6 - 18 * legend_rows}" text-anchor="middle">'
               f'{esc(x_label)}</text>'
               f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'{esc(y_label)}</text></g>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out += _spans(spans or [], marks or [], sx, x0, x1, top, ph)
    names = list(series)
    for i, (name, pts) in enumerate(bands.items()):
        color = PALETTE[names.index(name) % len(PALETTE)] if name in names else PALETTE[i % len(PALETTE)]
        if pts:
            upper = " ".join(f"{_num(sx(x))},{_num(sy(h))}" for x, _, h in pts)
            lower = " ".join(f"{_num(sx(x))},{_num(sy(lo_))}" for x, lo_, _ in reversed(pts))
            out.append(f'<polygon class="band" points="{upper} {lower}" fill="{color}" '
                       f'fill-opacity="0.15" stroke="none"/>')
    for i, name in enumerate(names):
        pts = series[name]
        color = PALETTE[i % len(PALETTE)]
        if len(pts) == 1:
            x, y = pts[0]
            out.append(f'<circle class="series" cx="{_num(sx(x))}" cy="{_num(sy(y))}" r="3" fill="{color}">'
                       f'<title>{esc(name)}</title></circle>')
        elif pts:
            path = " ".join(f"{_num(sx(x))},{_num(sy(y))}" for x, y in pts)
            out.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="1.5" '
                       f'points="{path}"><title>{esc(name)}</title></polyline>')
    for y, label in hlines:
        out.append(f'<line class="ref" x1="{left}" x2="{left + pw}" y1="{_num(sy(y))}" y2="{_num(sy(y))}" '
                   f'stroke="#000" stroke-dasharray="5 3"/>')
    if legend_rows:
        ly = height - 18 * legend_rows + 4
        items = [(n, PALETTE[i % len(PALETTE)], False) for i, n in enumerate(names)]
        items += [(label, "#000", True) for _, label in hlines]
        for i, (name, color, dashed) in enumerate(items):
            x = left + (i % 4) * (pw / 4)
            y = ly + (i // 4) * 18
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            out.append(f'<line x1="{_num(x)}" x2="{_num(x + 18)}" y1="{y}" y2="{y}" stroke="{color}" '
                       f'stroke-width="2"{dash}/><text x="{_num(x + 24)}" y="{y + 4}" font-size="11">'
                       f'{esc(name)}</text>')
    out.append("</svg>")
    return "".join(out)


SPAN_FILL = {"warmup": ("#f2c14e", 0.25), "window": ("#7f7f7f", 0.12)}


def _spans(spans, marks, sx, x0, x1, top, ph) -> list[str]:
    out = []
    for i, (a, b, label, kind) in enumerate(spans):
        a, b = max(a, x0), min(b, x1)
        if b <= a:
            continue
        color, alpha = SPAN_FILL.get(kind, SPAN_FILL["window"])
        alpha = alpha if kind == "warmup" or i % 2 == 0 else alpha / 2  # neighbours stay apart
        xa, xb = sx(a), sx(b)
        out.append(f'<rect class="span {esc(kind)}" x="{_num(xa)}" y="{top}" width="{_num(max(xb - xa, 0.5))}" '
                   f'height="{ph}" fill="{color}" fill-opacity="{alpha}"><title>{esc(label)}</title></rect>')
        if xb - xa >= 7 * len(label) + 6:
            out.append(f'<text x="{_num(xa + 3)}" y="{top + 12}" font-size="10" fill="#555">{esc(label)}</text>')
    for x in marks:
        if x0 <= x <= x1:
            out.append(f'<line class="mark" x1="{_num(sx(x))}" x2="{_num(sx(x))}" y1="{top}" y2="{top + 6}" '
                       'stroke="#555"/>')
    return out


def bar_chart(bars: list, *, title: str, unit: str, width: int = 760, css_class: str = "plot",
              highlight: str | None = None) -> str:
    """Horizontal bars ``[(label, value)]`` with the value written at the end of each bar."""
    row, left, right, top = 22, 170, 110, 26
    height = top + row * max(len(bars), 1) + 8
    out = [f'<svg class="{esc(css_class)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f"<title>{esc(title)}</title>",
           f'<text x="4" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    vals = [v for _, v in bars if v is not None and math.isfinite(v)]
    vmax = max(vals) if vals and max(vals) > 0 else 1.0
    pw = width - left - right
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        v = value if value is not None and math.isfinite(value) else 0.0
        w = max(v / vmax * pw, 0.0)
        color = "#d62728" if highlight is not None and label == highlight else "#1f77b4"
        shown = "n/a" if value is None else _value(value)
        out.append(f'<text x="{left - 6}" y="{y + 14}" font-size="11" text-anchor="end">{esc(label)}</text>'
                   f'<rect class="bar" x="{left}" y="{y + 3}" width="{_num(w)}" height="{row - 6}" '
                   f'fill="{color}"><title>{esc(label)}: {esc(shown)} {esc(unit)}</title></rect>'
                   f'<text x="{_num(left + w + 4)}" y="{y + 14}" font-size="11">{esc(shown)} {esc(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def _value(v: float) -> str:
    return plain(v)


def column_chart(columns: list, *, title: str, unit: str, width: int = 760, height: int = 240,
                 css_class: str = "plot") -> str:
    """Vertical bars ``[(label, value)]`` in order (days or weeks), a y axis in ``unit`` and at
    most about 12 labels along the bottom."""
    left, right, top, bottom = 64, 16, 28, 40
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg class="{esc(css_class)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f"<title>{esc(title)}</title>",
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    vals = [v for _, v in columns if v is not None and math.isfinite(v)]
    if not vals:
        out.append(f'<text x="{left}" y="{top + ph / 2:.0f}" font-size="12">no data to plot</text></svg>')
        return "".join(out)
    yt = nice_ticks(0.0, max(max(vals), 1e-12))
    y1 = yt[-1]
    out.append('<g font-size="11" fill="#444">')
    for v in yt:
        y = top + ph - v / y1 * ph
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{_num(y)}" y2="{_num(y)}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{esc(_tick_label(v))}</text>')
    out.append(f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'{esc(unit)}</text></g>')
    n = len(columns)
    slot = min(pw / max(n, 1), 60.0)  # a few columns stay columns, not slabs
    every = max(1, math.ceil(n / 12))
    for i, (label, value) in enumerate(columns):
        v = value if value is not None and math.isfinite(value) else 0.0
        h = max(v / y1 * ph, 0.0)
        x = left + i * slot + slot * 0.1
        shown = "n/a" if value is None else _value(value)
        out.append(f'<rect class="bar" x="{_num(x)}" y="{_num(top + ph - h)}" width="{_num(max(slot * 0.8, 0.5))}" '
                   f'height="{_num(h)}" fill="#1f77b4"><title>{esc(label)}: {esc(shown)} {esc(unit)}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{_num(x + slot * 0.4)}" y="{top + ph + 16}" font-size="10" '
                       f'text-anchor="middle">{esc(label)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#888"/></svg>')
    return "".join(out)


def axes(xt, yt, box, x_label: str, y_label: str, label_y: float) -> tuple[list[str], object, object]:
    """Grid, tick labels, axis labels and frame of a chart over ticks ``xt`` and ``yt`` in
    ``box`` = (left, top, width, height); returns the SVG parts and the x and y scales."""
    left, top, pw, ph = box

    def sx(x):
        return left + (x - xt[0]) / (xt[-1] - xt[0]) * pw

    def sy(y):
        return top + ph - (y - yt[0]) / (yt[-1] - yt[0]) * ph

    out = ['<g font-size="11" fill="#444">']
    for v in yt:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{_num(sy(v))}" y2="{_num(sy(v))}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{_num(sy(v) + 4)}" text-anchor="end">{esc(_tick_label(v))}</text>')
    for v in xt:
        out.append(f'<text x="{_num(sx(v))}" y="{top + ph + 16}" text-anchor="middle">{esc(_tick_label(v))}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{label_y:.0f}" text-anchor="middle">{esc(x_label)}</text>'
               f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'{esc(y_label)}</text></g>'
               f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    return out, sx, sy
