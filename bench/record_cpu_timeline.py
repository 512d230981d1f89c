"""Record an energy-vs-progress timeline from a real CPU training, for the predictor's tests.

    python bench/record_cpu_timeline.py --seed 0 --out tests/data/cpu_timeline_seed0.csv

A small torch MLP trains for STEPS steps on one thread. For the first WARM steps a second
process keeps another core busy (as data-loader workers filling their queues do), so the
warm-up draws about twice the power. The meter is wattprint's modelled CPU for this process
tree, without its idle floor (the floor is charged per wall-clock second, which on a shared VM
measures the neighbours, not the training). Every ``run.progress()`` report is written as a row
``t_s,done,energy_j``. Run it on a quiet machine: the tests hold the predictor to its targets on
these files, and a live test (tests/test_predict_real.py) checks the same code path under load.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile

STEPS = 7500  # ~30 s on a 2-core VM: 10 % spans many of the meter's 0.1 s windows
WARM = 300
INTERVAL = 0.1  # the modelled CPU meter's own utilisation window


def record(seed: int = 0, steps: int = STEPS, warm: int = WARM, store: str | None = None):
    """Train and return ``[(t_s, done, energy_j), ...]``, one row per progress report."""
    import torch

    import wattprint
    from wattprint.meters import cpu_model

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(512, 256), torch.randint(0, 10, (512,))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    meter = cpu_model.open(pid=os.getpid(), idle_fraction=0.0)
    rows = []
    store = store or os.path.join(tempfile.mkdtemp(), "runs.sqlite")
    try:
        with wattprint.track(interval=INTERVAL, meters=[meter], total=steps, predict_every=None,
                             distributed=False, store=store, quiet=True) as run:
            worker = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                for step in range(1, steps + 1):
                    if step == warm + 1:
                        worker.kill()
                        worker.wait()
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    opt.step()
                    run.progress(step)
                    rows.append(run.last_progress)
            finally:
                worker.kill()
                worker.wait()
    finally:
        torch.set_num_threads(threads)
    return rows, run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rows, _ = record(a.seed)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"# recorded by bench/record_cpu_timeline.py --seed {a.seed} on {platform.node()} "
                f"({os.cpu_count()} CPUs, {platform.platform()}), load average {load:.2f}; "
                f"steps={STEPS} warm={WARM}\n")
        f.write("t_s,done,energy_j\n")
        for t, d, e in rows:
            f.write(f"{t:.6f},{d:g},{e:.6f}\n")
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {len(rows)} rows, final {rows[-1][2]:.1f} J")
    return 0


if __name__ == "__main__":
    sys.exit(main())
