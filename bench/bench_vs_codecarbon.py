"""The sampler's own CPU cost while the job sleeps, side by side with CodeCarbon (issue 9).

    python -m venv /tmp/ccvenv && /tmp/ccvenv/bin/pip install codecarbon==3.3.2
    python bench/bench_vs_codecarbon.py --cc-python /tmp/ccvenv/bin/python
    python bench/bench_vs_codecarbon.py --quick        # 20 s × 3 repeats, to try it

This script installs nothing. CodeCarbon pulls in many packages, so keep it in its own venv and
name that venv's python with ``--cc-python`` (default: ``$CC_PYTHON``, else this python);
wattprint runs in this python.

Each measurement is a fresh interpreter that starts a tracker, lets it settle, then sleeps for
``--seconds`` while we read the CPU time of the whole process (user + system, all threads:
``time.process_time``), and stops the tracker. That is the cost a sleeping job pays for being
measured. The same is done with no tracker at all (the interpreter's own idle cost, about 0).
Modes run interleaved, ``--repeats`` times each, so drift on a shared machine hits all alike;
the table shows the median and min–max, in % of one core.

Both sample at 1 s on this machine's default meters: for wattprint on a VM without RAPL that is
the modelled CPU and DRAM (psutil), with a store write every 5 s; for CodeCarbon the offline
tracker (no network), its CPU-load and RAM models, nothing written to disk.
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

CHILD = r"""
import json, logging, sys, time
mode, seconds, settle, tmp = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
stop = lambda: None
if mode == "wattprint":
    import wattprint
    run = wattprint.track(store=tmp + "/runs.sqlite", interval=1.0, quiet=True).start()
    stop = run.stop
elif mode == "codecarbon":
    from codecarbon import OfflineEmissionsTracker
    tracker = OfflineEmissionsTracker(
        country_iso_code="USA", measure_power_secs=1, save_to_file=False, output_dir=tmp,
        log_level="error", tracking_mode="machine", allow_multiple_runs=True)
    tracker.start()
    stop = tracker.stop
time.sleep(settle)  # start-up work (first reads, lazy imports) is not the idle cost
c0, t0 = time.process_time(), time.monotonic()
time.sleep(seconds)
cpu, wall = time.process_time() - c0, time.monotonic() - t0
stop()
print(json.dumps({"cpu_s": cpu, "wall_s": wall}))
"""


def measure(python: str, mode: str, seconds: float, settle: float, root: str = ROOT) -> float:
    """% of one core used by a sleeping process with ``mode``'s tracker running."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=root) if mode == "wattprint" else dict(os.environ)
        out = subprocess.run([python, "-c", CHILD, mode, str(seconds), str(settle), tmp],
                             env=env, cwd=tmp, check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return 100.0 * r["cpu_s"] / r["wall_s"]


def version(python: str, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    try:
        return subprocess.run([python, "-c", code], capture_output=True, text=True,
                              check=True).stdout.strip()
    except subprocess.CalledProcessError:
        return "not installed"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cc-python", default=os.environ.get("CC_PYTHON", sys.executable),
                    help="python of a venv with codecarbon==3.3.2")
    ap.add_argument("--wattprint-root", default=ROOT,
                    help="checkout whose wattprint is measured (default: this one)")
    ap.add_argument("--seconds", type=float, default=60.0, help="idle time measured per run")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after start not counted")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=("none", "wattprint", "codecarbon"), action="append",
                    help="run only these modes (repeatable)")
    ap.add_argument("--quick", action="store_true", help="--seconds 20 --repeats 3")
    ap.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.repeats = 20.0, 3
    pythons = {"none": sys.executable, "wattprint": sys.executable, "codecarbon": a.cc_python}
    modes = a.only or list(pythons)
    got: dict[str, list[float]] = {m: [] for m in modes}
    for i in range(a.repeats):
        for m in modes:  # interleaved: drift on a shared machine hits every mode alike
            got[m].append(measure(pythons[m], m, a.seconds, a.settle, a.wattprint_root))
            print(f"  repeat {i + 1}/{a.repeats} {m:<10} {got[m][-1]:.4f} %", file=sys.stderr)

    print(f"# {platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()}"
          f" · Python {platform.python_version()} · {platform.platform()}")
    print(f"# wattprint {version(sys.executable, 'wattprint')} · codecarbon "
          f"{version(a.cc_python, 'codecarbon')} · 1 s sampling · {a.seconds:g} s idle × "
          f"{a.repeats} repeats")
    print(f"{'tracker':<12} {'median % of a core':>19} {'min–max':>17}")
    for m in modes:
        v = got[m]
        print(f"{m:<12} {statistics.median(v):>19.4f} {min(v):>8.4f}–{max(v):<8.4f}")
    if "wattprint" in got and "codecarbon" in got:
        wp, cc = statistics.median(got["wattprint"]), statistics.median(got["codecarbon"])
        print(f"wattprint / codecarbon = {wp / cc:.2f}" if cc > 0 else "codecarbon used no CPU")
    if a.json:
        print(json.dumps(got))


if __name__ == "__main__":
    main()
