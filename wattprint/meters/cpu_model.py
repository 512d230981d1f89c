"""Modelled CPU power, for machines without readable RAPL (VMs, containers, macOS).

    power = per_core_W × (IDLE_FRACTION × cores + (1 − IDLE_FRACTION) × busy_cores)

``per_core_W`` is the CPU's TDP per core from ``wattprint/data/cpu_tdp.csv`` (Green Algorithms v3
and CodeCarbon tables), or ``DEFAULT_PER_CORE_W`` for CPUs not in the table. ``cores`` are the
cores this process may run on (its CPU affinity, with SMT siblings counted as one core), so a
2-vCPU VM on a 64-core host is priced as 2 cores, not as the host's TDP. ``busy_cores`` is
machine-wide use of those CPUs from /proc/stat (via psutil), or, with ``pid``, the CPU time of
that process and its descendants.

IDLE_FRACTION (0.3) is an assumption, stated as such: a core's idle power as a share of its TDP.
Barroso & Hölzle ("The Case for Energy-Proportional Computing", IEEE Computer 40(12), 2007,
doi:10.1109/MC.2007.443) report servers idling at about half their peak power, with the CPU the
most energy-proportional part (a dynamic range of more than 70 % of its peak, so an idle draw
below about 30 %); we take that bound. Deep C-states can idle lower, so this errs high. The idle
floor is charged for all allowed cores in both scopes: they are reserved for the job either way.
"""
from __future__ import annotations

import builtins
import csv
import functools
import os
import re
import sys
import time

from .base import MODELLED, Domain, MeterUnavailable
from .procfs import ProcFile

SOURCE = "cpu-model"
IDLE_FRACTION = 0.3
# Green Algorithms v3 (Lannelongue et al. 2021, TDP_cpu.csv row "Any"), CC BY 4.0.
DEFAULT_PER_CORE_W = 12.0
DEFAULT_SOURCE = "Green Algorithms v3"
MIN_WINDOW_S = 0.1
TABLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "cpu_tdp.csv")

_DROP = re.compile(
    r"\(r\)|\(tm\)|®|™|@\s*[\d.]+\s*[gm]hz|\b\d+-core\b|\bprocessor\b|\bcpu\b|\bwith\b.*$|"
    r"\bintel\b|\bamd\b|\bapple\b|\bqualcomm\b|\bcorporation\b")


def normalise(name: str) -> str:
    """A CPU name reduced to the tokens that identify the model ("xeon gold 6148")."""
    s = _DROP.sub(" ", name.lower())
    s = re.sub(r"[^a-z0-9+\-. ]", " ", s)
    return " ".join(s.split())


