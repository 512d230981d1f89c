"""The meter protocol: what every energy source (RAPL, NVML, models, ...) offers the sampler.

A meter reports, per domain, either a cumulative energy counter in joules (``counter=True``)
or an instantaneous power in watts (``counter=False``); the sampler integrates the latter.
Counters must already be corrected for wraparound, starting at any offset: the sampler only
uses differences. A domain a meter cannot read this time is left out of ``read()``'s result;
the sampler bridges the gap when it comes back. A meter may also offer ``events()`` (below).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

MEASURED = "measured"
MODELLED = "modelled"

# Domain kinds, as they appear in results and JSON.
KINDS = ("cpu", "dram", "gpu", "psys", "uncore", "other")


@dataclass(frozen=True)
class Domain:
    name: str          # unique within a run, e.g. "cpu:0", "dram:0", "gpu:0", "psys"
    kind: str          # one of KINDS
    source: str        # "rapl", "nvml", "amdsmi", "cpu-model", "dram-model"
    label: str         # MEASURED or MODELLED
    method: str        # one line: how the number is obtained (and from what, for models)
    counter: bool = True   # True: read() gives cumulative joules; False: watts
    device: str | None = None  # GPU index/UUID, socket id, ...
    # Longest safe gap between reads (s), e.g. a RAPL counter wrapping at 1 kW. None: no limit.
    max_read_interval_s: float | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("max_read_interval_s")
        return d


@dataclass
class Unavailable:
    """A source this machine lacks or cannot read, and what to do about it (for ``doctor``)."""

    source: str
    reason: str
    fix: str | None = None
    # True when the source is there but cannot be used (permission, broken driver): a run says
    # so in one line. False for sources the machine simply lacks (no GPU, no RAPL in a VM).
    loud: bool = False


# What can happen to a domain, as the run's record lists it (``Sampler.events``).
EVENT_KINDS = ("wrap", "reset", "jump", "unreadable", "recovered")


@dataclass(frozen=True)
class MeterEvent:
    """Something a meter saw in a domain's readings, e.g. a counter that went back."""

    domain: str
    kind: str      # one of EVENT_KINDS
    detail: str = ""


@runtime_checkable
class Meter(Protocol):
    source: str

    def domains(self) -> list[Domain]:
        """The domains this meter reports, fixed after construction."""

    def read(self) -> dict[str, float]:
        """Joules (counter domains) or watts (power domains) per domain name. May raise."""

    def close(self) -> None:
        """Release handles. Must not raise."""

    # Optional, not part of the protocol check: ``events() -> list[MeterEvent]``, what the
    # meter saw since the last call (why a domain is missing, a counter reset it corrected).


class MeterUnavailable(Exception):
    """Raised by a meter module's ``open()`` when this machine lacks the source or cannot read it."""

    def __init__(self, source: str, reason: str, fix: str | None = None, *, loud: bool = False):
        super().__init__(f"{source}: {reason}")
        self.info = Unavailable(source, reason, fix, loud)


def counted_in_total(domains) -> frozenset:
    """Names of the domains a total may add up without counting energy twice.

    RAPL's uncore lies inside its package, and psys (the whole platform, on client parts)
    contains package and dram: where psys exists it stands for the host in the total, and the
    package/dram domains stay in the breakdown only.
    """
    has_psys = any(d.kind == "psys" for d in domains)
    out = set()
    for d in domains:
        if d.kind == "uncore":
            continue
        if has_psys and d.kind in ("cpu", "dram") and d.source == "rapl":
            continue
        out.add(d.name)
    return frozenset(out)
