"""RAPL energy counters through the Linux powercap sysfs tree (Intel, and AMD Zen which mimics it).

Zones live at ``<root>/sys/class/powercap/intel-rapl:*`` (MSR interface) and
``intel-rapl-mmio:*`` (MMIO interface). Sub-zones such as ``intel-rapl:0:2`` appear there too,
as flat entries. Each zone has ``name``, ``energy_uj`` and ``max_energy_range_uj``.

``energy_uj`` counts up to ``max_energy_range_uj`` and then starts again at 0, so a wrap adds
``max_energy_range_uj + 1`` µJ (the 1 µJ is below the counter's resolution either way).
"""
from __future__ import annotations

import builtins
import os
import re

from .base import MEASURED, Domain, MeterUnavailable

SOURCE = "rapl"
# Sampling must see every wrap: at this power a counter may not wrap twice between reads.
MAX_POWER_W = 1000.0
SAFETY = 0.5  # read at least twice per wrap period at MAX_POWER_W
FIX = ("grant read access: sudo chmod a+r /sys/class/powercap/intel-rapl*/energy_uj "
       "(or a udev rule: SUBSYSTEM==\"powercap\", ACTION==\"add\", RUN+=\"/bin/chmod a+r %S%p/energy_uj\")")

# Zones whose energy is already part of another domain: a total must not add them twice.
_OVERLAPS = {"uncore": {"overlaps": "cpu (uncore is inside its package)"},
             "psys": {"overlaps": "cpu, dram (psys is the whole platform)"}}

_ZONE_ID = re.compile(r"^(intel-rapl(?:-mmio)?):(\d+)(?::(\d+))?$")


def _read_text(path: str) -> str:
    with builtins.open(path, "rb") as f:
        return f.read().decode("ascii", "replace").strip()


def _read_int(path: str) -> int:
    # Re-opened on every read: cheap (a few µs), and never reads a stale file that was replaced.
    fd = os.open(path, os.O_RDONLY)
    try:
        return int(os.read(fd, 32))
    finally:
        os.close(fd)


class _Zone:
    __slots__ = ("domain", "path", "range_uj", "last", "offset")

    def __init__(self, domain: Domain, path: str, range_uj: int, first: int):
        self.domain, self.path, self.range_uj = domain, path, range_uj
        self.last, self.offset = first, 0


class RaplMeter:
    source = SOURCE

    def __init__(self, zones: list[_Zone], root: str):
        self._zones = zones
        self.root = root

    def domains(self) -> list[Domain]:
        return [z.domain for z in self._zones]

    def read(self) -> dict[str, float]:
        out = {}
        for z in self._zones:
            raw = _read_int(z.path)
            if raw < z.last:  # wrapped since the last read (the sampler reads often enough)
                z.offset += z.range_uj + 1
            z.last = raw
            out[z.domain.name] = (z.offset + raw) * 1e-6
        return out

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


def open(sysfs_root: str | None = None) -> RaplMeter:  # noqa: A001 (module-level opener)
    """Open every readable RAPL domain under ``sysfs_root`` (default ``$WATTPRINT_SYSFS_ROOT`` or ``/``)."""
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
        range_j = range_uj * 1e-6
        dom = Domain(name=name, kind=kind, source=SOURCE, label=MEASURED,
                     method=f"RAPL energy counter ({zid} {zname})", counter=True,
                     device=zid, max_read_interval_s=SAFETY * range_j / MAX_POWER_W,
                     meta={"zone": zid, "zone_name": zname, "max_energy_range_uj": range_uj,
                           "path": real, **_OVERLAPS.get(kind, {})})
        zones.append(_Zone(dom, path, range_uj, first))
    if not zones:
        if denied:
            raise MeterUnavailable(SOURCE, f"permission denied reading {denied[0]} (root-only "
                                           "since CVE-2020-8694)", FIX, loud=True)
        raise MeterUnavailable(SOURCE, f"no usable RAPL domain in {base}", None)
    return RaplMeter(zones, root)


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
