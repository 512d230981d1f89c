"""Wall time of `wattprint estimate` (target: <= 150 ms) and of estimate() in-process.

    python bench/bench_estimate.py [--n 20]

Each CLI run is a fresh interpreter, so table loading and imports are counted.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

ARGS = ["estimate", "--hardware", "V100", "--count", "64", "--days", "3.3", "--cloud", "gcp:us-central1",
        "--prices", "strubell2019", "--embodied", "--tariff", "0.12", "--json"]
TARGET_MS = 150.0


def cli_times(n: int) -> list[float]:
    exe = shutil.which("wattprint")
    cmd = [exe, *ARGS] if exe else [sys.executable, "-m", "wattprint", *ARGS]
    out = []
    for _ in range(n + 1):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out.append((time.perf_counter() - t) * 1000)
    return out[1:]  # the first run warms the file cache


def inprocess_times(n: int) -> tuple[float, list[float]]:
    t = time.perf_counter()
    import wattprint

    wattprint.estimate(hardware="V100", count=64, days=3.3, cloud="gcp:us-central1")
    first = (time.perf_counter() - t) * 1000
    out = []
    for _ in range(n):
        t = time.perf_counter()
        wattprint.estimate(hardware="V100", count=64, days=3.3, cloud="gcp:us-central1", prices="strubell2019",
                           embodied=True)
        out.append((time.perf_counter() - t) * 1000)
    return first, out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20)
    n = p.parse_args().n
    cli = cli_times(n)
    first, warm = inprocess_times(n)
    print(f"wattprint estimate (CLI, fresh process): median {statistics.median(cli):.1f} ms, "
          f"max {max(cli):.1f} ms over {n} runs (target <= {TARGET_MS:.0f} ms)")
    print(f"estimate() in-process: first call incl. imports and tables {first:.1f} ms, "
          f"then median {statistics.median(warm):.2f} ms")
    return 0 if statistics.median(cli) <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
