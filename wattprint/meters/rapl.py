"""RAPL energy counters through the Linux powercap sysfs tree (Intel, and AMD Zen which mimics it).

Zones live at ``<root>/sys/class/powercap/intel-rapl:*`` (MSR interface) and
``intel-rapl-mmio:*`` (MMIO interface). Sub-zones such as ``intel-rapl:0:2`` appear there too,
as flat entries. Each zone has ``name``, ``energy_uj`` and ``max_energy_range_uj``.

``energy_uj`` counts up to ``max_energy_range_uj`` and then starts again at 0, so a wrap adds
``max_energy_range_uj + 1`` µJ (the 1 µJ is below the counter's resolution either way).

Every step of a counter is checked against the most a zone can draw, ``max_w``: twice its
largest powercap constraint, and never less than ``MAX_POWER_W``. A decrease is a wraparound
only when the unwrapped step fits ``max_w`` over the time since the zone's last reading (with
``max_energy_range_uj`` read again, as it can change); otherwise it is a reset, and like a
forward jump beyond ``max_w`` it adds nothing: the count goes on from the new value, losing at
most that one interval. Each zone is read on its own: one that cannot be read is left out of
the result (and said in ``events()``), and when it reads again the step across the gap counts.
"""
from __future__ import annotations

import builtins
import os
import re
import time
from collections import deque

from .base import MEASURED, Domain, MeterEvent, MeterUnavailable

SOURCE = "rapl"
# The most a zone can draw when powercap gives no larger bound: above any package or platform
# made so far. A lower bound would throw away real energy as "implausible".
MAX_POWER_W = 1500.0
CONSTRAINT_FACTOR = 2.0  # bursts (PL2, PL4) go beyond the long-term limits
# Reads are not instantaneous and counters update every ~1 ms: a step may hold this much more
# time than the clock says.
SLACK_S = 0.1
MAX_EVENTS = 1000
SAFETY = 0.5  # read at least twice per wrap period at the zone's max_w
FIX = ("grant read access: sudo chmod a+r /sys/class/powercap/intel-rapl*/energy_uj "
       "(or a udev rule: SUBSYSTEM==\"powercap\", ACTION==\"add\", RUN+=\"/bin/chmod a+r %S%p/energy_uj\")")

# Zones whose energy is already part of another domain: a total must not add them twice.
_OVERLAPS = {"uncore": {"overlaps": "cpu (uncore is inside its package)"},
             "psys": {"overlaps": "cpu, dram (psys is the whole platform)"}}

_ZONE_ID = re.compile(r"^(intel-rapl(?:-mmio)?):(\d+)(?::(\d+))?$")
_CONSTRAINTS = [f"constraint_{i}_{k}" for i in range(4) for k in ("max_power_uw", "power_limit_uw")]


def _read_text(path: str) -> str:
    with builtins.open(path, "rb") as f:
        return f.read().decode("ascii", "replace").strip()


def _read_int(path: str) -> int:
    # Re-opened on every read: cheap (a few µs), and never reads a stale file that was replaced.
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 32)
    finally:
        os.close(fd)
    value = int(data)  # ValueError for text or an empty file
    if value < 0:
        raise ValueError(f"negative counter {value}")
    return value


def _why(e: Exception) -> str:
    if isinstance(e, ValueError):
        return f"energy_uj is not a counter value ({e})"
    return f"energy_uj: {e.strerror or type(e).__name__}"


class _Zone:
    __slots__ = ("domain", "path", "range_path", "range_uj", "max_w", "last", "last_t", "offset")

    def __init__(self, domain: Domain, path: str, range_uj: int, max_w: float, first: int,
                 t: float):
        self.domain, self.path, self.range_uj, self.max_w = domain, path, range_uj, max_w
        self.range_path = os.path.join(os.path.dirname(path), "max_energy_range_uj")
        self.last, self.last_t, self.offset = first, t, 0


