"""``wattprint plan`` against published trainings.

``tests/data/plan/seen.csv`` lists the cases the MFU table (``wattprint/data/mfu.csv``) was built
from; ``unseen.csv`` lists other trainings with published GPU-hours (and, for T5, energy) that
played no part in it. For the unseen cases the published GPU-hours must fall inside the predicted
range for most of them, and the range's midpoint must be within 2x for all. The test prints
predicted against published (``pytest -s`` shows it).
"""
import csv
import pathlib

import pytest

from wattprint import datasets
from wattprint.plan import plan

DATA = pathlib.Path(__file__).parent / "data" / "plan"


def _rows(name):
    with open(DATA / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _predict(r):
    kw = {"flops": r["flops"]} if r.get("flops") else {"params": r["params"], "tokens": r["tokens"]}
    return plan(hardware=r["hardware"], count=1, pue=r.get("pue") or None, **kw).options[0]


def test_seen_cases_are_exactly_the_mfu_table_and_lie_in_their_ranges():
    seen = {r["key"]: r for r in _rows("seen.csv")}
    table = {r["key"]: r for r in datasets.table("mfu.csv")}
    assert set(seen) == set(table)  # the calibration set is the shipped table, no more, no less
    unseen = {r["key"] for r in _rows("unseen.csv")}
    assert not unseen & set(seen)
    for key, r in seen.items():
        if r["gpu_hours"]:  # MFU implied by published hours: the table row must say the same
            o = _predict(r)
            implied = o["device_hours_low"] * o["mfu_high"] / float(r["gpu_hours"])
            assert implied == pytest.approx(float(table[key]["mfu"]), abs=0.002), key
        else:
            assert float(r["mfu"]) == float(table[key]["mfu"]), key


def test_unseen_published_trainings():
    rows = _rows("unseen.csv")
    lines, inside, within2 = [], 0, 0
    for r in rows:
        o = _predict(r)
        pub = float(r["gpu_hours"])
        lo, mid, hi = o["device_hours_low"], o["device_hours"], o["device_hours_high"]
        ok = lo <= pub <= hi
        ratio = mid / pub
        inside += ok
        within2 += 0.5 <= ratio <= 2.0
        lines.append(f"{r['model']:<16} {r['hardware']:<16} predicted {lo:>13,.0f} - {hi:>13,.0f} "
                     f"(mid {mid:>13,.0f})  published {pub:>13,.0f}  mid/published {ratio:5.2f}  "
                     f"{'inside' if ok else 'OUTSIDE'}  [{r['source']}]")
        if r["energy_mwh"]:
            e_lo, e_hi, e_pub = o["energy_kwh_low"] / 1e3, o["energy_kwh_high"] / 1e3, float(r["energy_mwh"])
            lines.append(f"{'':<16} energy MWh: predicted {e_lo:,.1f} - {e_hi:,.1f}, published {e_pub:,.1f}")
            assert 0.5 <= (e_lo + e_hi) / 2 / e_pub <= 2.0, r["key"]
    print("\nwattprint plan against published trainings not used to build its MFU table:")
    print("\n".join(lines))
    print(f"inside the range: {inside} of {len(rows)}; midpoint within 2x: {within2} of {len(rows)}")
    assert within2 == len(rows)
    assert inside >= 2 * len(rows) / 3
