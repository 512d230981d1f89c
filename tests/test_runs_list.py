"""``wattprint runs``: newest first, a limit that says what it hides, one unit per column."""
import json
import re
import time

from wattprint import fmt
from wattprint.footprint import for_record
from wattprint.store import DomainTotal, RunRecord, Store

LOCATIONS = [{"region": "FR"}, {"cloud": "gcp:us-central1"}, {}, {"intensity": 300.0}]


def _fill(path, n):
    st = Store.open(path)
    base = time.time() - 3 * 86400
    for i in range(n):
        joules = 900.0 * (i + 1) ** 2  # 0.25 Wh .. ~130 Wh: one scale must fit all
        st.create_run(RunRecord(
            id=f"r{i:02d}-{'abcdef'[i % 6]}", status="finished", started_at=base + 600 * i,
            updated_at=base + 600 * i + 60, duration_s=60.0 + i, energy_j=joules,
            project="bert" if i % 2 else "gpt", tags=["tuning"] if i % 3 else ["final", "paper"],
            location=LOCATIONS[i % 4],
            domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "t", joules, joules / 60)]))
    runs = st.list_runs()
    st.close()
    return runs


def _table(stdout):
    lines = stdout.splitlines()
    head = lines[0]
    rows = [ln for ln in lines[1:] if re.match(r"r\d\d-", ln)]
    return head, rows, lines


def test_newest_first_with_a_default_limit_and_a_line_saying_what_is_hidden(store_path, cli):
    runs = _fill(store_path, 24)
    r = cli("runs", "--store", store_path)
    assert r.returncode == 0, r.stderr
    head, rows, lines = _table(r.stdout)
    newest = [x.id for x in sorted(runs, key=lambda x: -x.started_at)]
    assert [row.split()[0] for row in rows] == newest[:20]
    assert "20 newest of 24 runs shown; 4 older: --limit 24 or --all lists them" in r.stdout
    for args in (["--all"], ["--limit", "0"], ["-n", "30"]):
        out = cli("runs", *args, "--store", store_path).stdout
        assert [row.split()[0] for row in _table(out)[1]] == newest and "older" not in out
    out = cli("runs", "-n", "3", "--project", "bert", "--store", store_path).stdout
    assert [row.split()[0] for row in _table(out)[1]] == [i for i in newest if int(i[1:3]) % 2][:3]
    assert "3 newest of 12 runs shown" in out
    # JSON: every run unless a limit is given, newest first too.
    assert len(json.loads(cli("runs", "--json", "--store", store_path).stdout)) == 24
    ids = [x["run_id"] for x in json.loads(cli("runs", "--json", "-n", "2", "--store", store_path).stdout)]
    assert ids == newest[:2]
    for bad in (["--limit", "-1"], ["--limit", "x"], ["--limit", "3", "--all"]):
        r = cli("runs", *bad, "--store", store_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""


def test_energy_and_co2e_columns_have_one_unit_named_in_the_header(store_path, cli):
    runs = {x.id: x for x in _fill(store_path, 8)}
    out = cli("runs", "--all", "--store", store_path).stdout
    head, rows, lines = _table(out)
    es = fmt.energy_scale([x.energy_kwh for x in runs.values()])
    co2 = {i: for_record(x).co2e_kg for i, x in runs.items() if x.location}
    ms = fmt.mass_scale(list(co2.values()))
    assert f"ENERGY {es.unit}" in head and f"CO2e {ms.unit}" in head
    assert "LOCATION" in head and "TAGS" in head
    assert "0.000000" not in out and not re.search(r"\de[+-]?\d", out)
    for row in rows:
        rid = row.split()[0]
        rec = runs[rid]
        cells = re.split(r"\s{2,}", row)
        assert es.number(rec.energy_kwh) in cells
        if rid in co2:
            assert ms.number(co2[rid]) in cells
        loc = rec.location
        assert (loc.get("region") or loc.get("cloud") or ("300 g/kWh" if loc else "-")) in " ".join(cells)
        assert ",".join(rec.tags) in cells[-1]
    assert "no location stored" in out  # the '-' CO2e of the run without one is explained


def test_a_location_that_cannot_be_used_is_told_from_none(store_path, cli):
    _fill(store_path, 2)
    st = Store.open(store_path)
    st.update_run(st.get_run("r00-a").key, location={"region": "Atlantis"})
    st.close()
    out = cli("runs", "--store", store_path).stdout
    row = next(x for x in out.splitlines() if x.startswith("r00-a"))
    assert re.split(r"\s{2,}", row)[6] == "?" and "could not be used" in out
    assert "no location stored" not in out  # r01-b has a cloud region


def test_an_empty_store_and_no_match_say_so(store_path, cli):
    _fill(store_path, 2)
    r = cli("runs", "--project", "nope", "--store", store_path)
    assert r.returncode == 0 and "no runs match the filters" in r.stdout
