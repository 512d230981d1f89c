"""Reading 100,000 runs from PostgreSQL (and the same from SQLite, for comparison).

    python bench/bench_store_postgres.py [--runs 100000] [--url postgresql://...] [--repeat 3]

Without --url it starts a throw-away server the way the tests do (tests/pg.py: Debian's
PostgreSQL 15 binaries, an unprivileged user, a temporary directory). Fills one project with
--runs finished runs of two domains each (bulk-loaded with COPY, not through wattprint), then
times each reading command end to end in a fresh process (import, connect, queries, render),
best of --repeat. Target (issue 16): about a second.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from wattprint.store.records import meta_facts  # noqa: E402
COMMANDS = [["runs"], ["runs", "--project", "lab", "--json"], ["campaign", "--project", "lab"],
            ["campaign", "--project", "lab", "--json"], ["report", "--project", "lab"],
            ["sweep", "--project", "lab", "--study", "study3"], ["sweep", "--project", "lab"],
            ["show", "run-000042"]]
RUN_COLS = ("id", "project", "tags", "command", "host", "pid", "status", "exit_code",
            "started_at", "ended_at", "updated_at", "duration_s", "energy_j", "interval_s",
            "flush_s", "location", "job_id", "rank", "meta", "trial", "role", "part_of",
            "nested_in", "hosts", "gpus")  # the last six: what wattprint derives (records.FACT_COLS)


# A run's meta as wattprint writes it (about 430 bytes of JSON), varied per run.
META = {"unavailable": [{"source": "nvml", "reason": "no NVIDIA driver", "fix": "install the "
                         "NVIDIA driver and nvidia-ml-py", "loud": False}],
        "system": {"os": "Linux-6.8.0-x86_64-with-glibc2.39", "python": "3.11.7",
                   "cpu_model": "AMD EPYC 7763 64-Core Processor", "cpu_count": 128,
                   "gpu_models": ["NVIDIA A100-SXM4-80GB"] * 4, "ram_total_gb": 1007.7},
        "scope": "machine"}
PLACES = [{"region": "FR"}, {"cloud": "aws:us-east-1", "hardware": "A100 80GB"},
          {"region": "US-CA", "pue": "industry"}, {"cloud": "gcp:us-central1"}, {}]
STUDIES = 10  # every tenth run is an Optuna trial of one of ten studies (10,000 trials in 100,000)
JOB_EVERY = 1000  # a four-node torch.distributed job (a job record and its four rank records)


def rows(n: int):
    """A lab's project: 2 % final, 20 % tagged tuning, 10 % Optuna trials, a multi-node job in
    every thousand runs, five places (one without a location), one running run in ten thousand."""
    t0 = time.time() - 180 * 86400
    for i in range(n):
        start = t0 + i * 150.0
        dur = 600.0 + (i % 97) * 10
        meta = {**META, "hparams": {"lr": i}}
        tags = ["final"] if i % 50 == 0 else ["tuning"] if i % 5 == 1 else [f"exp{i % 7}"]
        job_id = rank = None
        if i % 10 == 3:
            meta["sweep"] = {"backend": "optuna", "study": f"study{(i // 10) % STUDIES}",
                             "number": i // (10 * STUDIES), "params": {"lr": 1e-4 * (1 + i % 13)},
                             "value": 0.5 + ((i * 7919) % 1000) / 2000, "state": "COMPLETE",
                             "direction": "minimize"}
        k = i % JOB_EVERY
        if k < 5:
            job_id = f"job-{i // JOB_EVERY}"
            if k == 0:
                meta.update(role="job", nodes=["n0", "n1", "n2", "n3"])
            else:
                meta.update(part_of=f"run-{i - k:06d}", role="rank")
                rank = k - 1
        status = "running" if i == n - 1 else "finished"
        run = (f"run-{i:06d}", "lab", json.dumps(tags), "python train.py",
               f"node{i % 64}", 1000 + i, status, 0, start, start + dur, start + dur, dur,
               dur * 350.0, 1.0, 5.0, json.dumps(PLACES[(i * 7 // 3) % len(PLACES)]), job_id, rank, json.dumps(meta),
               *meta_facts(meta), 1)
        doms = [(i, 0, "cpu:0", "cpu", "rapl", "measured", "RAPL", dur * 50.0, 1),
                (i, 1, "gpu:0", "gpu", "nvml", "measured", "NVML", dur * 300.0, 1)]
        yield run, doms


def fill_postgres(url: str, n: int) -> None:
    import psycopg

    sys.path.insert(0, ROOT)
    from wattprint.store import open_store

    open_store(url).close()  # the schema
    with psycopg.connect(url) as db, db.cursor() as cur:
        with cur.copy(f"COPY wattprint.runs (key, {', '.join(RUN_COLS)}) FROM STDIN") as cp:
            for i, (run, _) in enumerate(rows(n)):
                cp.write_row((i, *run))
        with cur.copy("COPY wattprint.domains (run, idx, name, kind, source, label, method, "
                      "energy_j, in_total) FROM STDIN") as cp:
            for _, doms in rows(n):
                for d in doms:
                    cp.write_row(d)
        cur.execute("SELECT setval(pg_get_serial_sequence('wattprint.runs', 'key'), %s)", (n,))
        cur.execute("ANALYZE")


def fill_sqlite(path: str, n: int) -> None:
    sys.path.insert(0, ROOT)
    from wattprint.store import open_store

    open_store(path).close()
    db = sqlite3.connect(path)
    with db:
        db.executemany(f"INSERT INTO runs (key, {', '.join(RUN_COLS)}) VALUES "
                       f"({', '.join('?' * (len(RUN_COLS) + 1))})",
                       ((i + 1, *run) for i, (run, _) in enumerate(rows(n))))
        db.executemany("INSERT INTO domains (run, idx, name, kind, source, label, method, energy_j,"
                       " in_total) VALUES (?,?,?,?,?,?,?,?,?)",
                       ((d[0] + 1, *d[1:]) for _, doms in rows(n) for d in doms))
    db.close()


def timed(args, store: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "wattprint", *args, "--store", store],
                           capture_output=True, text=True, cwd=ROOT)
        best = min(best, time.perf_counter() - t)
        if r.returncode:
            raise SystemExit(f"{args}: {r.stderr}")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--url", help="an empty PostgreSQL database (default: start a server)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    server = None
    if a.url is None:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from pg import Server

        server = Server()
        a.url = server.url(server.new_database())
    tmp = tempfile.mkdtemp(prefix="wattprint-bench-")
    lite = os.path.join(tmp, "runs.sqlite")
    try:
        t = time.perf_counter()
        fill_postgres(a.url, a.runs)
        fill_sqlite(lite, a.runs)
        print(f"{a.runs:,} runs loaded into both stores in {time.perf_counter() - t:.1f} s")
        print(f"{'command':42} {'PostgreSQL':>11} {'SQLite':>8}")
        for args in COMMANDS:
            pg_s, lite_s = timed(args, a.url, a.repeat), timed(args, lite, a.repeat)
            print(f"{' '.join(args):42} {pg_s:9.2f} s {lite_s:6.2f} s")
        base = timed(["--version"], lite, a.repeat)
        print(f"{'(wattprint --version: start-up alone)':42} {base:9.2f} s")
    finally:
        if server is not None:
            server.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
