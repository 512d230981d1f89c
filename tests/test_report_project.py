"""`wattprint report --project P`: Strubell Table 4 levels, energy and CO2e over time, the tuning
share and the costliest runs, in HTML, Markdown and LaTeX (issue 12, item 7)."""
import os
import re
import time

import pytest

from test_report import make_run, wp
from wattprint.store import Store

DAY = 86400.0


def _run(path, run_id, *, n, tags, days_ago, project="bert", location=None):
    """A run of ``n`` seconds that started ``days_ago`` days ago; returns its IT energy (kWh)."""
    e = make_run(path, run_id, n=n, tags=tags, project=project, location=location, predictions=False)
    s = Store.open(path)
    rec = s.get_run(run_id)
    start = time.time() - days_ago * DAY
    s.update_run(rec.key, started_at=start, ended_at=start + n)
    s.close()
    return sum(e.values()) / 3.6e6


def _project(path):
    kwh = {"f1": _run(path, "f1", n=720, tags=["final"], days_ago=1.2),
           "t1": _run(path, "t1", n=360, tags=["tuning"], days_ago=3.2),
           "t2": _run(path, "t2", n=540, tags=["sweep"], days_ago=3.1),
           "x1": _run(path, "x1", n=180, tags=["ablation"], days_ago=5.2, location={})}
    _run(path, "o1", n=100, tags=["final"], days_ago=1, project="other")
    return kwh


def _md_rows(md, heading):
    part = md.split(heading, 1)[1].split("\n\n", 2)[1]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in part.splitlines()[2:]]


def _number(cell):
    return float(cell.rstrip("*").replace(",", "").replace(" %", ""))


def test_markdown_has_the_levels_the_tuning_share_the_days_and_the_costliest_runs(store_path):
    kwh = _project(store_path)
    r = wp("report", "--project", "bert")
    assert r.returncode == 0, r.stderr
    md = r.stdout
    unit = re.search(r"\| energy \((\w+)\) \|", md).group(1)
    size = {"kWh": 1.0, "Wh": 1e-3}[unit]
    levels = {row[0]: row for row in _md_rows(md, "### Levels")}
    assert [row[1] for row in levels.values()] == ["1", "2", "1", "4"]
    total = sum(kwh.values()) * 1.1 - kwh["x1"] * 0.1  # x1 has no location: no PUE
    tuning = (kwh["t1"] + kwh["t2"]) * 1.1
    assert _number(levels["whole R&D (all runs)"][3]) * size == pytest.approx(total, rel=0.005)
    assert _number(levels["tuning (tag tuning/sweep/hpo)"][3]) * size == pytest.approx(tuning, rel=0.005)
    assert _number(levels["tuning (tag tuning/sweep/hpo)"][6]) == pytest.approx(tuning / total * 100, abs=0.06)
    assert levels["whole R&D (all runs)"][4].endswith("*")  # CO2e covers 3 of 4 runs
    m = re.search(r"Tuning \(2 runs\) took ([\d.]+) % of the energy", md)
    assert m and float(m.group(1)) == pytest.approx(tuning / total * 100, abs=0.06)
    # by day, oldest first: x1 (5 days ago), t1 + t2 (3 days ago), f1 (1 day ago)
    days = _md_rows(md, "### Energy and CO2e by day")
    assert [d[1] for d in days] == ["1", "2", "1"] and [d[0] for d in days] == sorted(d[0] for d in days)
    assert _number(days[1][2]) * size == pytest.approx(tuning, rel=0.005)
    # the costliest runs, most energy first
    top = _md_rows(md, "runs that used the most energy")
    assert [t[0] for t in top] == ["f1", "t2", "t1", "x1"]
    assert "o1" not in md  # another project


def test_top_n_since_and_tag_filter_the_runs(store_path):
    _project(store_path)
    r = wp("report", "--project", "bert", "--top", "2")
    assert [t[0] for t in _md_rows(r.stdout, "runs that used the most energy")] == ["f1", "t2"]
    r = wp("report", "--project", "bert", "--since", "2d")
    assert r.returncode == 0, r.stderr
    assert [row[1] for row in _md_rows(r.stdout, "### Levels")] == ["1", "0", "0", "1"]
    since = time.strftime("%Y-%m-%d", time.localtime(time.time() - 4 * DAY))
    r = wp("report", "--project", "bert", "--since", since, "--tag", "tuning")
    assert r.returncode == 0, r.stderr
    assert [row[1] for row in _md_rows(r.stdout, "### Levels")] == ["0", "1", "0", "1"]


def test_a_long_project_is_shown_by_week(store_path):
    for i, days in enumerate((200, 199, 120, 3)):
        _run(store_path, f"w{i}", n=60, tags=[], days_ago=days)
    r = wp("report", "--project", "bert")
    assert r.returncode == 0, r.stderr
    weeks = _md_rows(r.stdout, "### Energy and CO2e by week")
    assert 3 <= len(weeks) <= 4 and sum(int(w[1]) for w in weeks) == 4
    import datetime as dt

    assert all(dt.date.fromisoformat(w[0]).weekday() == 0 for w in weeks)  # each week by its Monday


