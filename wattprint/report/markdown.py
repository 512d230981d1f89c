"""A paper-ready footprint statement in Markdown or LaTeX.

The statement is built once as plain sentences and a table of plain cells; each format then
escapes every piece of text as a whole, so user text (project, tags, command) can never become
markup, and numbers with '%' or '$' stay literal in LaTeX.
"""
from __future__ import annotations

import re

from .. import fmt
from .._version import __version__
from ..units import printable
from . import data as D

CITATION = ("Strubell, E., Ganesh, A. and McCallum, A. (2019). Energy and Policy Considerations "
            "for Deep Learning in NLP. ACL 2019.")


def _fe(kwh, E=None):
    """An energy in the statement's one unit ``E`` (a lone value picks its own)."""
    return "n/a" if kwh is None else (E or fmt.energy_scale(kwh))(kwh)


def _fm(kg, M=None):
    return "n/a" if kg is None else (M or fmt.mass_scale(kg))(kg)


def _lb(kg):
    from ..units import LB_KG

    lb = kg / LB_KG
    return f"{fmt.plain(lb)} lb" if lb == 0 or lb >= 1e-8 else "under 0.00000001 lb"


def _fd(s):
    return fmt.duration(s or 0.0)


def _src(s: dict | None) -> str:
    return D.source_text(s)


def _factor(fp, name: str) -> dict | None:
    if fp is None:
        return None
    return next((s for s in fp.sources if s.get("factor") == name), None)


def _parts(ds) -> str:
    return "; ".join(f"{d.kind} ({d.method})" for d in ds) or "none"


def _cost_text(low, high, elec) -> str | None:
    out = []
    if high is not None:
        out.append(f"a cloud cost of {fmt.usd(high)}" if low in (None, high)
                   else f"a cloud cost of {fmt.usd(low, high).replace(' - ', ' to ')}")
    if elec is not None:
        out.append(f"an electricity cost of {fmt.usd(elec)}")
    return " and ".join(out) or None


def statement(runs: list) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """(paragraph sentences, table rows (quantity, value), sources) as plain text."""
    tot = D.totals(runs)
    nets = [r.footprint.co2e_net_kg for r in runs if r.footprint is not None]
    E = fmt.energy_scale([tot.energy_kwh, tot.energy_kwh_it, *tot.by_kind.values()])
    M = fmt.mass_scale([v for v in (tot.co2e_kg, *nets) if v is not None])
    measured, modelled = D.measured_modelled(runs)
    what = (f"run {runs[0].record.id}" + (f" of project {runs[0].record.project}" if runs[0].record.project else "")
            if len(runs) == 1 else f"{len(runs)} runs ({', '.join(r.record.id for r in runs)})")
    s = [f"The training reported here ({what}) ran for {_fd(tot.duration_s)} and drew "
         f"{_fe(tot.energy_kwh_it, E)} of electricity at the computing equipment."]
    s.append(f"Measured with hardware energy counters: {_parts(measured)}." if measured else
             "No part was measured with hardware energy counters.")
    if modelled:
        s.append(f"Modelled rather than measured: {_parts(modelled)}.")
    fps = [r.footprint for r in runs if r.footprint is not None]
    pues = {(fp.pue, _src(_factor(fp, 'pue'))) for fp in fps}
    if len(pues) == 1:
        pue, src = pues.pop()
        s.append(f"With a power usage effectiveness (PUE) of {D.factor_value(pue)} ({src}), the facility drew "
                 f"{_fe(tot.energy_kwh, E)}.")
    elif pues:
        s.append(f"With each run's power usage effectiveness (PUE) applied, the facility drew {_fe(tot.energy_kwh, E)}.")
    locs = []
    for r in runs:
        f = _factor(r.footprint, "intensity")
        if f is not None:
            where = f.get("name") or ", ".join(f"{k} {v}" for k, v in r.record.location.items()
                                                if k in ("region", "cloud", "intensity")) or "given"
            locs.append(f"{where} ({fmt.plain(f['value'])} g CO2e/kWh, {D.scope_text(f.get('scope'), long=True)}; {_src(f)})")
    locs = list(dict.fromkeys(locs))
    if tot.co2e_kg is not None:
        loc_text = "; ".join(locs)
        part = "" if tot.co2e_runs == tot.runs else f" for the {tot.co2e_runs} of {tot.runs} runs with a location"
        s.append(f"At a grid carbon intensity of {loc_text}, this emitted an estimated "
                 f"{_fm(tot.co2e_kg, M)} CO2e ({_lb(tot.co2e_kg)}){part}.")
        if len(nets) == tot.runs and all(n is not None for n in nets):
            s.append(f"Net of carbon-free energy (market-based), it was {_fm(sum(nets), M)} CO2e; the "
                     "location-based figure above is the one reported.")
    else:
        s.append("No location was given, so no CO2e is stated.")
    cost = _cost_text(tot.cost_usd_low, tot.cost_usd_high, tot.electricity_cost_usd)
    if cost:
        s.append(f"It had {cost}.")
    picks = D.equivalents(tot.co2e_kg, tot.energy_kwh)
    if picks:
        s.append("That is about " + ", or ".join(f"{e['text']} ({D.source_text(e)})" for e in picks) + ".")
    s.append(f"Energy was measured with wattprint {__version__} and converted following Strubell et al. (2019).")

    rows = [("runs", str(tot.runs)), ("duration", _fd(tot.duration_s)),
            ("energy at the equipment (IT)", _fe(tot.energy_kwh_it, E))]
    for kind, kwh in sorted(tot.by_kind.items(), key=lambda kv: -kv[1]):
        label = {d.label for r in runs for d in r.record.domains if d.kind == kind}
        rows.append((f"  of which {kind} ({'/'.join(sorted(label))})", _fe(kwh, E)))
    if fps:
        rows.append(("PUE", ", ".join(sorted({D.factor_value(fp.pue) for fp in fps}))))
        rows.append(("energy at the facility", _fe(tot.energy_kwh, E)))
    rows.append(("CO2e", _fm(tot.co2e_kg, M)))
    if cost:
        if tot.cost_usd_high is not None:
            rows.append(("cloud cost", fmt.usd(tot.cost_usd_low, tot.cost_usd_high)))
        if tot.electricity_cost_usd is not None:
            rows.append(("electricity cost", fmt.usd(tot.electricity_cost_usd)))
    sources = []
    for src in D.sources(runs):
        if src.get("factor") == "equivalent" and not any(e["name"] == src.get("name") for e in picks):
            continue
        line = D.source_line(src)
        if src.get("url"):
            line += f", {src['url']}"
        sources.append(line)
    sources.append(CITATION)
    return s, rows, sources


