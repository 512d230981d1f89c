"""Report speed and size for a long run: a synthetic 7-day run sampled every second.

    python bench/bench_report.py [--days 7] [--domains 4] [--store PATH] [--keep]

Builds a store with days x 86400 samples per domain (default 604,800 x 4 = 2.4 M rows,
about 150 MB), then times ``wattprint report RUN --html --md --latex`` end to end in a fresh
process (import, store open, reads, render, atomic writes) and reports the HTML size.
Targets (issue 5): <= 3 s and <= 2 MB.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

from wattprint.store import DomainTotal, RunRecord, Store
from wattprint.units import J_PER_KWH


def build(path: str, days: float, n_domains: int) -> str:
    s = Store.open(path)
    kinds = [("cpu:0", "cpu", "rapl"), ("dram:0", "dram", "rapl"), ("gpu:0", "gpu", "nvml"),
             ("gpu:1", "gpu", "nvml"), ("gpu:2", "gpu", "nvml"), ("gpu:3", "gpu", "nvml")][:n_domains]
    doms = [DomainTotal(n, k, src, "measured", f"{src} counter", 0.0, 0.0, idx=i)
            for i, (n, k, src) in enumerate(kinds)]
    n = int(days * 86400)
    now = time.time()
    rec = RunRecord(id="week", status="running", started_at=now - n, updated_at=now, project="bench",
                    tags=["final"], command="python train.py", host="bench", domains=doms,
                    location={"region": "DE", "pue": "1.1"}, interval_s=1.0, total=100, unit="epoch")
    key = s.create_run(rec)
    watts = [60.0, 8.0, 250.0, 240.0, 230.0, 220.0]
    energy = [0.0] * n_domains

    def rows():
        for i in range(1, n + 1):
            for d in range(n_domains):
                w = watts[d] * (1.0 + 0.25 * math.sin(i / 3600.0 + d)) + (i * 7919 % 13)
                energy[d] += w
                yield (float(i), d, energy[d], w)

    s.flush(key, samples=rows())  # through the store's API, as a run writes them
    preds = [(n * k / 50, {"energy_kwh": sum(energy) / J_PER_KWH * (1 + 0.2 / k),
                           "energy_kwh_low": sum(energy) / J_PER_KWH * (1 + 0.2 / k) * 0.95,
                           "energy_kwh_high": sum(energy) / J_PER_KWH * (1 + 0.2 / k) * 1.05,
                           "fraction_done": k / 50}) for k in range(1, 50)]
    s.flush(key, domain_energy=dict(enumerate(energy)), predictions=preds,
            run_fields={"status": "finished", "ended_at": now, "duration_s": float(n),
                        "energy_j": sum(energy), "done": 100.0})
    s.close()
    return "week"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--domains", type=int, default=4)
    ap.add_argument("--store")
    ap.add_argument("--keep", action="store_true", help="reuse --store if it exists")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wattprint-bench-")
    path = a.store or os.path.join(tmp, "runs.sqlite")
    if not (a.keep and os.path.exists(path)):
        t = time.perf_counter()
        build(path, a.days, a.domains)
        print(f"built {path}: {a.days:g} days x {a.domains} domains in {time.perf_counter() - t:.1f} s "
              f"({os.path.getsize(path) / 1e6:.0f} MB)")
    html = os.path.join(tmp, "report.html")
    cmd = [sys.executable, "-m", "wattprint", "report", "week", "--store", path, "--html", html,
           "--md", os.path.join(tmp, "r.md"), "--latex", os.path.join(tmp, "r.tex")]
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    size = os.path.getsize(html)
    if not a.store:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"outputs left in {tmp}")
    print(f"report (html+md+latex, fresh process): best {min(times):.2f} s, worst {max(times):.2f} s "
          f"(target <= 3 s); HTML {size / 1e6:.3f} MB (target <= 2 MB)")
    if min(times) > 3 or size > 2e6:
        sys.exit(1)


if __name__ == "__main__":
    main()
