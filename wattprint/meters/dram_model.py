"""Modelled DRAM power, for machines without a RAPL dram domain.

    power = W_PER_GB × memory in use (GiB)

W_PER_GB = 0.3725 W/GB is Green Algorithms' figure for memory power (Lannelongue, Grealey &
Inouye, "Green Algorithms: Quantifying the Carbon Footprint of Computation", Advanced Science
8(12), 2100707, 2021; CodeCarbon uses a near-identical 3 W per 8 GB). It follows memory use, not
installed memory: an idle 512 GB server is not charged as a busy one. "In use" is the machine's
total minus available memory (``psutil.virtual_memory``), or, with ``pid``, the resident set of
that process and its descendants (pages shared between them are counted once per process, so
this errs high for forked workers).
"""
from __future__ import annotations

import time

from .base import MODELLED, Domain, MeterUnavailable
from .procfs import ProcFile

SOURCE = "dram-model"
W_PER_GB = 0.3725
GIB = 1024 ** 3
REFRESH_S = 0.1
CITATION = "Green Algorithms, Lannelongue et al. 2021"


class DramModelMeter:
    source = SOURCE

    def __init__(self, domain: Domain, used_bytes, w_per_gb: float, clock=time.monotonic):
        self._domain = domain
        self._used = used_bytes
        self.w_per_gb = w_per_gb
        self._clock = clock
        self._last_t = -REFRESH_S
        self._last_w = 0.0

    def domains(self) -> list[Domain]:
        return [self._domain]

    def read(self) -> dict[str, float]:
        t = self._clock()
        if t - self._last_t >= REFRESH_S:  # fast polls reuse it: walking a process tree costs ~1 ms
            self._last_w = self.w_per_gb * self._used() / GIB
            self._last_t = t
        return {self._domain.name: self._last_w}

    def close(self) -> None:
        getattr(self._used, "close", lambda: None)()  # the machine-wide read keeps a file open


def _machine_used(psutil):
    vm = psutil.virtual_memory
    try:  # psutil parses all of /proc/meminfo each time: on Linux, read the two numbers we need
        meminfo = ProcFile("/proc/meminfo")
    except OSError:
        meminfo = None

    def used() -> float:
        if meminfo is not None:
            data = b"\n" + meminfo.read()
            total, avail = _kib(data, b"\nMemTotal:"), _kib(data, b"\nMemAvailable:")
            if 0 < avail <= total:  # else psutil's answer (it estimates, as free(1) does)
                return 1024.0 * (total - avail)
        m = vm()
        return float(m.total - m.available)
    used.close = meminfo.close if meminfo is not None else lambda: None
    return used


def _kib(data: bytes, key: bytes) -> int:
    """The kB figure on the line ``key`` of /proc/meminfo; 0 when there is none."""
    i = data.find(key)
    if i < 0:
        return 0
    try:
        return int(data[i + len(key):data.index(b"\n", i + 1)].split()[0])
    except (ValueError, IndexError):
        return 0


def _tree_rss(psutil, pid: int):
    root = psutil.Process(pid)

    def used() -> float:
        try:
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            raise RuntimeError(f"tracked process {pid} has exited") from None
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue  # gone between listing and reading: it holds no memory now
        return float(total)
    return used


def open(pid: int | None = None, *, w_per_gb: float = W_PER_GB) -> DramModelMeter:  # noqa: A001
    """Model DRAM power from memory in use, machine-wide or for the process tree of ``pid``."""
    try:
        import psutil
    except ImportError:
        raise MeterUnavailable(SOURCE, "psutil is not installed", "pip install psutil") from None
    try:
        used = _machine_used(psutil) if pid is None else _tree_rss(psutil, pid)
    except psutil.NoSuchProcess:
        raise MeterUnavailable(SOURCE, f"no process with pid {pid}", None) from None
    what = "memory in use" if pid is None else f"resident memory of pid {pid} and its children"
    scope = "machine" if pid is None else f"process tree of pid {pid}"
    dom = Domain(name="dram:0", kind="dram", source=SOURCE, label=MODELLED,
                 method=f"{w_per_gb:g} W per GiB of {what} ({CITATION})", counter=False,
                 meta={"w_per_gb": w_per_gb, "scope": scope,
                       "total_gib": psutil.virtual_memory().total / GIB})
    return DramModelMeter(dom, used, w_per_gb)
