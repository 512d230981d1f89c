"""Benchmark of the measuring core (issue 2 targets). Not a test: prints figures for README.

    python bench/bench_core.py            # all
    python bench/bench_core.py --quick    # fewer repetitions

Measures: `import wattprint` time; `track()` start + stop latency; sampler CPU time per second
of run at 1 s and 100 ms intervals; peak RSS added by a tracked run. Each in a fresh interpreter,
on a fake RAPL sysfs tree (package + dram at known power) and on the modelled CPU/DRAM that a VM
without RAPL gets.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

IMPORT = """
import time; t = time.perf_counter(); import wattprint; print(time.perf_counter() - t)
"""

# First track() in a fresh interpreter (pays for lazy imports: psutil, sqlite3, meters), then a
# second one in the same process (what each further run or decorated call costs).
START_STOP = """
import json, sys, time
import wattprint
out = []
for _ in range(2):
    t0 = time.perf_counter()
    run = wattprint.track(store=sys.argv[1], interval=1.0)
    run.start()
    t1 = time.perf_counter()
    run.stop()
    t2 = time.perf_counter()
    out.append({"start": t1 - t0, "stop": t2 - t1})
print(json.dumps(out))
"""

IDLE = """
import json, resource, sys, time
import wattprint
seconds, interval = float(sys.argv[2]), float(sys.argv[3])
time.sleep(0.2)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if interval > 0:
    run = wattprint.track(store=sys.argv[1], interval=interval).start()
c0 = time.process_time()
time.sleep(seconds)
cpu = time.process_time() - c0
if interval > 0:
    run.stop()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"cpu_s": cpu, "rss_kb": rss1 - rss0}))
"""


def _py(code, *args, env):
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def bench(env, label, reps, idle_s):
    store = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
    imports = [float(_py(IMPORT, env=env)) for _ in range(reps)]
    ss = [json.loads(_py(START_STOP, store, env=env)) for _ in range(reps)]
    res = {"meters": label,
           "import_ms": 1000 * statistics.median(imports),
           "first_start_ms": 1000 * statistics.median(s[0]["start"] for s in ss),
           "first_stop_ms": 1000 * statistics.median(s[0]["stop"] for s in ss),
           "next_start_ms": 1000 * statistics.median(s[1]["start"] for s in ss),
           "next_stop_ms": 1000 * statistics.median(s[1]["stop"] for s in ss)}
    base = json.loads(_py(IDLE, store, idle_s, 0, env=env))
    for interval in (1.0, 0.1):
        r = json.loads(_py(IDLE, store, idle_s, interval, env=env))
        res[f"cpu_pct_at_{interval:g}s"] = 100 * (r["cpu_s"] - base["cpu_s"]) / idle_s
        res[f"rss_mb_at_{interval:g}s"] = r["rss_kb"] / 1024
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    reps, idle_s = (3, 5) if a.quick else (9, 30)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from sysfs import FakeRapl  # the same fake tree the tests use

    results = []
    env = dict(os.environ, WATTPRINT_SYSFS_ROOT=tempfile.mkdtemp())  # empty: modelled CPU/DRAM
    results.append(bench(env, "modelled cpu+dram", reps, idle_s))
    root = tempfile.mkdtemp()
    rapl = FakeRapl(root, domains={"package-0": 45.0, "dram": 6.0})
    rapl.start()
    try:
        env = dict(os.environ, WATTPRINT_SYSFS_ROOT=root)
        results.append(bench(env, "RAPL (fake sysfs) package+dram", reps, idle_s))
    finally:
        rapl.stop()
    print(f"# {platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
          f"{platform.platform()}")
    for r in results:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))


if __name__ == "__main__":
    main()