# -- Markdown ---------------------------------------------------------------------------------
_MD_SPECIAL = set("\\`*_{}[]<>#|~")


def md_escape(text) -> str:
    out = []
    text = printable(str(text).replace("\r", " ").replace("\n", " "))
    for i, ch in enumerate(text):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":  # only where it could start an entity: 'R&D' stays readable as plain text
            out.append("&amp;" if re.match(r"&#?\w+;", text[i:]) else "&")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def markdown(runs: list) -> str:
    sentences, rows, sources = statement(runs)
    out = ["## Energy and carbon footprint", "", md_escape(" ".join(sentences)), "",
           "| quantity | value |", "|---|---|"]
    out += [f"| {md_escape(k.strip())} | {md_escape(v)} |" for k, v in rows]
    out += ["", "Sources:", ""]
    out += [f"- {md_escape(s)}" for s in sources]
    return "\n".join(out) + "\n"


# -- LaTeX ------------------------------------------------------------------------------------
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
        "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "\n": " ", "\r": " "}


def tex_escape(text) -> str:
    s = "".join(_TEX.get(ch, ch) for ch in printable(str(text).replace("\r", " ").replace("\n", " ")))
    return s.replace("CO2e", r"CO\textsubscript{2}e")


def latex(runs: list) -> str:
    """A paragraph, a table and the sources; needs no package beyond LaTeX's own."""
    sentences, rows, sources = statement(runs)
    out = ["% Energy and carbon footprint statement written by wattprint", r"\paragraph{Energy and carbon footprint.}",
           tex_escape(" ".join(sentences)), "", r"\begin{table}[h]", r"\centering",
           r"\begin{tabular}{lr}", r"\hline", r"Quantity & Value \\", r"\hline"]
    for k, v in rows:
        indent = r"\quad " if k.startswith("  ") else ""
        out.append(f"{indent}{tex_escape(k.strip())} & {tex_escape(v)} \\\\")
    out += [r"\hline", r"\end{tabular}", r"\caption{Energy and carbon footprint of the training.}",
            r"\end{table}", "", r"\noindent Sources:", r"\begin{itemize}"]
    out += [r"\item " + tex_escape(s) for s in sources]
    out += [r"\end{itemize}"]
    return "\n".join(out) + "\n"
