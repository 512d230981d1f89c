"""Modelled CPU power, for machines without readable RAPL (VMs, containers, macOS).

    power = per_thread_W × (IDLE_FRACTION × threads + (1 − IDLE_FRACTION) × busy_threads)

``per_thread_W`` is the CPU's TDP (base power, ``data/cpu_tdp.md``) divided by its hardware
threads, both from the tables (``cpu_names``), or ``DEFAULT_PER_CORE_W`` per core for CPUs not in
them. ``threads`` are the logical CPUs this process may run on (its CPU affinity), so a 2-vCPU
VM on a 96-core host is charged 2 of the host's 192 threads, not its TDP. ``busy_threads`` is
machine-wide use of those CPUs from /proc/stat (via psutil), or, with ``pid``, the CPU time of
that process and its descendants.

IDLE_FRACTION (0.3) is an assumption, stated as such: a core's idle power as a share of its TDP.
Barroso & Hölzle ("The Case for Energy-Proportional Computing", IEEE Computer 40(12), 2007,
doi:10.1109/MC.2007.443) report servers idling at about half their peak power, with the CPU the
most energy-proportional part (a dynamic range of more than 70 % of its peak, so an idle draw
below about 30 %); we take that bound. Deep C-states can idle lower, so this errs high. The idle
floor is charged for all allowed threads in both scopes: they are reserved for the job either way.
"""
from __future__ import annotations

import builtins
import os
import sys
import time

from ..fmt import opt
from .base import MODELLED, Domain, MeterUnavailable
from .cpu_names import cores_in_name, lookup
from .procfs import ProcFile

SOURCE = "cpu-model"
IDLE_FRACTION = 0.3
# Green Algorithms v3 (Lannelongue et al. 2021, TDP_cpu.csv row "Any"), CC BY 4.0.
DEFAULT_PER_CORE_W = 12.0
DEFAULT_SOURCE = "Green Algorithms v3"
MIN_WINDOW_S = 0.1


