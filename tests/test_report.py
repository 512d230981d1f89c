"""Reports: plot series, HTML, Markdown/LaTeX statements, terminal summary and the report command."""
import math
import os
import re
import subprocess
import sys
import time

import pytest

from wattprint.store import DomainTotal, RunRecord, Store

WATTS = {"cpu:0": 40.0, "dram:0": 5.0, "gpu:0": 250.0}
KINDS = {"cpu:0": ("cpu", "rapl", "measured"), "dram:0": ("dram", "dram-model", "modelled"),
         "gpu:0": ("gpu", "nvml", "measured")}


def make_run(path, run_id="r1", *, n=3600, dt=1.0, project="bert", tags=("final",), location=None,
             predictions=True, samples=True, command="python train.py --lr 3e-4", status="finished"):
    """A finished run with n samples per domain of a known, varying power; returns true totals (J)."""
    s = Store.open(path)
    doms = [DomainTotal(name, k, src, label, f"{src} test", 0.0, 0.0, idx=i,
                        device="0" if k == "gpu" else None)
            for i, (name, (k, src, label)) in enumerate(KINDS.items())]
    now = time.time()
    rec = RunRecord(id=run_id, status="running", started_at=now - n * dt, updated_at=now, project=project,
                    tags=list(tags), command=command, host="testhost",
                    location={"region": "DE", "pue": "1.1"} if location is None else location,
                    domains=doms, total=100, unit="epoch", interval_s=dt)
    key = s.create_run(rec)
    energy = {name: 0.0 for name in WATTS}
    rows = []
    for i in range(1, n + 1 if samples else 1):
        t = i * dt
        for idx, (name, w0) in enumerate(WATTS.items()):
            w = w0 * (1 + 0.3 * math.sin(t / 97.0 + idx))
            energy[name] += w * dt
            rows.append((t, idx, energy[name], w))
    preds = []
    if predictions:
        total = sum(energy.values()) / 3.6e6
        for k in range(1, 10):
            e = total * (1 + 0.2 / k)
            preds.append((n * dt * k / 10, {"energy_kwh": e, "energy_kwh_low": e * 0.9,
                                            "energy_kwh_high": e * 1.1, "fraction_done": k / 10,
                                            "reliable": k >= 3}))
    # the work (100 steps) ends at 95 % of the run; the rest is teardown
    work_j = 0.95 * sum(energy.values())
    progress = [(n * dt * 0.95 * k / 10, 10.0 * k, 100.0, work_j * k / 10) for k in range(1, 11)]
    s.flush(key, samples=rows, domain_energy={i: energy[nm] for i, nm in enumerate(WATTS)}, predictions=preds,
            progress=progress,
            run_fields=dict(status=status, ended_at=now, duration_s=n * dt, energy_j=sum(energy.values()),
                            done=100.0))
    s.close()
    return energy


def wp(*args, env=None):
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=120)


# -- plot series ------------------------------------------------------------------------------
def test_power_series_buckets_are_exact_averages_and_totals_come_from_the_store(store_path):
    from wattprint.report import data

    energy = make_run(store_path, n=5000)
    s = Store.open(store_path)
    [r] = data.load(s, ["r1"], points=100)
    assert set(r.series) == set(WATTS)
    for name, pts in r.series.items():
        assert 90 <= len(pts) <= 100
        # The buckets tile [first sample, last sample]: their energy adds up to the counter's rise.
        first_w = WATTS[name] * (1 + 0.3 * math.sin(1 / 97.0 + list(WATTS).index(name)))
        span_energy = energy[name] - first_w * 1.0
        width = (5000 - 1) / 100
        got = sum(w * width for _, w in pts)
        assert got == pytest.approx(span_energy, rel=0.02)
        assert min(w for _, w in pts) >= WATTS[name] * 0.69 and max(w for _, w in pts) <= WATTS[name] * 1.31
    tot = data.totals([r])
    assert tot.energy_kwh_it == pytest.approx(sum(energy.values()) / 3.6e6, rel=1e-12)
    assert tot.co2e_kg == pytest.approx(tot.energy_kwh * r.footprint.inputs["intensity_g_per_kwh"] / 1000)


def test_run_without_samples_unknown_id_and_empty_store_are_usage_errors(store_path):
    from wattprint.errors import UsageError
    from wattprint.report import data

    Store.open(store_path).close()
    s = Store.open(store_path)
    with pytest.raises(UsageError, match="store is empty"):
        data.load(s, ["nope"])
    make_run(store_path, "empty", samples=False, predictions=False)
    with pytest.raises(UsageError, match="has no samples"):
        data.load(s, ["empty"])
    with pytest.raises(UsageError, match="no run 'zzz'"):
        data.load(s, ["zzz"])


