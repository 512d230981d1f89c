"""AMD GPUs through ``amdsmi`` (ROCm's Python binding; the optional ``amd`` extra).

Per GPU: the energy accumulator (``amdsmi_get_energy_count``: counter × ``counter_resolution``
µJ) when it works, else the socket power (``amdsmi_get_power_info``, W) for the sampler to
integrate.

Impossible readings are dropped, not passed on: the domain is simply missing from that
``read()`` result (the sampler then bridges the gap from the previous good reading).
Impossible means negative power, more than ``LIMIT_FACTOR`` × the card's power cap or more than
``ABS_LIMIT_W`` (the same bound applied to the average power implied by a counter step), or an
energy counter that goes backwards. After a rejected counter step the count continues from the
next reading, so a glitch or a counter reset loses that one interval instead of adding garbage.

Which GPUs: ``indices`` (amdsmi order) if given, else ``HIP_VISIBLE_DEVICES`` /
``ROCR_VISIBLE_DEVICES`` when they hold plain indices, else all. Domains are ``gpu:N``.
"""
from __future__ import annotations

import os
import time

from .base import MEASURED, Domain, MeterUnavailable

SOURCE = "amdsmi"
LIMIT_FACTOR = 5.0
ABS_LIMIT_W = 3000.0


def _energy_uj(smi, handle) -> float:
    info = smi.amdsmi_get_energy_count(handle)
    if isinstance(info, dict):
        # ROCm ≥ 6.1 names it energy_accumulator; earlier bindings called it "power".
        raw = info.get("energy_accumulator", info.get("power"))
        res = info.get("counter_resolution", 1.0)
    else:  # a plain (counter, resolution, timestamp) tuple
        raw, res = info[0], info[1]
    return float(raw) * float(res)


def _power_w(smi, handle) -> float:
    info = smi.amdsmi_get_power_info(handle)
    for key in ("current_socket_power", "average_socket_power"):
        v = info.get(key)
        if isinstance(v, (int, float)) and v != 0xFFFF:  # 0xFFFF / "N/A": not supported
            return float(v)
    raise ValueError(f"no power reading in {sorted(info)}")


def _power_cap_w(smi, handle) -> float | None:
    try:
        cap = smi.amdsmi_get_power_cap_info(handle)["power_cap"]
    except Exception:
        return None
    cap = float(cap)
    return cap / 1e6 if cap > 10_000 else cap  # µW in amdsmi; plain W in some builds


class _Gpu:
    __slots__ = ("domain", "handle", "counter", "limit_w", "last_uj", "offset_uj", "last_t")

    def __init__(self, domain, handle, counter, limit_w):
        self.domain, self.handle, self.counter, self.limit_w = domain, handle, counter, limit_w
        self.last_uj = None
        self.offset_uj = 0.0
        self.last_t = 0.0


class AmdMeter:
    source = SOURCE

    def __init__(self, smi, gpus, notes, clock=time.monotonic):
        self._smi = smi
        self._gpus = gpus
        self.notes = notes
        self.rejected = 0  # readings dropped as impossible
        self._clock = clock
        self._closed = False

    def domains(self) -> list[Domain]:
        return [g.domain for g in self._gpus]

    def read(self) -> dict[str, float]:
        out = {}
        now = self._clock()
        for g in self._gpus:
            if g.counter:
                v = self._counter(g, _energy_uj(self._smi, g.handle), now)
            else:
                w = _power_w(self._smi, g.handle)
                v = w if 0.0 <= w <= g.limit_w else None
            if v is None:
                self.rejected += 1
            else:
                out[g.domain.name] = v
        return out

    def _counter(self, g: _Gpu, uj: float, now: float) -> float | None:
        if g.last_uj is None:
            g.last_uj, g.last_t = uj, now
            return (g.offset_uj + uj) * 1e-6
        step = uj - g.last_uj
        dt = now - g.last_t
        ok = step >= 0 and (dt <= 0 and step == 0 or dt > 0 and step * 1e-6 / dt <= g.limit_w)
        if not ok:
            # Resume from the new value: this interval is lost, the total stays monotonic.
            g.offset_uj += g.last_uj - uj
        g.last_uj, g.last_t = uj, now
        return (g.offset_uj + uj) * 1e-6 if ok else None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._smi.amdsmi_shut_down()
            except Exception:
                pass


