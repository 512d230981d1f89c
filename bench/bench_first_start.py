"""First track() of a process, with compiled bytecode as `pip install` leaves it.

    python bench/bench_first_start.py [N]

Compiles wattprint's bytecode, then runs N fresh interpreters that import wattprint, build a
run with track() and start and stop it (quiet, modelled meters, a temporary store), and prints
the median milliseconds of each step. PYTHONDONTWRITEBYTECODE is lifted for the children, so the
figure is what an installed wattprint costs, not the cost of compiling it.
"""
import compileall
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import os, sys, time
t0 = time.perf_counter()
import wattprint
t1 = time.perf_counter()
run = wattprint.track(quiet=True, interval=1, store=sys.argv[1])
t2 = time.perf_counter()
run.start()
t3 = time.perf_counter()
run.stop()
t4 = time.perf_counter()
print((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3)
"""


def main(n: int = 9) -> None:
    import wattprint

    compileall.compile_dir(str(pathlib.Path(wattprint.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(tmp, f"s{i}.sqlite")],
                                 capture_output=True, text=True, env=env, check=True).stdout
            rows.append([float(x) for x in out.split()])
    names = ("import", "track()", "start()", "stop()")
    print("  ".join(f"{name} {statistics.median(r[k] for r in rows):.1f} ms"
                    for k, name in enumerate(names)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