# -- this machine ---------------------------------------------------------------------------
def cpu_model_name(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                 text=True, timeout=2)
            return out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None
    try:
        with builtins.open(cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        k = k.strip()
        if sep and k in ("model name", "Hardware", "Processor", "CPU implementer", "CPU part") \
                and k not in found and v.strip():
            found[k] = v.strip()
    arm = (ARM_CORES.get(found.get("CPU part", "").lower())
           if found.get("CPU implementer", "").lower() == "0x41" else None)
    return (found.get("model name") or arm or found.get("Hardware") or found.get("Processor"))


# Arm Ltd. (implementer 0x41) core designs by "CPU part", named as lscpu names them. ARM servers
# (Graviton, Ampere Altra) print no "model name": the core is all /proc/cpuinfo says.
ARM_CORES = {"0xd03": "Cortex-A53", "0xd08": "Cortex-A72", "0xd0b": "Cortex-A76",
             "0xd0c": "Neoverse-N1", "0xd40": "Neoverse-V1", "0xd49": "Neoverse-N2",
             "0xd4f": "Neoverse-V2"}


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def smt_ratio(psutil) -> float:
    """Hardware threads per core (1 when unknown)."""
    logical, physical = psutil.cpu_count(logical=True), psutil.cpu_count(logical=False)
    if logical and physical and logical >= physical:
        return logical / physical
    return 1.0


def _in_vm() -> bool:
    try:
        with builtins.open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return " hypervisor" in line
    except OSError:
        pass
    return False


def package_threads(row: dict | None, model: str | None, psutil) -> tuple[float | None, str]:
    """(hardware threads per package, where the figure comes from) or (None, why not)."""
    if row is not None and row.get("threads"):
        return float(row["threads"]), f"{row['n_cores']} cores/{row['threads']} threads (vendor spec)"
    cores = int(row["n_cores"]) if row is not None and row.get("n_cores") else None
    where = "table"
    if cores is None and model:
        cores, where = cores_in_name(model), "CPU name"
    tpc = smt_ratio(psutil)
    if cores:
        return cores * tpc, f"{cores} cores ({where}) × {tpc:g} threads/core"
    logical = psutil.cpu_count(logical=True)
    if _in_vm() or not logical:
        return None, "thread count unknown in a VM"
    sockets = _sockets()
    return logical / sockets, f"{logical // sockets} threads seen by the OS"


def per_thread_power(model: str | None, psutil, tdp_w: float | None = None
                     ) -> tuple[float | None, str, dict]:
    """(W per hardware thread, one-line method, meta) for this CPU model.

    ``tdp_w``: the package power the user gave. W per thread is ``None`` when that power is
    known but not the package's thread count: the caller charges it to the allowed threads.
    """
    row, how = lookup(model) if model else (None, "none")
    shown = model or "unknown"
    meta = {"cpu": model, "match": how}
    if row is not None:
        meta.update(matched=row["model"], table_source=row["source"])
    tdp = tdp_w if tdp_w is not None else (float(row["tdp_w"]) if row and row["tdp_w"] else None)
    threads, note = package_threads(row, model, psutil)
    matched = f"CPU '{shown}'" + (f" matched {row['model']} ({how})" if row is not None else "")
    given = "given by the user" if tdp_w is not None else row["source"] if row else ""
    if tdp is not None:
        meta.update(tdp_w=tdp)
    if tdp is not None and threads:
        per = tdp / threads
        meta.update(package_threads=threads, per_thread_w=per)
        return per, (f"{matched}: TDP {tdp:g} W ({given}) / {note} = {per:.2f} W/thread"), meta
    if tdp_w is not None:
        return None, f"{matched}: {tdp_w:g} W given by the user ({note})", meta
    per = DEFAULT_PER_CORE_W / smt_ratio(psutil)
    if row is None:
        return per, (f"unknown CPU '{shown}': {DEFAULT_PER_CORE_W:g} W/core default "
                     f"({DEFAULT_SOURCE}); name it with {opt('cpu')} or give {opt('cpu_tdp_w')}"), meta
    meta["match"] = how + (" (core count unknown in a VM)" if tdp is not None else " (no TDP)")
    what = f"TDP {tdp:g} W, {note}" if tdp is not None else "no published TDP"
    return per, (f"{matched} ({what}): {DEFAULT_PER_CORE_W:g} W/core default "
                 f"({DEFAULT_SOURCE}); give the power of the threads this run may use with "
                 f"{opt('cpu_tdp_w')}"), meta


def _sockets() -> int:
    try:
        with builtins.open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            ids = {line.split(":", 1)[1].strip() for line in f if line.startswith("physical id")}
        return max(1, len(ids))
    except OSError:
        return 1


# -- utilisation ----------------------------------------------------------------------------
class _MachineBusy:
    """Busy CPU-seconds of the allowed CPUs since start (from /proc/stat via psutil)."""

    def __init__(self, psutil, cpus: list[int]):
        self._psutil = psutil
        total = psutil.cpu_count(logical=True) or len(cpus)
        self._cpus = None if len(cpus) >= total else cpus  # None: all CPUs, cheapest read
        try:
            self._stat: _ProcStat | None = _ProcStat(self._cpus)
        except (OSError, ValueError, IndexError):  # not Linux, or a /proc/stat we can't read
            self._stat = None

    def __call__(self) -> float:
        if self._stat is not None:
            return self._stat()
        if self._cpus is None:
            return _busy(self._psutil.cpu_times())
        per = self._psutil.cpu_times(percpu=True)
        return sum(_busy(per[i]) for i in self._cpus if i < len(per))

    def close(self) -> None:
        if self._stat is not None:
            self._stat.file.close()


class _ProcStat:
    """``_busy(psutil.cpu_times())`` without psutil's open and named tuples on every poll.

    ``cpus``: the i-th cpuN lines, as psutil's percpu list (None: the machine line).
    busy = user + nice + system + irq + softirq (guest and guest_nice are inside user and nice).
    """

    def __init__(self, cpus: list[int] | None):
        self._cpus = cpus
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        size = 4096 if cpus is None else 4096 + 256 * (max(cpus, default=0) + 1)
        self.file = ProcFile("/proc/stat", size)
        try:
            self()  # a format we can't parse falls back to psutil now, not at the first poll
        except Exception:
            self.file.close()
            raise

    def __call__(self) -> float:
        data = self.file.read()
        if self._cpus is None:
            return self._ticks(data[:data.index(b"\n")]) / self._tick
        lines = [ln for ln in data.split(b"\n")[1:] if ln.startswith(b"cpu")]
        return sum(self._ticks(lines[i]) for i in self._cpus if i < len(lines)) / self._tick

    @staticmethod
    def _ticks(line: bytes) -> int:
        f = line.split()
        return int(f[1]) + int(f[2]) + int(f[3]) + int(f[6]) + int(f[7])


def _busy(t) -> float:
    # idle, iowait and steal (time the hypervisor gave to someone else) draw no power for us.
    idle = t.idle + getattr(t, "iowait", 0.0) + getattr(t, "steal", 0.0)
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)  # guest ⊂ user
    return total - idle