def _env_indices() -> list[int] | None:
    for var in ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"):
        v = os.environ.get(var)
        if v is not None:
            toks = [t.strip() for t in v.split(",") if t.strip()]
            if all(t.isdigit() for t in toks):
                return [int(t) for t in toks]
    return None


def open(indices=None, amdsmi=None, clock=time.monotonic) -> AmdMeter:  # noqa: A001
    """Open AMD GPUs. ``indices``: amdsmi device order; ``amdsmi``: a binding (tests)."""
    smi = amdsmi
    if smi is None:
        try:
            import amdsmi as smi
        except ImportError:
            raise MeterUnavailable(SOURCE, "amdsmi is not installed (needed only for AMD GPUs)",
                                   "pip install 'wattprint[amd]' on a ROCm machine") from None
        except Exception as e:  # the binding loads libamd_smi.so at import time
            raise MeterUnavailable(SOURCE, f"amdsmi failed to load: {type(e).__name__}: {e}",
                                   None) from None
    try:
        flags = getattr(getattr(smi, "AmdSmiInitFlags", None), "INIT_AMD_GPUS", None)
        smi.amdsmi_init(flags) if flags is not None else smi.amdsmi_init()
    except Exception as e:
        raise MeterUnavailable(SOURCE, f"amdsmi could not start, so no AMD GPU driver here "
                                       f"({type(e).__name__}: {e})", None) from None
    try:
        return _open_devices(smi, indices, clock)
    except BaseException:
        try:
            smi.amdsmi_shut_down()
        except Exception:
            pass
        raise


def _open_devices(smi, indices, clock) -> AmdMeter:
    handles = list(smi.amdsmi_get_processor_handles())
    chosen = list(indices) if indices is not None else _env_indices()
    notes: list[str] = []
    if chosen is None:
        chosen = list(range(len(handles)))
    gpus = []
    for pos, i in enumerate(chosen):
        if not 0 <= int(i) < len(handles):
            notes.append(f"AMD GPU index {i} does not exist ({len(handles)} GPUs)")
            continue
        h = handles[int(i)]
        name = f"gpu:{i if indices is not None else pos}"
        model = _model(smi, h)
        cap = _power_cap_w(smi, h)
        limit = min(ABS_LIMIT_W, LIMIT_FACTOR * cap) if cap else ABS_LIMIT_W
        counter = _works(_energy_uj, smi, h)
        if not counter and not _works(_power_w, smi, h):
            notes.append(f"{name} ({model}): neither energy nor power can be read; skipped")
            continue
        method = (f"amdsmi energy counter ({model})" if counter
                  else f"amdsmi power polled and integrated ({model}; no energy counter)")
        meta = {"model": model, "amdsmi_index": int(i), "power_cap_w": cap, "limit_w": limit}
        uuid = _safe(lambda: smi.amdsmi_get_gpu_device_uuid(h))
        if uuid:
            meta["uuid"] = str(uuid)
        dom = Domain(name=name, kind="gpu", source=SOURCE, label=MEASURED, method=method,
                     counter=counter, device=str(uuid or i), meta=meta)
        gpus.append(_Gpu(dom, h, counter, limit))
    if not gpus:
        why = "; ".join(notes) or "amdsmi reports no GPU"
        raise MeterUnavailable(SOURCE, f"no AMD GPU to measure: {why}", None)
    return AmdMeter(smi, gpus, notes, clock)


def _works(fn, smi, h) -> bool:
    try:
        fn(smi, h)
        return True
    except Exception:
        return False


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None


def _model(smi, h) -> str:
    info = _safe(lambda: smi.amdsmi_get_gpu_asic_info(h)) or {}
    return str(info.get("market_name") or "AMD GPU")
