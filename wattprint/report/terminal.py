"""The short human summary printed at the end of ``wattprint run`` and by ``wattprint show``."""
from __future__ import annotations


def _fmt_j(j: float) -> str:
    if j >= 3.6e6:
        return f"{j / 3.6e6:.3f} kWh"
    if j >= 3.6e3:
        return f"{j / 3.6e3:.2f} Wh"
    return f"{j:.1f} J"


def _fmt_s(s: float) -> str:
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.2f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def summary(record, footprint=None) -> str:
    """A few lines: duration, energy and average power per domain with its label."""
    status = record.status + (" (degraded)" if record.degraded else "")
    lines = [f"wattprint: run {record.id} {status} · {_fmt_s(record.duration_s)} · "
             f"{_fmt_j(record.energy_j)} · {record.avg_power_w:.1f} W average"]
    width = max((len(d.name) for d in record.domains), default=4)
    for d in record.domains:
        lines.append(f"  {d.name:<{width}}  {_fmt_j(d.energy_j):>12}  {d.avg_power_w:8.1f} W  "
                     f"{d.label:<8}  {d.method}")
    if not record.domains:
        lines.append("  no meters: nothing was measured (see 'wattprint doctor')")
    return "\n".join(lines)
