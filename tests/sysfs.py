"""A fake Linux powercap (RAPL) tree in a temporary directory, for tests.

The layout follows the kernel's: real zone directories under
``sys/devices/virtual/powercap/intel-rapl[-mmio]/`` (sub-zones nested in their package) and flat
symlinks to every zone in ``sys/class/powercap/``. Point wattprint at it with
``WATTPRINT_SYSFS_ROOT=<root>`` or ``rapl.open(sysfs_root=<root>)``.

    fake = FakeRapl(tmp_path, {"package-0": 40.0, "dram": 5.0})
    fake.advance(2.0)            # deterministic: +80 J on package-0, +10 J on dram
    fake.start(); ...; fake.stop()   # or a writer thread advancing at the given watts
                                     # (max_tick_s=: by at most that much time per tick)
    fake.set_power("package-0", 100.0)

Faults, for the plausibility tests: ``reset(key)`` sets a counter back to 0 (or any value) and
``shift(key, uj)`` moves it by ``uj`` without the energy being used; ``set_range(uj)`` changes
every zone's ``max_energy_range_uj`` (the counters then show their value modulo the new range);
``break_file(key, "missing" | "text")`` removes ``energy_uj`` or fills it with text until
``break_file(key, None)`` restores it. Meanwhile ``true_j`` goes on counting the energy used.

Domains are given by zone name: ``package-N`` become top-level zones ``intel-rapl:N``; ``dram``,
``core``, ``uncore`` become sub-zones of package-0 (or write ``"dram@1"`` for package-1);
``psys`` becomes the next free top-level zone. ``mmio=True`` adds ``intel-rapl-mmio:0`` mirroring
package-0 (as many Intel client parts do). Counters wrap at ``max_range_uj`` like the kernel's:
after ``max_range_uj`` comes 0. ``readable=False`` writes ``energy_uj`` with mode 000 (which
stops only non-root readers: run the reader with ``preexec_fn=without_dac_override`` to
make root obey it too, as tests here run as root).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time

DEFAULT_RANGE_UJ = 262143328850  # a common Intel value (about 262 kJ)


class FakeRapl:
    def __init__(self, root, domains: dict[str, float] | None = None, *,
                 max_range_uj: int = DEFAULT_RANGE_UJ, mmio: bool = False,
                 start_uj: int = 0, readable: bool = True, tick_s: float = 0.001,
                 max_tick_s: float | None = None):
        self.root = str(root)
        self.max_range_uj = int(max_range_uj)
        self.readable = readable
        self.tick_s = tick_s
        # A paused process (a loaded machine) stops readers and writer alike; capping each
        # tick keeps the counters from leaping past whole wraps that no reader could see.
        self.max_tick_s = max_tick_s
        self._power: dict[str, float] = {}
        self._true_uj: dict[str, float] = {}  # energy used, as of the files' last write
        self._counter_uj: dict[str, float] = {}  # the counter before wrapping (faults move it)
        self._broken: dict[str, str] = {}  # domain -> "missing" | "text"
        self._files: dict[str, list[str]] = {}  # domain -> energy_uj paths (mirrors included)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.zones: dict[str, str] = {}  # domain -> zone id
        self._build(domains if domains is not None else {"package-0": 40.0, "dram": 5.0},
                     mmio, start_uj)

    # -- layout --------------------------------------------------------------------------
    @property
    def class_dir(self) -> str:
        return os.path.join(self.root, "sys", "class", "powercap")

    def _build(self, domains, mmio, start_uj):
        devices = os.path.join(self.root, "sys", "devices", "virtual", "powercap")
        os.makedirs(self.class_dir, exist_ok=True)
        packages = sorted(int(k.split("-")[1]) for k in domains if k.startswith("package-"))
        next_top = (max(packages) + 1) if packages else 0
        sub_count: dict[int, int] = {}
        for key, watts in domains.items():
            name, _, pkg = key.partition("@")
            if name.startswith("package-"):
                zid, rel = f"intel-rapl:{int(name.split('-')[1])}", None
            elif name == "psys":
                zid, rel, next_top = f"intel-rapl:{next_top}", None, next_top + 1
            else:
                p = int(pkg or 0)
                n = sub_count.get(p, 0)
                sub_count[p] = n + 1
                zid, rel = f"intel-rapl:{p}:{n}", f"intel-rapl:{p}"
            parts = [devices, "intel-rapl"] + ([rel] if rel else []) + [zid]
            self._add_zone(key, name, os.path.join(*parts), zid, watts, start_uj)
        if mmio:
            if "package-0" not in domains:
                raise ValueError("mmio=True mirrors package-0, which is missing")
            zdir = os.path.join(devices, "intel-rapl-mmio", "intel-rapl-mmio:0")
            self._make_zone_dir(zdir, "intel-rapl-mmio:0", "package-0")
            self._files["package-0"].append(os.path.join(zdir, "energy_uj"))
        for key in self._files:
            self._write(key)

    def _make_zone_dir(self, zdir, zid, name):
        os.makedirs(zdir, exist_ok=True)
        for fname, value in (("name", name), ("max_energy_range_uj", self.max_range_uj)):
            with open(os.path.join(zdir, fname), "w") as f:
                f.write(f"{value}\n")
        link = os.path.join(self.class_dir, zid)
        if not os.path.lexists(link):
            os.symlink(os.path.relpath(zdir, self.class_dir), link)

    def _add_zone(self, key, name, zdir, zid, watts, start_uj):
        self._make_zone_dir(zdir, zid, name)
        self.zones[key] = zid
        self._power[key] = float(watts)
        self._true_uj[key] = self._counter_uj[key] = float(start_uj)
        self._files[key] = [os.path.join(zdir, "energy_uj")]

    # -- counters ------------------------------------------------------------------------
    def _write(self, key):
        value = int(self._counter_uj[key]) % (self.max_range_uj + 1)
        broken = self._broken.get(key)
        if broken == "missing":
            return
        text = "not a number" if broken == "text" else value
        for path in self._files[key]:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{text}\n")
            if not self.readable:
                os.chmod(tmp, 0)
            os.replace(tmp, path)  # atomic: a reader sees the old or the new value, never half

    def advance(self, seconds: float) -> None:
        """Add ``power × seconds`` to every counter, now, without a thread."""
        with self._lock:
            for key, watts in self._power.items():
                self._add(key, watts * seconds * 1e6)

    def _add(self, key, uj):
        self._true_uj[key] += uj
        self._counter_uj[key] += uj
        self._write(key)

    def reset(self, key: str, to_uj: int = 0) -> None:
        """The counter restarts at ``to_uj`` (firmware, driver reload, VM migration)."""
        with self._lock:
            self._counter_uj[key] = float(to_uj)
            self._write(key)

    def shift(self, key: str, uj: float) -> None:
        """The counter moves by ``uj`` (a step back if negative) with no energy used."""
        with self._lock:
            self._counter_uj[key] += uj
            self._write(key)

    def set_range(self, max_range_uj: int) -> None:
        """Every zone's ``max_energy_range_uj`` becomes ``max_range_uj``."""
        with self._lock:
            self.max_range_uj = int(max_range_uj)
            for key, paths in self._files.items():
                for path in paths:
                    with open(os.path.join(os.path.dirname(path), "max_energy_range_uj"), "w") as f:
                        f.write(f"{self.max_range_uj}\n")
                self._write(key)

    def break_file(self, key: str, how: str | None) -> None:
        """``"missing"``: remove ``energy_uj``; ``"text"``: fill it with text; None: restore it."""
        if how not in (None, "missing", "text"):
            raise ValueError(f"how must be None, 'missing' or 'text', not {how!r}")
        with self._lock:
            if how is None:
                self._broken.pop(key, None)
            else:
                self._broken[key] = how
            if how == "missing":
                for path in self._files[key]:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
            self._write(key)

    def zone_dir(self, key: str) -> str:
        return os.path.dirname(self._files[key][0])

    def set_power(self, key: str, watts: float) -> None:
        with self._lock:
            self._power[key] = float(watts)

    def true_j(self, key: str) -> float:
        """Energy (J, unwrapped) that the files currently show for ``key``."""
        with self._lock:
            return self._true_uj[key] * 1e-6

    @contextlib.contextmanager
    def hold(self):
        """Pause the writer thread: inside, files and ``true_j`` agree exactly."""
        with self._lock:  # re-entrant, so true_j()/advance() still work inside
            yield self

    # -- writer thread -------------------------------------------------------------------
    def start(self) -> "FakeRapl":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fake-rapl", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self):
        last = time.monotonic()
        while not self._stop.wait(self.tick_s):
            with self._lock:
                now = time.monotonic()
                dt, last = now - last, now
                if self.max_tick_s is not None:
                    dt = min(dt, self.max_tick_s)
                for key, watts in self._power.items():
                    self._add(key, watts * dt * 1e6)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()



# -- making root obey file modes, for permission tests ----------------------------------------
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def without_dac_override() -> None:
    """``preexec_fn`` for subprocess: the child (and what it execs) loses the two capabilities
    that let root read a mode-000 file. Removing them from the bounding set as well keeps exec
    from granting them back. Needs CAP_SETPCAP (root has it); raises OSError otherwise."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    mask = (1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP failed")
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # absent on old kernels
    hdr, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[0], field, getattr(data[0], field) & ~mask)
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def permission_tests_possible(path: str) -> bool:
    """True when a child started with ``without_dac_override`` is refused reading ``path``."""
    import subprocess
    import sys

    try:
        r = subprocess.run([sys.executable, "-c", f"open({path!r}).read()"],
                           preexec_fn=without_dac_override, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode != 0 and b"PermissionError" in r.stderr
