"""A project (campaign) report in HTML, Markdown or LaTeX: Strubell et al.'s Table 4 levels,
energy and CO2e by day or week, the tuning share and the runs that cost the most.

It formats the plain data of ``campaign.project_report`` (built by the CLI): the tables are built
once as plain cells, then written in each format with that format's escaping. One energy unit
and one mass unit for the whole report.
"""
from __future__ import annotations

import time

from .. import fmt
from .._version import __version__
from . import data as D
from .markdown import CITATION, md_escape, tex_escape
from .svg import column_chart, esc


def _date(t) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t)) if t else "-"


def _scales(d):
    tot = d["levels"][-1]
    kwh = [tot["energy_kwh"], tot["energy_kwh_it"]] + [r["energy_kwh"] for r in d["top"]]
    kg = [tot["co2e_kg"]] + [r["co2e_kg"] for r in d["top"]]
    return (fmt.energy_scale([v for v in kwh if v is not None]), fmt.mass_scale([v for v in kg if v is not None]))


def _runs(n: int) -> str:
    return f"{n:,} run" + ("" if n == 1 else "s")


def _pct(x) -> str:
    return "-" if x is None else f"{x * 100:.1f} %"


def _co2(E, M, lv) -> str:
    if lv["co2e_kg"] is None:
        return "n/a"
    return M.number(lv["co2e_kg"]) + ("*" if lv["co2e_runs"] < lv["runs"] else "")


def tables(d) -> dict:
    """{name: (header, rows)} of plain-text cells, and the scales' units in the headers."""
    E, M = _scales(d)
    total = d["levels"][-1]["energy_kwh"]
    levels = [[lv["label"], f"{lv['runs']:,}", fmt.plain(lv["gpu_hours"]) if lv["gpu_hours"] else "0",
               E.number(lv["energy_kwh"]), _co2(E, M, lv),
               fmt.usd(lv["cost_usd_low"], lv["cost_usd_high"]) if lv["cost_usd_high"] is not None else "-",
               _pct(lv["energy_kwh"] / total if total > 0 else None)] for lv in d["levels"]]
    over = [[b["level"], f"{b['runs']:,}", E.number(b["energy_kwh"]), _co2(E, M, b)] for b in d["over_time"]]
    top = [[r["id"], r["level"], _date(r["started_at"]), fmt.duration(r["duration_s"]), E.number(r["energy_kwh"]),
            M.number(r["co2e_kg"]) if r["co2e_kg"] is not None else "n/a",
            fmt.usd(r["cost_usd_low"], r["cost_usd_high"]) if r["cost_usd_high"] is not None else "-"]
           for r in d["top"]]
    return {"levels": (["level", "runs", "GPU-h", f"energy ({E.unit})", f"CO2e ({M.unit})", "cloud cost",
                        "share"], levels),
            "over_time": ([d["by"] + (" (Monday)" if d["by"] == "week" else ""), "runs", f"energy ({E.unit})",
                           f"CO2e ({M.unit})"], over),
            "top": (["run", "level", "started", "duration", f"energy ({E.unit})", f"CO2e ({M.unit})",
                     "cloud cost"], top)}


def sentences(d, filters: dict) -> list[str]:
    E, M = _scales(d)
    lv = {x["level"]: x for x in d["levels"]}
    tot = lv["total"]
    what = f"Project {filters['project']}" + (f", runs tagged {filters['tag']}" if filters.get("tag") else "")
    s = [f"{what}: {tot['runs']:,} runs started between {_date(d['first_start'])} and {_date(d['last_start'])}"
         + (f" (since {filters['since']})" if filters.get("since") else "") + "."]
    s.append(f"The whole R&D used {E(tot['energy_kwh'])} (PUE included; {E(tot['energy_kwh_it'])} at the equipment)"
             + (f" and emitted {M(tot['co2e_kg'])} CO2e" if tot["co2e_kg"] is not None else "")
             + (f" (CO2e for the {tot['co2e_runs']:,} of {tot['runs']:,} runs with a location)"
                if tot["co2e_kg"] is not None and tot["co2e_runs"] < tot["runs"] else "") + ".")
    share = d["share_of_energy"]
    if lv["tuning"]["runs"]:
        s.append(f"Tuning ({_runs(lv['tuning']['runs'])}) took {_pct(share['tuning'])} of the energy"
                 + (f" and {_pct(d['tuning_share_of_co2e'])} of the CO2e" if d["tuning_share_of_co2e"] is not None
                    else "") + ".")
    else:
        s.append("No run is tagged tuning, sweep or hpo, so the tuning share is not known.")
    if lv["final"]["runs"]:
        s.append(f"The final model ({_runs(lv['final']['runs'])}) took {_pct(share['final'])} of the energy.")
    s.append("Levels follow Strubell, Ganesh and McCallum (2019), Table 4: runs tagged final are the final "
             "model, tuning/sweep/hpo the tuning, all others experimentation; GPU-h are GPU domains x run hours.")
    return s


def _source_lines(d) -> list[str]:
    return [D.source_line(s) for s in d["sources"]] + [CITATION]


def _title(filters) -> str:
    return f"wattprint project report: {filters['project']}" + (f" (tag {filters['tag']})" if filters.get("tag") else "")


# -- HTML -------------------------------------------------------------------------------------
def _html_table(cls, header, rows, first_code=False) -> list[str]:
    h = [f'<table class="{cls}"><tr>' + "".join(
        f'<th{"" if i == 0 else " class=n"}>{esc(c)}</th>' for i, c in enumerate(header)) + "</tr>"]
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            if i == 0:
                cells.append(f"<td><code>{esc(c)}</code></td>" if first_code else f"<td>{esc(c)}</td>")
            else:
                cells.append(f"<td class=n>{esc(c)}</td>")
        h.append("<tr>" + "".join(cells) + "</tr>")
    return h + ["</table>"]


