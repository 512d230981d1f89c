"""The HTML run report's layout (issue 12, 'The HTML report'): headline card first, then the run's
power over time with windows and warm-up marked, components, one-scope comparisons, at most
three equivalents, windows by name with the full list folded, one unit per quantity, A4 print,
every compared region's intensity under Sources."""
import re

import pytest

from test_report import make_run, parse_tags, wp
from wattprint.store import Store

EPOCH_S = 300.0


def add_windows(path, run_id, *, epochs=10, evals=True, warmup_s=None):
    """``epochs`` epoch windows tiling the run (and an eval window in each); the predictions say
    the warm-up ended at ``warmup_s``."""
    s = Store.open(path)
    rec = s.get_run(run_id)
    wins = []
    for k in range(epochs):
        a = k * EPOCH_S
        wins.append(("epoch", a, a + EPOCH_S, {"cpu:0": 40.0 * EPOCH_S, "gpu:0": 250.0 * EPOCH_S}))
        if evals:
            wins.append(("eval", a + EPOCH_S - 30, a + EPOCH_S, {"gpu:0": 120.0 * 30}))
    preds = []
    if warmup_s is not None:
        preds = [(t, {"energy_kwh": 1.0, "energy_kwh_low": 0.9, "energy_kwh_high": 1.1, "fraction_done": 0.5,
                      "reliable": True, "warmup_s": warmup_s}) for t in (1000.0, 2000.0)]
    s.flush(rec.key, windows=wins, predictions=preds)
    s.close()
    return wins


def _render(store_path, *ids):
    from wattprint.report import data, html

    return html.render(data.load(Store.open(store_path), list(ids)))