class RaplMeter:
    source = SOURCE

    def __init__(self, zones: list[_Zone], root: str, clock=time.monotonic):
        self._zones = zones
        self.root = root
        self._clock = clock
        self._events: deque = deque(maxlen=MAX_EVENTS)  # bounded if nobody asks for them

    def domains(self) -> list[Domain]:
        return [z.domain for z in self._zones]

    def read(self) -> dict[str, float]:
        """Cumulative joules of every zone readable now; the others are left out."""
        out = {}
        now = self._clock()
        for z in self._zones:
            try:
                raw = _read_int(z.path)
            except (OSError, ValueError) as e:
                self._events.append(MeterEvent(z.domain.name, "unreadable", _why(e)))
                continue
            self._step(z, raw, now)
            out[z.domain.name] = (z.offset + raw) * 1e-6
        return out

    def events(self) -> list[MeterEvent]:
        """What happened since the last call: wraps, resets, jumps, unreadable zones."""
        out = list(self._events)
        self._events.clear()
        return out

    def _step(self, z: _Zone, raw: int, now: float) -> None:
        """Fold the step from the zone's last reading to ``raw`` into its offset."""
        dt = max(now - z.last_t, 0.0)
        most_uj = z.max_w * (dt + SLACK_S) * 1e6
        step = raw - z.last
        name = z.domain.name
        if step > most_uj:
            z.offset -= step  # the count goes on from the new value
            self._events.append(MeterEvent(name, "jump", (
                f"+{step * 1e-6:.6g} J in {dt:.3g} s, above {z.max_w:g} W; not counted")))
        elif step < 0:
            z.range_uj = self._range(z)
            wrapped = z.range_uj - z.last + 1 + raw
            if z.last <= z.range_uj and wrapped <= most_uj:
                z.offset += z.range_uj + 1
                self._events.append(MeterEvent(name, "wrap", f"at {z.range_uj} uJ"))
            else:
                z.offset += z.last - raw
                self._events.append(MeterEvent(name, "reset", (
                    f"{z.last} -> {raw} uJ in {dt:.3g} s, no wraparound of a {z.range_uj} uJ "
                    f"counter at up to {z.max_w:g} W; counted from the new value")))
        z.last, z.last_t = raw, now

    @staticmethod
    def _range(z: _Zone) -> int:
        try:
            value = int(_read_text(z.range_path))
        except (OSError, ValueError):
            return z.range_uj
        return value if value > 0 else z.range_uj

    def close(self) -> None:
        pass


def _powercap_dir(sysfs_root: str | None) -> tuple[str, str]:
    root = sysfs_root if sysfs_root is not None else os.environ.get("WATTPRINT_SYSFS_ROOT") or "/"
    return root, os.path.join(root, "sys", "class", "powercap")


def _zone_sort_key(zone_id: str):
    m = _ZONE_ID.match(zone_id)
    iface, top, sub = m.group(1), int(m.group(2)), m.group(3)
    # MSR zones before MMIO ones, so the MSR copy of a mirrored domain is the one kept.
    return (iface != "intel-rapl", top, -1 if sub is None else int(sub))