def test_all_three_formats_by_suffix_or_format(store_path, tmp_path):
    _project(store_path)
    out = tmp_path / "o"
    out.mkdir()
    r = wp("report", "--project", "bert", "-o", str(out / "p.html"))
    assert r.returncode == 0, r.stderr
    r = wp("report", "--project", "bert", "-o", str(out / "p.md"))
    assert r.returncode == 0, r.stderr
    r = wp("report", "--project", "bert", "--format", "latex", "-o", str(out / "p.txt"))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["p.html", "p.md", "p.txt"]
    page = (out / "p.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page and "<script" not in page
    assert 'class="plot energy-over-time"' in page and 'class="plot co2e-over-time"' in page
    assert page.count('<rect class="bar"') == 6  # three days, energy and CO2e
    assert "Levels (Strubell et al. 2019, Table 4)" in page and 'class="top"' in page
    assert (out / "p.md").read_text().startswith("## wattprint project report: bert")
    tex = (out / "p.txt").read_text()
    assert r"\begin{tabular}{lrrrrrr}" in tex and r"R\&D" in tex and r"\%" in tex
    body = re.sub(r"\\[{}]", "", tex)
    assert body.count("{") == body.count("}")
    seen = re.sub(r"<[^>]+>", " ", page.split("</style>", 1)[1])  # what a reader sees, not colours
    for text in (seen, (out / "p.md").read_text(), tex):
        assert not re.search(r"\d[eE][-+]?\d", text)


def test_user_text_is_escaped_in_every_format(store_path, tmp_path):
    evil = "<b>x</b> 50% $y$ a_b | *z*"
    _run(store_path, "e1", n=60, tags=["final"], days_ago=1, project=evil)
    for fmt_, check in (("html", lambda t: "<b>x</b>" not in t and "&lt;b&gt;x&lt;/b&gt;" in t),
                        ("md", lambda t: "<b>" not in t and r"a\_b \| \*z\*" in t),
                        ("latex", lambda t: r"50\% \$y\$ a\_b \textbar{} *z*" in t)):
        r = wp("report", "--project", evil, "--format", fmt_)
        assert r.returncode == 0, r.stderr
        assert check(r.stdout), (fmt_, r.stdout[:400])


@pytest.mark.parametrize("args, message", [
    (["--project", "nope"], "no runs in project 'nope'; known projects: bert, other"),
    (["--project", "bert", "--since", "yesterday"], "--since 'yesterday': give a date"),
    (["--project", "bert", "--since", "2026-13-45"], "--since '2026-13-45'"),
    (["--project", "bert", "--since", "3000-01-01"], "no runs of project 'bert' match since 3000-01-01"),
    (["--project", "bert", "--tag", "zzz"], "no runs of project 'bert' match tag 'zzz'"),
    (["--project", "bert", "f1"], "run ids or --project, not both"),
    (["--tag", "final"], "add --project P"),
    (["--project", "bert", "-o", "{out}/x.pdf"], "end the name in .html, .md or .tex"),
    (["--project", "bert", "-o", "{out}/missing/x.html"], "does not exist"),
    (["--project", "bert", "--top", "-1"], "--top -1"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(store_path, tmp_path, args, message):
    _project(store_path)
    r = wp("report", *[a.format(out=tmp_path) for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == "" and not any(p.suffix in (".pdf", ".html") for p in tmp_path.rglob("x.*"))


def test_empty_store_names_no_projects(store_path):
    Store.open(store_path).close()
    r = wp("report", "--project", "bert")
    assert r.returncode == 2 and "no runs in project 'bert'; the store has no project yet" in r.stderr


@pytest.mark.browser
@pytest.mark.slow
def test_project_html_in_chromium(store_path, tmp_path):
    from test_browser import CHROMIUM, load_in_chromium

    if CHROMIUM is None:
        pytest.skip("chromium not installed (CI installs Debian's chromium)")
    _project(store_path)
    out = tmp_path / "p.html"
    assert wp("report", "--project", "bert", "-o", str(out)).returncode == 0
    url, events, probe = load_in_chromium(out, tmp_path / "profile")
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert requests == [url], requests
    assert not [e for e in events if e["method"] in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled")]
    assert probe["scripts"] == 0 and probe["overflow"] <= 0, probe["overflow"]
    assert probe["plots"] == ["plot energy-over-time", "plot co2e-over-time"] and probe["drawn"] == 2
    assert "one model (tag final)" in probe["text"] and "whole R&D (all runs)" in probe["text"]


def test_the_old_flags_and_out_work_for_projects_and_runs_alike(store_path, tmp_path):
    _project(store_path)
    r = wp("report", "--project", "bert", "--md", str(tmp_path / "a.md"), "--latex", str(tmp_path / "a.tex"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.md").read_text().startswith("## wattprint project report")
    assert (tmp_path / "a.tex").read_text().startswith("% Project energy")
    r = wp("report", "f1", "-o", str(tmp_path / "run.tex"))  # a run's statement, format from the suffix
    assert r.returncode == 0, r.stderr
    assert r"\paragraph{Energy and carbon footprint.}" in (tmp_path / "run.tex").read_text()
