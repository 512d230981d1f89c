"""Benchmark: what job totals cost at the end of a torchrun job (issue 6 target: ≤ 50 ms, 4 ranks).

    python bench/bench_distributed.py              # 2 and 4 ranks, 3 launches each
    python bench/bench_distributed.py --ranks 4 --repeat 5

Real torchrun CPU jobs (gloo on loopback) over a fake RAPL tree. For each rank it reports the
time spent in the distributed plugin at the end (gather of every rank's totals, plus the job
record written by rank 0) and, for comparison, the plugin's start-up cost (join check + two gloo
groups). Needs torch (CPU wheel is enough).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

WORKER = """
import json, os, sys, time
import torch.distributed as dist
import wattprint
dist.init_process_group("gloo")
t0 = time.perf_counter()
run = wattprint.track(gpus=False, interval=0.1, project="bench")
run.start()
t_start = time.perf_counter() - t0
with run.window("step"):
    time.sleep(0.3)
dist.barrier()
t1 = time.perf_counter()
run.stop()
t_stop = time.perf_counter() - t1
plugin = next(p for p in run.plugins if type(p).__name__ == "DistributedPlugin")
with open(os.path.join(os.environ["OUT_DIR"], f"r{dist.get_rank()}.json"), "w") as f:
    json.dump({"rank": dist.get_rank(), "gather_s": plugin.gather_s, "stop_s": t_stop,
               "start_s": t_start, "job_j": run.job["energy_j"] if run.job else None,
               "own_j": run.energy().total_j, "seconds": run.energy().seconds}, f)
dist.destroy_process_group()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(nproc, tmp, sysfs):
    out = os.path.join(tmp, f"out-{nproc}-{time.monotonic_ns()}")
    os.makedirs(out)
    script = os.path.join(tmp, "worker.py")
    with open(script, "w") as f:
        f.write(WORKER)
    env = dict(os.environ, OUT_DIR=out, WATTPRINT_SYSFS_ROOT=sysfs, OMP_NUM_THREADS="1",
               WATTPRINT_STORE=os.path.join(tmp, "runs.sqlite"))
    subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
                    "--master_addr=127.0.0.1", f"--master_port={free_port()}", script],
                   env=env, check=True, capture_output=True)
    return [json.load(open(os.path.join(out, f))) for f in sorted(os.listdir(out))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, nargs="*", default=[2, 4])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from sysfs import FakeRapl

    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeRapl(os.path.join(tmp, "sysfs"), {"package-0": 40.0, "dram": 5.0}).start()
        try:
            print(f"host: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
            for n in args.ranks:
                gathers, stops, starts, errs = [], [], [], []
                for _ in range(args.repeat):
                    res = launch(n, tmp, fake.root)
                    r0 = next(r for r in res if r["rank"] == 0)
                    gathers.append(max(r["gather_s"] for r in res))
                    stops.append(r0["stop_s"])
                    starts.append(max(r["start_s"] for r in res))
                    errs.append(r0["job_j"] / (45.0 * r0["seconds"]) - 1)
                ms = lambda xs: f"median {statistics.median(xs) * 1e3:6.1f} ms, max {max(xs) * 1e3:6.1f} ms"
                print(f"{n} ranks: end-of-run aggregation (slowest rank) {ms(gathers)}")
                print(f"{n} ranks: rank 0 run.stop() in all           {ms(stops)}")
                print(f"{n} ranks: track().start() (slowest rank)     {ms(starts)}")
                print(f"{n} ranks: job total vs 45 W x duration: {max(errs, key=abs):+.2%} worst")
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