class _TreeBusy:
    """CPU-seconds used by a process and its descendants since start.

    Live processes are followed by pid. A process that exits between reads takes its last
    interval with it, except when the root reaps it: the root's ``children_*`` times then grow
    by the child's total, and whatever of that we had not yet counted is added.
    """

    def __init__(self, psutil, pid: int):
        self._psutil = psutil
        self._root = psutil.Process(pid)
        self._seen: dict[tuple[int, float], float] = {}
        self._reaped = self._reaped_time()
        self._total = 0.0
        self._first = True

    def _reaped_time(self) -> float:
        t = self._root.cpu_times()
        return t.children_user + t.children_system

    def __call__(self) -> float:
        ps = self._psutil
        procs = [self._root]
        try:
            procs += self._root.children(recursive=True)
        except ps.NoSuchProcess:
            raise RuntimeError(f"tracked process {self._root.pid} has exited") from None
        now: dict[tuple[int, float], float] = {}
        for p in procs:
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    key = (p.pid, p.create_time())  # pid plus start time: pids get reused
            except (ps.NoSuchProcess, ps.ZombieProcess, ps.AccessDenied):
                continue
            now[key] = t.user + t.system
        delta = 0.0
        for key, v in now.items():
            before = self._seen.get(key)
            if before is not None:
                delta += max(0.0, v - before)
            elif not self._first:
                delta += v  # started since the last read
        vanished = sum(v for k, v in self._seen.items() if k not in now)
        try:
            reaped = self._reaped_time()
        except ps.NoSuchProcess:
            reaped = self._reaped
        delta += max(0.0, (reaped - self._reaped) - vanished)
        self._reaped = reaped
        self._seen = now
        self._first = False
        self._total += delta
        return self._total


class CpuModelMeter:
    source = SOURCE

    def __init__(self, domain: Domain, busy, threads: float, per_thread_w: float,
                 idle_fraction: float, clock=time.monotonic):
        self._domain = domain
        self._busy = busy
        self.threads = threads
        self.per_thread_w = per_thread_w
        self.idle_fraction = idle_fraction
        self._clock = clock
        self._last_busy = busy()
        self._last_t = clock()
        self._last_w = per_thread_w * idle_fraction * threads

    def domains(self) -> list[Domain]:
        return [self._domain]

    def read(self) -> dict[str, float]:
        t = self._clock()
        dt = t - self._last_t
        # CPU times tick at 100 Hz: over shorter windows utilisation is noise, and the tree
        # walk is the costly part, so fast polls reuse the last estimate.
        if dt >= MIN_WINDOW_S:
            busy = self._busy()
            busy_threads = min(max((busy - self._last_busy) / dt, 0.0), self.threads)
            self._last_w = self.per_thread_w * (self.idle_fraction * self.threads +
                                                (1.0 - self.idle_fraction) * busy_threads)
            self._last_busy, self._last_t = busy, t
        return {self._domain.name: self._last_w}

    def close(self) -> None:
        getattr(self._busy, "close", lambda: None)()  # the process-tree count holds no file


def open(pid: int | None = None, *, per_thread_w: float | None = None,  # noqa: A001
         idle_fraction: float = IDLE_FRACTION, model: str | None = None,
         tdp_w: float | None = None) -> CpuModelMeter:
    """Model this machine's CPU power. ``pid``: count only that process tree's CPU use.

    ``model`` overrides the detected CPU name (``--cpu``), ``tdp_w`` the table's package power
    (``--cpu-tdp-w``), ``per_thread_w`` both.
    """
    try:
        import psutil
    except ImportError:
        raise MeterUnavailable(SOURCE, "psutil is not installed", "pip install psutil") from None
    name = model or cpu_model_name()
    threads = len(allowed_cpus())
    if per_thread_w is not None:
        method, meta = f"CPU '{name or 'unknown'}': {per_thread_w:g} W/thread given", {}
    else:
        per_thread_w, method, meta = per_thread_power(name, psutil, tdp_w)
        if per_thread_w is None:  # the user's power, for a package of unknown size
            per_thread_w = tdp_w / threads
            method += f", charged to the {threads} allowed threads"
    scope = "machine" if pid is None else f"process tree of pid {pid}"
    try:
        busy = _MachineBusy(psutil, allowed_cpus()) if pid is None else _TreeBusy(psutil, pid)
    except psutil.NoSuchProcess:
        raise MeterUnavailable(SOURCE, f"no process with pid {pid}", None) from None
    meta.update(threads=threads, cpus=threads, per_thread_w=per_thread_w,
                idle_fraction=idle_fraction, scope=scope)
    method = (f"{method} × utilisation with a {idle_fraction:.0%} idle floor; {threads} threads; "
              f"{scope}")
    dom = Domain(name="cpu:0", kind="cpu", source=SOURCE, label=MODELLED, method=method,
                 counter=False, device=name, meta=meta)
    return CpuModelMeter(dom, busy, threads, per_thread_w, idle_fraction)