def html(d, filters: dict) -> str:
    from .html import page

    E, M = _scales(d)
    t = tables(d)
    tot = d["levels"][-1]
    h = [f'<p class="muted">{esc(" ".join(sentences(d, filters)[:1]))}</p>', '<div class="card headline">']
    for k, v, s in (("energy", E(tot["energy_kwh"]), f"IT {E(tot['energy_kwh_it'])}"),
                    ("CO2e", M(tot["co2e_kg"]) if tot["co2e_kg"] is not None else "n/a",
                     f"{tot['co2e_runs']} of {_runs(tot['runs'])}" if tot["co2e_runs"] < tot["runs"] else "all runs"),
                    ("tuning share", _pct(d["share_of_energy"]["tuning"]), "of the energy"),
                    ("GPU-hours", fmt.plain(tot["gpu_hours"]) if tot["gpu_hours"] else "0", _runs(tot["runs"]))):
        h.append(f'<div class="fig"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div>'
                 f'<div class="s">{esc(s)}</div></div>')
    h.append("</div>")
    h += ["<h2>Levels (Strubell et al. 2019, Table 4)</h2>"] + _html_table("levels", *t["levels"])
    h.append("<p>" + esc(" ".join(sentences(d, filters)[1:])) + "</p>")
    h.append(f"<h2>Energy and CO2e by {esc(d['by'])}</h2>")
    cols_e = [(b["level"], b["energy_kwh"] / E.size) for b in d["over_time"]]
    h.append(column_chart(cols_e, title=f"Energy per {d['by']} ({E.unit}, PUE included)", unit=E.unit,
                          css_class="plot energy-over-time"))
    if tot["co2e_kg"] is not None:
        cols_m = [(b["level"], (b["co2e_kg"] or 0.0) / M.size) for b in d["over_time"]]
        h.append(column_chart(cols_m, title=f"CO2e per {d['by']} ({M.unit})", unit=M.unit,
                              css_class="plot co2e-over-time"))
    n = len(d["over_time"])
    h.append(f"<details><summary>The {n} {esc(d['by'])}{'' if n == 1 else 's'} as a table</summary>")
    h += _html_table("over-time", *t["over_time"]) + ["</details>"]
    h.append(f"<h2>The {len(d['top'])} runs that used the most energy</h2>")
    h += _html_table("top", *t["top"], first_code=True)
    h += [f'<p class="note">note: {esc(n)}</p>' for n in d["notes"]]
    h += ["<h2>Sources</h2><ul>"] + [f"<li>{esc(s)}</li>" for s in _source_lines(d)] + ["</ul>"]
    h.append(f'<p class="muted">Written by wattprint {esc(__version__)} on '
             f'{esc(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))}. * CO2e covers only the runs with a location.</p>')
    return page(_title(filters), h)


# -- Markdown ---------------------------------------------------------------------------------
def _md_table(header, rows) -> list[str]:
    out = ["| " + " | ".join(md_escape(c) for c in header) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    return out + ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows] + [""]


def markdown(d, filters: dict) -> str:
    t = tables(d)
    out = [f"## {md_escape(_title(filters))}", "", md_escape(" ".join(sentences(d, filters))), "",
           "### Levels (Strubell et al. 2019, Table 4)", ""]
    out += _md_table(*t["levels"])
    out += [f"### Energy and CO2e by {d['by']}", ""] + _md_table(*t["over_time"])
    out += [f"### The {len(d['top'])} runs that used the most energy", ""] + _md_table(*t["top"])
    out += [f"Note: {md_escape(n)}" for n in d["notes"]] + ([""] if d["notes"] else [])
    out += ["Sources:", ""] + [f"- {md_escape(s)}" for s in _source_lines(d)]
    return "\n".join(out) + "\n"


# -- LaTeX ------------------------------------------------------------------------------------
def _tex_table(header, rows, caption) -> list[str]:
    spec = "l" + "r" * (len(header) - 1)
    out = [r"\begin{table}[h]", r"\centering", r"\begin{tabular}{" + spec + "}", r"\hline",
           " & ".join(tex_escape(c) for c in header) + r" \\", r"\hline"]
    out += [" & ".join(tex_escape(c) for c in row) + r" \\" for row in rows]
    return out + [r"\hline", r"\end{tabular}", r"\caption{" + tex_escape(caption) + "}", r"\end{table}", ""]


def latex(d, filters: dict) -> str:
    """A section with three tables; needs no package beyond LaTeX's own."""
    t = tables(d)
    out = ["% Project energy and carbon report written by wattprint",
           r"\section*{" + tex_escape(_title(filters)) + "}", tex_escape(" ".join(sentences(d, filters))), ""]
    out += _tex_table(*t["levels"], "Energy and CO2e by level (Strubell et al. 2019, Table 4).")
    out += _tex_table(*t["over_time"], f"Energy and CO2e by {d['by']}.")
    out += _tex_table(*t["top"], f"The {len(d['top'])} runs that used the most energy.")
    out += [tex_escape(f"Note: {n}") + r"\par" for n in d["notes"]]
    out += [r"\noindent Sources:", r"\begin{itemize}"] + [r"\item " + tex_escape(s) for s in _source_lines(d)]
    return "\n".join(out + [r"\end{itemize}"]) + "\n"
