"""Energy sources. ``discover()`` opens what this machine has and says what it lacks.

Each source is one module with ``open(**options) -> Meter`` that raises ``MeterUnavailable``.
Measured sources come first; models fill only the gaps they leave (CPU without RAPL package
domains, DRAM without a RAPL dram domain), so nothing is counted twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .base import MEASURED, MODELLED, Domain, Meter, MeterUnavailable, Unavailable

__all__ = ["Domain", "Meter", "MeterUnavailable", "Unavailable", "MEASURED", "MODELLED",
           "Discovery", "discover"]

log = logging.getLogger("wattprint")


@dataclass
class Discovery:
    meters: list = field(default_factory=list)
    unavailable: list = field(default_factory=list)

    @property
    def domains(self) -> list[Domain]:
        return [d for m in self.meters for d in m.domains()]

    def close(self) -> None:
        for m in self.meters:
            try:
                m.close()
            except Exception:  # closing must never fail a run
                pass


def _try(disc: Discovery, opener, **kw):
    try:
        meter = opener(**kw)
    except MeterUnavailable as e:
        disc.unavailable.append(e.info)
        return None
    except Exception as e:  # a broken driver must not stop the training
        source = getattr(opener, "__module__", "meter").rsplit(".", 1)[-1]
        disc.unavailable.append(Unavailable(source, f"failed to open: {type(e).__name__}: {e}",
                                            loud=True))
        return None
    if meter is not None and meter.domains():
        disc.meters.append(meter)
        return meter
    return None


def discover(*, sysfs_root: str | None = None, gpus: bool = True, cpu: bool = True,
             pid: int | None = None, gpu_indices=None, cpu_model: str | None = None,
             cpu_tdp_w: float | None = None) -> Discovery:
    """Open every source this machine offers.

    ``pid``: if given, the modelled CPU counts only that process tree; otherwise the whole machine.
    ``cpu=False`` leaves out host domains (CPU, DRAM, psys): for ranks that are not their node's measurer.
    ``gpu_indices``: physical GPU indices to measure (None: all visible).
    ``cpu_model`` / ``cpu_tdp_w``: the CPU's name and package power for the modelled CPU, where
    the machine hides them (checked by the caller; RAPL, when readable, measures instead).
    """
    from . import amd, cpu_model as cpu_meter, dram_model, nvml, rapl

    disc = Discovery()
    have_cpu = have_dram = False
    if cpu:
        m = _try(disc, rapl.open, sysfs_root=sysfs_root)
        if m is not None:
            kinds = {d.kind for d in m.domains()}
            have_cpu = "cpu" in kinds
            have_dram = "dram" in kinds
    if gpus:
        _try(disc, nvml.open, indices=gpu_indices)
        _try(disc, amd.open, indices=gpu_indices)
    if cpu and not have_cpu:
        _try(disc, cpu_meter.open, pid=pid, model=cpu_model, tdp_w=cpu_tdp_w)
    if cpu and not have_dram:
        _try(disc, dram_model.open, pid=pid)
    return disc
