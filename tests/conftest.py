import os
import subprocess
import sys
import time

import pytest

from wattprint.meters.base import Domain


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Each test gets its own store and an empty sysfs root (so the host's RAPL never leaks in)."""
    empty = tmp_path / "empty-sysfs"
    empty.mkdir()
    monkeypatch.setenv("WATTPRINT_STORE", str(tmp_path / "store" / "runs.sqlite"))
    monkeypatch.setenv("WATTPRINT_SYSFS_ROOT", str(empty))
    monkeypatch.delenv("WATTPRINT_PROGRESS_FILE", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    from wattprint import fmt

    monkeypatch.setattr(fmt, "_INTERFACE", {"name": "python"})  # a test's use_cli() ends with it
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                "SLURM_JOB_ID", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "store" / "runs.sqlite")


class AnalyticMeter:
    """A meter following a known power profile ``power(t)`` (W, t in s since creation).

    ``counter=True`` reports exact cumulative joules (the analytic integral), ``False`` reports
    watts for the sampler to integrate. It records when it was read, so a test can compute the
    true energy between the first and last reads.
    """

    source = "analytic"

    def __init__(self, power, energy=None, *, counter=True, name="cpu:0", kind="cpu",
                 fail_after=None, max_read_interval_s=None):
        self.power_fn, self.energy_fn = power, energy
        self.counter = counter
        self.name, self.kind = name, kind
        self.fail_after = fail_after
        self.t0 = time.monotonic()
        self.reads: list[float] = []
        self.max_read_interval_s = max_read_interval_s

    def domains(self):
        return [Domain(self.name, self.kind, self.source, "measured", "analytic test profile",
                       counter=self.counter, max_read_interval_s=self.max_read_interval_s)]

    def read(self):
        t = time.monotonic() - self.t0
        if self.fail_after is not None and len(self.reads) >= self.fail_after:
            raise OSError("device went away")
        self.reads.append(t)
        return {self.name: self.energy_fn(t) if self.counter else self.power_fn(t)}

    def true_energy(self, a=None, b=None):
        a = self.reads[0] if a is None else a
        b = self.reads[-1] if b is None else b
        return self.energy_fn(b) - self.energy_fn(a)

    def close(self):
        pass


@pytest.fixture
def analytic():
    return AnalyticMeter


def run_cli(*args, env=None, timeout=60, **kw):
    """Run ``python -m wattprint ARGS`` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, **kw)


@pytest.fixture
def cli():
    return run_cli
