"""Energy over a span of time: a window, or the run so far."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..fmt import duration, energy_scale, power
from ..units import J_PER_KWH


@dataclass
class Measurement:
    """Energy per domain over a span of time (a window, or the run so far)."""

    name: str
    seconds: float = 0.0
    energy_j: dict = field(default_factory=dict)
    start_s: float = 0.0  # seconds since the run started
    counted: frozenset | None = None  # domains that add up without double counting (None: all)

    @property
    def total_j(self) -> float:
        if self.counted is None:
            return sum(self.energy_j.values())
        return sum(v for k, v in self.energy_j.items() if k in self.counted)

    @property
    def energy_kwh(self) -> float:
        return self.total_j / J_PER_KWH

    @property
    def avg_power_w(self) -> float:
        return self.total_j / self.seconds if self.seconds > 0 else 0.0

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v:.1f} J" for k, v in self.energy_j.items())
        return f"Measurement({self.name!r}, {self.seconds:.3f} s, {self.total_j:.1f} J: {parts})"

    def __str__(self) -> str:
        """``eval: 2.31 Wh over 41.2 s (202 W average); gpu:0 2.0 Wh, cpu:0 0.31 Wh``: one unit."""
        kwh = {k: v / J_PER_KWH for k, v in self.energy_j.items()}
        scale = energy_scale([self.energy_kwh, *kwh.values()])
        parts = "; " + ", ".join(f"{k} {scale(v)}" for k, v in kwh.items()) if len(kwh) > 1 else ""
        return (f"{self.name}: {scale(self.energy_kwh)} over {duration(self.seconds)} "
                f"({power(self.avg_power_w)} average){parts}")


class Window:
    """``with run.window("eval") as w:`` — afterwards ``w.energy_j`` and ``w.seconds``."""

    def __init__(self, run, name: str, sync: bool):
        self.run, self.name, self.sync = run, name, sync
        self.measurement: Measurement | None = None

    def __enter__(self):
        self.run.begin_window(self.name, self.sync)
        return self

    def __exit__(self, *exc):
        self.measurement = self.run.end_window(self.name, self.sync)
        return False

    @property
    def energy_j(self) -> dict:
        return self.measurement.energy_j if self.measurement else {}

    @property
    def seconds(self) -> float:
        return self.measurement.seconds if self.measurement else 0.0

    @property
    def total_j(self) -> float:
        return self.measurement.total_j if self.measurement else 0.0

    def __repr__(self):
        return repr(self.measurement) if self.measurement else f"<window {self.name!r} open>"

    def __str__(self):
        return str(self.measurement) if self.measurement else f"{self.name}: still open"


def sync_devices() -> None:
    """Wait for queued GPU work so it lands in the right window (only if torch+CUDA are in use)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except Exception:
        pass


def check_window_name(name) -> None:
    """A window's name is refused at the call: it is a programming error, seen at once."""
    if not isinstance(name, str):
        raise TypeError(f"window name must be a string, got {type(name).__name__} {name!r}")
    if not name.strip():
        raise ValueError("window name must not be empty")