def _text(page):
    """What a reader sees: tags out, entities back."""
    from html import unescape

    page = re.sub(r"<title>.*?</title>", " ", page, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", page.split("<body>", 1)[1]))


def test_the_report_opens_with_a_headline_card_then_power_components_comparisons(store_path):
    make_run(store_path, "h1", n=3000)
    add_windows(store_path, "h1", warmup_s=240.0)
    page = _render(store_path, "h1")
    order = [page.index(x) for x in ('class="card headline"', 'class="plot power"', 'class="plot predictions"',
                                     "<h3>Components</h3>", "Had you trained elsewhere", "<h2>Equivalents</h2>",
                                     "Sources of every factor")]
    assert order == sorted(order), order
    start = page.index('class="card headline"')
    card = page[start:page.index("<h3>", start)]
    for k in (">energy<", ">CO2e<", ">cost<", ">duration<", ">how<"):
        assert k in card, k
    # the test run measures cpu and gpu and models dram: a mixed badge with the modelled share
    assert re.search(r'class="badge mixed">mostly measured<.*>\d+ % of the energy modelled<', card), card
    # windows shaded, warm-up shaded and said
    assert page.count('class="span window"') == 20 and page.count('class="span warmup"') == 1
    assert "warm-up (the first 4 min 0 s" in page
    assert page.count('class="band"') == 1  # the prediction's range


def test_windows_are_aggregated_by_name_and_the_full_list_folded(store_path):
    make_run(store_path, "w1", n=3000)
    add_windows(store_path, "w1", epochs=10)
    page = _render(store_path, "w1")
    groups = page[page.index('class="window-groups"'):page.index("</table>", page.index('class="window-groups"'))]
    rows = re.findall(r"<tr><td><code>(\w+)</code></td><td class=n>([\d,]+)</td><td class=n>([^<]+)</td>"
                      r"<td class=n>([^<]+)</td><td class=n>([^<]+)</td>", groups)
    assert [(r[0], r[1]) for r in rows] == [("epoch", "10"), ("eval", "10")]
    unit = re.search(r"energy \((\w+)\)", groups).group(1)
    size = {"kWh": 1.0, "Wh": 1e-3, "J": 1 / 3.6e6}[unit]
    epoch_kwh = 10 * 290.0 * EPOCH_S / 3.6e6
    assert float(rows[0][3].replace(",", "")) * size == pytest.approx(epoch_kwh, rel=0.01)
    assert float(rows[0][4].replace(",", "")) * size == pytest.approx(epoch_kwh / 10, rel=0.01)
    assert rows[0][2] == "50 min 0 s" and rows[1][2] == "5 min 0 s"
    # the full list: folded, every window in it
    folded = page[page.index('<details class="windows">'):page.index("</details>")]
    assert "<summary>All 20 windows</summary>" in folded and folded.count("<tr><td><code>") == 20


def test_many_windows_are_ticks_not_shades(store_path):
    make_run(store_path, "m1", n=3000, dt=10.0)
    add_windows(store_path, "m1", epochs=100, evals=False)
    page = _render(store_path, "m1")
    assert 'class="span window"' not in page and page.count('class="mark"') == 100
    assert "start of each of 100 windows" in page


def test_one_unit_per_quantity_and_no_scientific_notation(store_path):
    # a tiny run (mg, J) and a larger one; the command's own '3e-4' is the user's text, not ours
    make_run(store_path, "u1", n=2, location={"region": "US"}, predictions=False, command="python t.py")
    make_run(store_path, "u2", n=3600, location={"region": "FR"}, command="python t.py")
    for ids in (["u1"], ["u1", "u2"]):
        page = _render(store_path, *ids)
        text = _text(page)
        assert not re.search(r"\d[eE][-+]?\d", text), ids
        # Sources give each factor in its publisher's unit (g/kWh, kWh per kettle boil); the rest is ours
        # and quoted text (methods, sources, commands: cells that wrap) is theirs
        text = _text(re.sub(r"<td class=\"?wrap\"?>.*?</td>", "", page[:page.index("Sources of every factor")],
                            flags=re.S))
        assert not re.search(r"\d[eE][-+]?\d", text), ids
        energy_units = set(re.findall(r"\d (GWh|MWh|kWh|Wh|J)\b", text)) | set(
            re.findall(r"\((GWh|MWh|kWh|Wh|J)(?:, IT)?\)", text))
        mass_units = set(re.findall(r"\d (t|kg|g|mg)(?![\w/])", text)) | set(
            re.findall(r"CO2e \((t|kg|g|mg)\)", text))
        # the window table may pick its own unit; these runs have none
        assert len(energy_units) == 1, (ids, energy_units)
        assert len(mass_units) == 1, (ids, mass_units)
        # numbers and ids never wrap in a cell
        assert "white-space:nowrap" in page and re.search(r"td,th\{[^}]*white-space:nowrap", page)


def test_at_most_three_equivalents_and_comparisons_in_one_scope(store_path):
    make_run(store_path, "e1", n=3600, location={"cloud": "gcp:us-central1"})  # Google's factor: operational
    page = _render(store_path, "e1")
    eq = page[page.index('class="equivalents"'):page.index("</table>", page.index('class="equivalents"'))]
    assert 1 <= eq.count("<tr><td class=n>") <= 3
    # the run's own factor is operational: not drawn beside the life-cycle comparisons
    assert "life-cycle" in page and "not drawn beside them" in page and ">this run<" not in page
    make_run(store_path, "e2", n=3600, location={"region": "DE"})
    page = _render(store_path, "e2")
    assert ">this run<" in page and "not drawn beside them" not in page


def test_sources_list_every_regions_intensity(store_path):
    from wattprint.report import data

    make_run(store_path, "fr", n=60, location={"region": "FR"}, predictions=False)
    make_run(store_path, "de", n=60, location={"region": "DE"}, predictions=False)
    page = _render(store_path, "fr", "de")
    src = page[page.index("Sources of every factor"):]
    rows = re.findall(r"<tr><td>(intensity[^<]*)</td><td class=wrap>([^<]+)</td>", src)
    names = [n for _, n in rows]
    assert "FR" in names and "DE" in names  # both runs' grids
    compared = data.regions(1.0)
    assert compared and all(c["name"] in {n.replace("&#x27;", "'") for n in names} for c in compared)


def test_the_report_is_still_one_offline_file_without_script_and_prints_on_a4(store_path):
    make_run(store_path, "p1", n=600)
    add_windows(store_path, "p1", epochs=2, warmup_s=60.0)
    page = _render(store_path, "p1")
    assert not {t for t, _ in parse_tags(page)} & {"script", "img", "link", "iframe", "object", "embed"}
    assert "default-src 'none'" in page and "url(" not in page
    assert "@page{size:A4" in page and "@media print" in page


def test_report_command_still_writes_the_new_layout(store_path, tmp_path):
    make_run(store_path, "c1", n=600)
    out = tmp_path / "r.html"
    r = wp("report", "c1", "--html", str(out))
    assert r.returncode == 0, r.stderr
    assert 'class="card headline"' in out.read_text()