# -- HTML ---------------------------------------------------------------------------------------
def parse_tags(page):
    from html.parser import HTMLParser

    found = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

        handle_startendtag = handle_starttag

    P().feed(page)
    return found


EVIL = '<script>alert("x")</script>&"\'<img src=x onerror=alert(1)>'


def test_html_is_self_contained_escaped_and_has_its_plots(store_path):
    from wattprint.report import data, html

    make_run(store_path, "a1", project=EVIL, tags=[EVIL, "final"], command=f"python {EVIL}")
    make_run(store_path, "a2", project="plain", tags=["tuning"], location={})
    s = Store.open(store_path)
    page = html.render(data.load(s, ["a1", "a2"]))
    # Nothing to fetch and nothing to run: check the elements a parser sees.
    tags = parse_tags(page)
    names = {t for t, _ in tags}
    assert not names & {"script", "img", "link", "iframe", "object", "embed", "image", "use", "foreignobject"}
    for tag, attrs in tags:
        assert not any(k in ("src", "srcset", "style", "background", "xlink:href") or k.startswith("on")
                       for k, _ in attrs), (tag, attrs)
        if tag != "a":
            assert "href" not in dict(attrs), tag
        else:
            assert dict(attrs)["href"].startswith(("https://", "http://"))
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page
    # User text is escaped everywhere.
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<img" not in page
    # Plots: one power chart per run, a breakdown, the regions and the predictions.
    assert page.count('class="plot power"') == 2
    assert page.count('class="plot breakdown"') == 2
    assert 'class="plot regions"' in page and page.count('class="plot predictions"') == 2
    assert page.count("<polyline") >= 2 * len(WATTS)
    # The sum row for two runs; a2 had no location so CO2e covers one of them.
    assert "sum of 2 runs" in page and "1 of 2 runs with a location" in page
    assert "Had you trained elsewhere" in page and "Ember" in page
    assert "Sources of every factor" in page
    assert "no location given" in page


def test_html_size_stays_small_for_a_long_run(store_path):
    from wattprint.report import data, html

    make_run(store_path, n=40000, dt=5.0)  # 55 h at 5 s, 120,000 rows
    page = html.render(data.load(Store.open(store_path), ["r1"]))
    assert len(page.encode()) < 200_000


# -- Markdown / LaTeX -------------------------------------------------------------------------
def test_markdown_statement_names_what_was_measured_modelled_and_every_source(store_path):
    from wattprint.report import data, markdown

    make_run(store_path, project="*bold* [x](http://e) <b>")
    runs = data.load(Store.open(store_path), ["r1"])
    md = markdown.markdown(runs)
    assert "Measured with hardware energy counters: cpu (rapl test); gpu (nvml test)" in md
    assert "Modelled rather than measured: dram (dram\\-model test)" in md or \
           "Modelled rather than measured: dram (dram-model test)" in md
    assert "PUE) of 1.1 (given by the user" in md
    assert "342 g CO2e/kWh" in md and "Ember" in md and "2024" in md
    assert "\\*bold\\*" in md and "\\[x\\]" in md and "&lt;b&gt;" in md and "<b>" not in md
    assert "| CO2e |" in md
    assert "Strubell, E., Ganesh, A. and McCallum, A. (2019)" in md


def test_latex_escapes_user_text_and_numbers(store_path):
    from wattprint.report import data, markdown

    make_run(store_path, project=r"50% \input{/etc/passwd} $x$ #1 a_b ~ ^ & {}")
    tex = markdown.latex(data.load(Store.open(store_path), ["r1"]))
    assert r"50\% \textbackslash{}input\{/etc/passwd\} \$x\$ \#1 a\_b \textasciitilde{} \textasciicircum{} \& \{\}" in tex
    assert r"\input{" not in tex
    assert r"CO\textsubscript{2}e" in tex
    # Braces balance and every table row ends its line.
    body = re.sub(r"\\[{}]", "", tex)
    assert body.count("{") == body.count("}")
    assert r"\begin{tabular}{lr}" in tex and r"\end{tabular}" in tex


# -- terminal summary ---------------------------------------------------------------------------
def test_terminal_summary_has_components_co2e_source_equivalents_and_prediction(store_path):
    from wattprint.report.terminal import summary
    from wattprint.footprint import for_record as footprint_of

    make_run(store_path)
    s = Store.open(store_path)
    rec = s.get_run("r1")
    text = summary(rec, footprint_of(rec), store=s)
    assert "gpu:0" in text and "measured" in text and "modelled" in text
    assert "CO2e:" in text and "342 g/kWh" in text and "Ember" in text and "2024" in text
    assert "energy with PUE 1.1" in text
    assert "≈" in text
    # the first reliable prediction (30 %), against the energy the 100 steps took
    m = re.search(r"prediction at 30 %: .*; the work took .* \(\+(\d+\.\d) %\), .* more after", text)
    e = (1 + 0.2 / 3) / 0.95
    assert m and float(m.group(1)) == pytest.approx((e - 1) * 100, abs=0.06), text
    # Old call style still works: no footprint, no store (the default store is this one).
    assert summary(rec).startswith("wattprint: run r1 finished")


