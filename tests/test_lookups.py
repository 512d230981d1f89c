"""Finding things by part of their name: run id prefixes and region queries, with the real CLI."""
import json
import time

from wattprint.store import DomainTotal, RunRecord, Store


def _add_runs(path, ids_and_starts):
    st = Store.open(path)
    for rid, started in ids_and_starts:
        st.create_run(RunRecord(id=rid, status="finished", started_at=started, updated_at=started + 5,
                                duration_s=5.0, energy_j=50.0,
                                domains=[DomainTotal("cpu:0", "cpu", "rapl", "measured", "t", 50.0, 10.0)]))
    st.close()


def test_an_ambiguous_prefix_lists_the_newest_candidates_with_their_start(store_path, cli):
    base = time.time() - 86400
    runs = [(f"20261127-0000{i:02d}-abc{i:02d}", base + 60 * i) for i in range(12)]
    _add_runs(store_path, runs + [("other-run", base)])
    r = cli("show", "20261127", "--store", store_path)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    err = r.stderr
    assert "12 runs start with it" in err and "and 2 more" in err and "give more characters" in err
    newest = [rid for rid, _ in sorted(runs, key=lambda x: -x[1])]
    positions = [err.find(rid) for rid in newest[:10]]
    assert all(p > 0 for p in positions) and positions == sorted(positions)  # newest first
    assert all(rid not in err for rid in newest[10:]) and "other-run" not in err
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(runs[-1][1]))
    assert f"{newest[0]} started {started}" in err
    # A prefix that picks one still works; two candidates are both named.
    assert cli("show", "20261127-000003", "--store", store_path, "--json").returncode == 0
    r = cli("export", "--run", "20261127-00001", "--out", "-", "--store", store_path)
    assert r.returncode == 2 and "20261127-000010-abc10" in r.stderr and "20261127-000011-abc11" in r.stderr


def test_region_codes_match_from_their_start(cli):
    r = cli("regions", "US-", "--json")
    assert r.returncode == 0, r.stderr
    keys = [row["key"] for row in json.loads(r.stdout)]
    assert "US-CA" in keys and "US-NY" in keys
    assert all(k.upper().startswith("US-") or ":us-" in k for k in keys), keys
    names = {row["name"] for row in json.loads(r.stdout)}
    assert not {"Australia", "Russia", "United States", "Cyprus"} & names
    # Without the dash the country comes too; names match at the start of a word.
    keys = [row["key"] for row in json.loads(cli("regions", "us", "--json").stdout)]
    assert "US" in keys and "AU" not in keys and "RU" not in keys
    r = cli("regions", "new")
    assert r.returncode == 0 and "New York" in r.stdout and "Guinea" in r.stdout  # Papua New Guinea
    assert "US-AL" not in r.stdout
    keys = [row["key"] for row in json.loads(cli("regions", "gcp:europe", "--json").stdout)]
    assert keys and all(k.startswith("gcp:europe") for k in keys)
    r = cli("regions", "quebec")
    assert r.returncode == 0 and "CA-QC" in r.stdout
