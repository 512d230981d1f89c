"""Wall time of `wattprint plan` for the issue's command (target: well under a second, <= 500 ms),
and of plan() in-process.

    python bench/bench_plan.py [--n 10]

Each CLI run is a fresh interpreter, so imports and table loading are counted.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

ARGS = ["plan", "--params", "7e9", "--tokens", "2e12", "--hardware", "H100,A100", "--where", "all-clouds"]
WRAP = "import sys; from wattprint import cli; sys.exit(cli.main(sys.argv[1:]))"
TARGET_MS = 500.0


def cli_times(n: int) -> list[float]:
    out = []
    for _ in range(n + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", WRAP, *ARGS], check=True, stdout=subprocess.DEVNULL)
        out.append((time.perf_counter() - t) * 1000)
    return out[1:]  # the first run warms the file cache


def inprocess_ms() -> tuple[float, float]:
    t = time.perf_counter()
    from wattprint.plan import plan

    plan(params=7e9, tokens=2e12, hardware="H100,A100", where="all-clouds")
    first = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    plan(params=7e9, tokens=2e12, hardware="H100,A100", where="all-clouds")
    return first, (time.perf_counter() - t) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    n = ap.parse_args().n
    times = cli_times(n)
    med = statistics.median(times)
    first, again = inprocess_ms()
    print(f"wattprint {' '.join(ARGS[1:])}")
    print(f"  CLI, fresh interpreter: median {med:.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms "
          f"over {n} runs (target <= {TARGET_MS:.0f} ms)")
    print(f"  plan() in-process: first call {first:.0f} ms (imports, tables), again {again:.0f} ms")
    return 0 if med <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