# -- the command -------------------------------------------------------------------------------
def test_report_command_writes_all_three_atomically(store_path, tmp_path):
    make_run(store_path)
    out = tmp_path / "out"
    out.mkdir()
    r = wp("report", "r1", "--html", str(out / "r.html"), "--md", str(out / "r.md"),
           "--latex", str(out / "r.tex"))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["r.html", "r.md", "r.tex"]  # no temp files left behind
    assert (out / "r.html").read_text().startswith("<!DOCTYPE html>")
    r = wp("report", "r1")  # nothing asked: the Markdown statement on stdout
    assert r.returncode == 0 and "## Energy and carbon footprint" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["nope", "--html", "{out}/x.html"], "no run 'nope'"),
    (["--html", "{out}/x.html"], "name at least one run id"),
    (["r1", "--html", "{out}/missing/x.html"], "does not exist"),
    (["r1", "--html", "{out}"], "is a directory"),
    (["r1", "--md", "-", "--latex", "-"], "only one of"),
    (["empty", "--html", "{out}/x.html"], "has no samples"),
])
def test_report_bad_input_is_one_line_exit_2(store_path, tmp_path, args, message):
    make_run(store_path)
    make_run(store_path, "empty", samples=False, predictions=False)
    r = wp("report", *[a.format(out=tmp_path) for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.html").exists()


def test_report_on_an_empty_or_missing_store(tmp_path):
    env = dict(os.environ, WATTPRINT_STORE=str(tmp_path / "none.sqlite"))
    r = wp("report", "r1", "--html", str(tmp_path / "x.html"), env=env)
    assert r.returncode == 2 and "no run store" in r.stderr
    Store.open(str(tmp_path / "none.sqlite")).close()
    r = wp("report", "r1", "--html", str(tmp_path / "x.html"), env=env)
    assert r.returncode == 2 and "store is empty" in r.stderr


def test_failed_write_leaves_no_partial_file(tmp_path):
    from wattprint.report.files import write_output

    target = tmp_path / "w" / "r.html"
    target.parent.mkdir()
    target.write_text("old")

    def boom(f):
        f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_output(str(target), boom)
    assert target.read_text() == "old" and os.listdir(target.parent) == ["r.html"]


def test_report_of_a_real_tracked_run_over_fake_rapl(tmp_path, store_path):
    """End to end: track() over the fake powercap tree, then the report command."""
    sys.path.insert(0, os.path.dirname(__file__))
    from sysfs import FakeRapl

    import wattprint

    with FakeRapl(tmp_path / "sysfs", {"package-0": 40.0, "dram": 5.0}):
        with wattprint.track(sysfs_root=str(tmp_path / "sysfs"), store=store_path, interval=0.05,
                             gpus=False, project="<b>real</b>", region="FR", total=4, unit="epoch") as run:
            for i in range(4):
                time.sleep(0.15)
                run.progress(i + 1)
    r = wp("report", run.run_id, "--html", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert "&lt;b&gt;real&lt;/b&gt;" in page and 'class="plot power"' in page
    names = [d.name for d in run.record.domains]
    assert names and all(f"<code>{n}</code>" in page or f">{n}<" in page for n in names), names
    assert "measured" in page  # RAPL counters, said so


def test_a_tiny_run_reads_in_plain_numbers_in_terminal_markdown_and_html(store_path):
    """Issue 11: 'e-05 x typical US passenger vehicle' and '(0.0 lb)' are gone; at most three items."""
    from wattprint.footprint import for_record as footprint_of
    from wattprint.report import data, html, markdown
    from wattprint.report.terminal import summary

    make_run(store_path, n=2, location={"region": "US"}, predictions=False)
    s = Store.open(store_path)
    rec = s.get_run("r1")
    fp = footprint_of(rec)
    assert fp.co2e_kg < 1e-3
    text = summary(rec, fp, store=s)
    eq_lines = [ln for ln in text.splitlines() if ln.strip().startswith("≈")]
    assert 1 <= len(eq_lines) <= 3 and not re.search(r"\de-\d", text), text
    assert any("by car" in ln for ln in eq_lines)
    runs = data.load(s, ["r1"])
    md = markdown.markdown(runs)
    assert "(0.0 lb)" not in md and not re.search(r"\de-\d", md), md
    assert re.search(r"\(0\.0+[1-9]\d* lb\)", md), md
    assert "That is about" in md and md.count(" by car") == 1
    page = html.html(runs) if hasattr(html, "html") else html.render(runs)
    assert 'class="equivalents"' in page and not re.search(r"<td class=n>\d[.\d]*e-\d", page)


# -- scopes (issue 11, item 7) ------------------------------------------------------------------
def test_had_you_trained_elsewhere_compares_one_scope_and_says_it_on_each_line():
    from wattprint.report import data

    rows = data.regions(100.0)
    assert rows and {r["scope"] for r in rows} == {"lifecycle"}
    assert all(r["scope_text"] == "life-cycle" for r in rows)
    gcp = next(r for r in rows if r["name"].startswith("gcp:us-central1"))
    # Google's 413 g/kWh is operational: the comparison uses the region's grid zone (life-cycle)
    assert "grid zone" in gcp["name"] and "Electricity Maps" in gcp["source"]
    assert gcp["intensity_g_per_kwh"] != pytest.approx(412.72)


@pytest.mark.parametrize("location,scope", [({"region": "US-CA"}, "combustion only"), ({"region": "DE"}, "life-cycle"),
                                            ({"cloud": "gcp:us-central1"}, "operational"),
                                            ({"cloud": "aws:us-east-1"}, "life-cycle"),
                                            ({"intensity": "300"}, "scope not stated")])
def test_every_intensity_shows_its_scope_in_summary_and_markdown(store_path, location, scope):
    from wattprint.footprint import for_record as footprint_of
    from wattprint.report import data, markdown
    from wattprint.report.terminal import summary

    make_run(store_path, n=60, location=location, predictions=False)
    s = Store.open(store_path)
    rec = s.get_run("r1")
    line = next(ln for ln in summary(rec, footprint_of(rec), store=s).splitlines() if "CO2e:" in ln)
    assert f"g/kWh, {scope}," in line, line
    md = markdown.markdown(data.load(s, ["r1"]))
    assert data.scope_text({"life-cycle": "lifecycle", "combustion only": "direct", "operational": "operational",
                            "scope not stated": None}[scope], long=True).split(" (")[0] in md


def test_estimate_text_names_the_scope_of_the_intensity_and_of_each_comparison():
    r = wp("estimate", "--power-w", "1000", "--hours", "1", "--region", "US-TX")
    assert r.returncode == 0, r.stderr
    assert "[scope: combustion only]" in r.stdout
    lines = r.stdout.split("the same energy elsewhere:")[1].split("sources:")[0].strip().splitlines()
    assert len(lines) == 8 and all(ln.rstrip().endswith("; life-cycle)") for ln in lines), lines


def test_summary_shows_the_pue_year_or_that_none_is_stated(store_path):
    from wattprint.footprint import for_record as footprint_of
    from wattprint.report.terminal import summary

    for rid, cloud, expect in (("a1", "aws:us-east-1", "AWS: global PUE of its data centres, 2024"),
                               ("g1", "gcp:us-central1", "via Cloud Carbon Footprint, year not stated")):
        make_run(store_path, run_id=rid, n=30, location={"cloud": cloud}, predictions=False)
        s = Store.open(store_path)
        rec = s.get_run(rid)
        line = next(ln for ln in summary(rec, footprint_of(rec), store=s).splitlines() if "energy with PUE" in ln)
        assert expect in line, line


# -- net CO2e, market-based (issue 11, item 8) --------------------------------------------------
def test_a_google_region_run_reports_net_co2e_labelled_market_based(store_path):
    from wattprint.footprint import for_record as footprint_of
    from wattprint.report import data, markdown
    from wattprint.report.terminal import summary

    make_run(store_path, n=60, location={"cloud": "gcp:europe-west1"}, predictions=False)
    s = Store.open(store_path)
    rec = s.get_run("r1")
    fp = footprint_of(rec)
    assert fp.co2e_net_kg == pytest.approx(fp.co2e_kg * (1 - 0.84))  # Google: 84 % carbon-free, 2024
    text = summary(rec, fp, store=s)
    assert "CO2e net (market-based):" in text and "CO2e: " in text
    md = markdown.markdown(data.load(s, ["r1"]))
    assert "Net of carbon-free energy (market-based)" in md and "location-based figure above" in md


def test_statement_sources_are_plain_numbers_without_placeholder_names(store_path):
    from wattprint.report import data, markdown

    make_run(store_path, location={"intensity": "0.0000234 g/kWh"})  # tiny, and no PUE given
    md = markdown.markdown(data.load(Store.open(store_path), ["r1"]))
    assert not re.search(r"\d[eE][-+]?\d", md.replace("3e-4", "")), md  # the command line keeps its own
    assert "0.0000234 g" in md and "(none)" not in md
    assert "pue: 1 ratio - assumed" in md