def open(sysfs_root: str | None = None, *, clock=time.monotonic) -> RaplMeter:  # noqa: A001
    """Open every readable RAPL domain under ``sysfs_root`` (default ``$WATTPRINT_SYSFS_ROOT``
    or ``/``). ``clock`` times the steps that are checked against a zone's most power."""
    root, base = _powercap_dir(sysfs_root)
    if not os.path.isdir(base):
        raise MeterUnavailable(SOURCE, f"no powercap tree at {base} (not Linux, or no RAPL driver)",
                               "on bare-metal Intel/AMD Linux: sudo modprobe intel_rapl_common "
                               "intel_rapl_msr")
    try:
        entries = os.listdir(base)
    except OSError as e:
        raise MeterUnavailable(SOURCE, f"cannot list {base}: {e.strerror}", None) from None
    ids = sorted((e for e in entries if _ZONE_ID.match(e)), key=_zone_sort_key)
    if not ids:
        raise MeterUnavailable(SOURCE, f"no intel-rapl zones in {base} (a VM or container "
                                       "usually hides them)", None)

    zones: list[_Zone] = []
    seen_paths: set[str] = set()
    names: set[str] = set()
    denied: list[str] = []
    for zid in ids:
        zdir = os.path.join(base, zid)
        real = os.path.realpath(zdir)
        if real in seen_paths:  # the same zone reached through two links
            continue
        seen_paths.add(real)
        try:
            zname = _read_text(os.path.join(zdir, "name"))
            range_uj = int(_read_text(os.path.join(zdir, "max_energy_range_uj")))
        except (OSError, ValueError):
            continue
        iface, top, sub = _ZONE_ID.match(zid).groups()
        parent_name = zname if sub is None else _parent_name(base, iface, top)
        mapped = _map(zname, parent_name, top, sub is None)
        if mapped is None:
            continue
        name, kind = mapped
        if name in names:  # mirrored (e.g. intel-rapl-mmio:0 package-0) or duplicate zone
            continue
        path = os.path.join(zdir, "energy_uj")
        try:
            first = _read_int(path)
        except PermissionError:
            denied.append(path)
            continue
        except (OSError, ValueError):
            continue
        if range_uj <= 0:
            continue
        names.add(name)
        max_w = _max_power_w(zdir)
        dom = Domain(name=name, kind=kind, source=SOURCE, label=MEASURED,
                     method=f"RAPL energy counter ({zid} {zname})", counter=True,
                     device=zid, max_read_interval_s=SAFETY * range_uj * 1e-6 / max_w,
                     meta={"zone": zid, "zone_name": zname, "max_energy_range_uj": range_uj,
                           "max_power_w": max_w, "path": real, **_OVERLAPS.get(kind, {})})
        zones.append(_Zone(dom, path, range_uj, max_w, first, clock()))
    if not zones:
        if denied:
            raise MeterUnavailable(SOURCE, f"permission denied reading {denied[0]} (root-only "
                                           "since CVE-2020-8694)", FIX, loud=True)
        raise MeterUnavailable(SOURCE, f"no usable RAPL domain in {base}", None)
    return RaplMeter(zones, root, clock)


def _max_power_w(zdir: str) -> float:
    """The most this zone can draw: CONSTRAINT_FACTOR × its largest powercap constraint, but
    never under MAX_POWER_W (constraints are often 0, absent, or long-term limits only)."""
    most = 0.0
    for fname in _CONSTRAINTS:
        try:
            most = max(most, int(_read_text(os.path.join(zdir, fname))) * 1e-6)
        except (OSError, ValueError):
            continue
    return max(MAX_POWER_W, CONSTRAINT_FACTOR * most)


def _parent_name(base: str, iface: str, top: str) -> str | None:
    try:
        return _read_text(os.path.join(base, f"{iface}:{top}", "name"))
    except OSError:
        return None


def _package_index(parent_name: str | None, top: str) -> str:
    if parent_name and parent_name.startswith("package-"):
        return parent_name.split("-", 1)[1]
    return top


def _map(zname: str, parent_name: str | None, top: str, is_top: bool) -> tuple[str, str] | None:
    """Zone name → (domain name, kind), or None for zones counted inside another one."""
    if zname.startswith("package-"):
        return f"cpu:{zname.split('-', 1)[1]}", "cpu"
    if zname == "psys":
        return "psys", "psys"
    if zname == "dram":
        return f"dram:{_package_index(parent_name, top)}", "dram"
    if zname == "uncore":
        return f"uncore:{_package_index(parent_name, top)}", "uncore"
    if zname == "core" or not is_top:  # inside its package: adding it would count twice
        return None
    return f"other:{zname}:{top}", "other"