# -- the TDP table --------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _table() -> tuple[dict, list]:
    """(rows by key, [(number tokens, all tokens, row)]) from the shipped CSV."""
    with builtins.open(TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_key = {r["key"]: r for r in rows}
    indexed = []
    for r in rows:
        toks = frozenset(r["key"].split())
        indexed.append((frozenset(t for t in toks if _has_digit(t)), toks, r))
    return by_key, indexed


@functools.lru_cache(maxsize=1)
def _text() -> str:
    with builtins.open(TABLE, encoding="utf-8") as f:
        return f.read()


def _exact(key: str) -> dict | None:
    """The row whose key column is ``key``, found by text search (keys hold no commas)."""
    text = _text()
    header = text[:text.index("\n")]
    pos = text.find("," + key + ",")
    while pos >= 0:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        line = text[start:end if end >= 0 else len(text)]
        row = next(csv.DictReader([header, line]))
        if row["key"] == key:
            return row
        pos = text.find("," + key + ",", pos + 1)
    return None


def _has_digit(tok: str) -> bool:
    return any(c.isdigit() for c in tok)


# Words that name a different chip of the same number ("M1" vs "M1 Pro"): these must agree.
_TIERS = frozenset({"pro", "max", "ultra", "plus", "extreme", "mobile", "embedded", "xt", "x3d"})


@functools.lru_cache(maxsize=16)
def lookup(model_name: str) -> tuple[dict | None, str]:
    """(table row or None, how it matched: 'exact', 'tokens' or 'none')."""
    key = normalise(model_name)
    if not key:
        return None, "none"
    q = frozenset(key.split())
    q_numbers = frozenset(t for t in q if _has_digit(t))
    if not q_numbers:  # "epyc", "xeon": a family, not a model; any match would be a guess
        return None, "none"
    row = _exact(key)
    if row is not None:
        return row, "exact"
    _, indexed = _table()  # parsing all rows costs ~20 ms: only when the fast path misses
    best, best_score = None, 0.0
    for numbers, toks, r in indexed:
        # The model number must agree exactly, and so must tier words like "pro".
        if numbers != q_numbers or (q ^ toks) & _TIERS:
            continue
        score = len(q & toks) / len(q | toks)
        if score > best_score:
            best, best_score = r, score
    return (best, "tokens") if best is not None else (None, "none")


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
        if sep and k in ("model name", "Hardware", "Processor") and k not in found and v.strip():
            found[k] = v.strip()
    return found.get("model name") or found.get("Hardware") or found.get("Processor")


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


def per_core_power(model: str | None, psutil) -> tuple[float, str, dict]:
    """(W per core, one-line method, meta) for this CPU model."""
    row, how = lookup(model) if model else (None, "none")
    shown = model or "unknown"
    default = (DEFAULT_PER_CORE_W,
               f"unknown CPU '{shown}': {DEFAULT_PER_CORE_W:g} W/core default ({DEFAULT_SOURCE})",
               {"cpu": model, "match": "none"})
    if row is None:
        return default
    tdp = float(row["tdp_w"])
    meta = {"cpu": model, "match": how, "matched": row["model"], "tdp_w": tdp,
            "table_source": row["source"]}
    if row["tdp_per_core_w"]:
        per_core = float(row["tdp_per_core_w"])
        cores_note = f"{row['n_cores']} cores"
    else:
        # The table lacks the core count: on bare metal the OS knows it; in a VM it does not.
        physical = psutil.cpu_count(logical=False)
        sockets = _sockets()
        if _in_vm() or not physical:
            w, _, m = default
            m.update(meta, match=how + " (core count unknown in a VM)")
            return w, (f"CPU '{shown}' matched {row['model']} (TDP {tdp:g} W, core count unknown "
                       f"in a VM): {w:g} W/core default ({DEFAULT_SOURCE})"), m
        per_core = tdp * sockets / physical
        cores_note = f"{physical // sockets} cores seen by the OS"
    meta["tdp_per_core_w"] = per_core
    return per_core, (f"CPU '{shown}' matched {row['model']} ({how}): TDP {tdp:g} W / "
                      f"{cores_note} = {per_core:.1f} W/core ({row['source']})"), meta


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

    def __init__(self, domain: Domain, busy, cores: float, per_core_w: float,
                 idle_fraction: float, clock=time.monotonic):
        self._domain = domain
        self._busy = busy
        self.cores = cores
        self.per_core_w = per_core_w
        self.idle_fraction = idle_fraction
        self._clock = clock
        self._threads_per_core = domain.meta.get("threads_per_core", 1.0)
        self._last_busy = busy()
        self._last_t = clock()
        self._last_w = per_core_w * idle_fraction * cores

    def domains(self) -> list[Domain]:
        return [self._domain]

    def read(self) -> dict[str, float]:
        t = self._clock()
        dt = t - self._last_t
        # CPU times tick at 100 Hz: over shorter windows utilisation is noise, and the tree
        # walk is the costly part, so fast polls reuse the last estimate.
        if dt >= MIN_WINDOW_S:
            busy = self._busy()
            # CPU-seconds are per hardware thread; busy threads → busy cores.
            busy_cores = (busy - self._last_busy) / dt / self._threads_per_core
            busy_cores = min(max(busy_cores, 0.0), self.cores)
            self._last_w = self.per_core_w * (self.idle_fraction * self.cores +
                                              (1.0 - self.idle_fraction) * busy_cores)
            self._last_busy, self._last_t = busy, t
        return {self._domain.name: self._last_w}

    def close(self) -> None:
        getattr(self._busy, "close", lambda: None)()  # the process-tree count holds no file


def open(pid: int | None = None, *, per_core_w: float | None = None,  # noqa: A001
         idle_fraction: float = IDLE_FRACTION, model: str | None = None) -> CpuModelMeter:
    """Model this machine's CPU power. ``pid``: count only that process tree's CPU use.

    ``per_core_w`` overrides the table; ``model`` overrides the detected CPU name.
    """
    try:
        import psutil
    except ImportError:
        raise MeterUnavailable(SOURCE, "psutil is not installed", "pip install psutil") from None
    name = model or cpu_model_name()
    if per_core_w is not None:
        method, meta = f"CPU '{name or 'unknown'}': {per_core_w:g} W/core given by the user", {}
    else:
        per_core_w, method, meta = per_core_power(name, psutil)
    cpus = allowed_cpus()
    tpc = smt_ratio(psutil)
    cores = len(cpus) / tpc
    scope = "machine" if pid is None else f"process tree of pid {pid}"
    try:
        busy = _MachineBusy(psutil, cpus) if pid is None else _TreeBusy(psutil, pid)
    except psutil.NoSuchProcess:
        raise MeterUnavailable(SOURCE, f"no process with pid {pid}", None) from None
    meta.update(cores=cores, cpus=len(cpus), threads_per_core=tpc, per_core_w=per_core_w,
                idle_fraction=idle_fraction, scope=scope)
    method = (f"{method} × utilisation with a {idle_fraction:.0%} idle floor; {cores:g} cores; "
              f"{scope}")
    dom = Domain(name="cpu:0", kind="cpu", source=SOURCE, label=MODELLED, method=method,
                 counter=False, device=name, meta=meta)
    return CpuModelMeter(dom, busy, cores, per_core_w, idle_fraction)
