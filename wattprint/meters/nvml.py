"""NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

Per GPU: the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ, Volta and newer)
when the device supports it, else the board power (``nvmlDeviceGetPowerUsage``, mW) for the
sampler to integrate.

Which GPUs: ``indices`` (physical NVML indices, for one rank per GPU) if given, else those in
``CUDA_VISIBLE_DEVICES`` (indices, ``GPU-`` UUIDs or unique prefixes, ``MIG-`` UUIDs), else all.
Domains are named ``gpu:N`` with N the index CUDA gives the device in this process (the
physical index when ``indices`` is given). A MIG instance has no energy counter of its own: it
is measured as its whole parent GPU (noted in the domain), and several instances of one GPU
count it once.
"""
from __future__ import annotations

import os
import sys

from .base import MEASURED, Domain, MeterUnavailable

SOURCE = "nvml"
# Present wherever the NVIDIA driver is: bare metal and containers (/dev/nvidiactl, /proc), WSL2.
_DRIVER_NODES = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg")


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class NvmlMeter:
    source = SOURCE

    def __init__(self, nvml, entries, notes):
        self._nvml = nvml
        self._entries = entries  # (domain, handle, is_counter)
        self.notes = notes
        self._closed = False

    def domains(self) -> list[Domain]:
        return [d for d, _, _ in self._entries]

    def read(self) -> dict[str, float]:
        n = self._nvml
        out = {}
        for dom, handle, is_counter in self._entries:
            if is_counter:
                out[dom.name] = n.nvmlDeviceGetTotalEnergyConsumption(handle) * 1e-3
            else:
                out[dom.name] = n.nvmlDeviceGetPowerUsage(handle) * 1e-3
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass


def _visible(nvml, count: int, uuids: list[str], notes: list[str]) -> list[tuple[int, int, str]]:
    """(cuda index, physical index, note) for each device CUDA_VISIBLE_DEVICES exposes."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return [(i, i, "") for i in range(count)]
    out: list[tuple[int, int, str]] = []
    for tok in (t.strip() for t in env.split(",")):
        phys, note = _resolve(nvml, tok, count, uuids)
        if phys is None:
            # CUDA itself ignores everything from the first invalid entry on.
            if tok:
                notes.append(f"CUDA_VISIBLE_DEVICES entry {tok!r}: {note}; it and later entries "
                             "are ignored, as CUDA does")
            break
        out.append((len(out), phys, note))
    if out and any(t.strip().isdigit() for t in env.split(",")) and \
            os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        notes.append("CUDA_VISIBLE_DEVICES uses indices but CUDA_DEVICE_ORDER is not PCI_BUS_ID: "
                     "CUDA may number GPUs differently from NVML")
    return out


def _resolve(nvml, tok: str, count: int, uuids: list[str]) -> tuple[int | None, str]:
    if tok.lstrip("-").isdigit():
        i = int(tok)
        return (i, "") if 0 <= i < count else (None, "no such GPU index")
    if tok.startswith("MIG-"):
        return _resolve_mig(nvml, tok, uuids)
    if tok.startswith("GPU-"):
        hits = [i for i, u in enumerate(uuids) if u.startswith(tok)]
        if len(hits) == 1:
            return hits[0], ""
        return None, "no GPU has this UUID" if not hits else "UUID prefix is ambiguous"
    return None, "not an index or a GPU-/MIG- UUID"


def _resolve_mig(nvml, tok: str, uuids: list[str]) -> tuple[int | None, str]:
    note = "MIG instance: measured as its whole parent GPU (MIG has no energy counter of its own)"
    if tok.startswith("MIG-GPU-"):  # old form MIG-GPU-<parent uuid>/<gi>/<ci>
        parent = tok[len("MIG-"):].split("/", 1)[0]
        if parent in uuids:
            return uuids.index(parent), note
        return None, "parent GPU of this MIG instance not found"
    try:
        mig = nvml.nvmlDeviceGetHandleByUUID(tok)
        parent = nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig)
        puuid = _text(nvml.nvmlDeviceGetUUID(parent))
        if puuid in uuids:
            return uuids.index(puuid), note
        return None, "parent GPU of this MIG instance not found"
    except Exception as e:
        return None, f"cannot resolve MIG instance ({type(e).__name__}: {e})"


def _probe(nvml, handle) -> bool | None:
    """True: energy counter works; False: only power works; None: neither."""
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        return True
    except Exception:  # NotSupported before Volta; any other failure: power may still work
        pass
    try:
        nvml.nvmlDeviceGetPowerUsage(handle)
        return False
    except Exception:
        return None


def open(indices=None, nvml=None) -> NvmlMeter:  # noqa: A001 (module-level opener)
    """Open NVIDIA GPUs. ``indices``: physical NVML indices; ``nvml``: a binding (tests)."""
    if nvml is None:
        if sys.platform.startswith("linux") and not any(os.path.exists(p) for p in _DRIVER_NODES):
            # Saves ~15 ms of importing pynvml and failing to load libnvidia-ml on CPU machines.
            raise MeterUnavailable(SOURCE, "no NVIDIA driver here (none of "
                                           f"{', '.join(_DRIVER_NODES)} exists)",
                                   "on an NVIDIA machine: install the driver and check nvidia-smi")
        try:
            import pynvml as nvml
        except ImportError:
            raise MeterUnavailable(SOURCE, "nvidia-ml-py is not installed",
                                   "pip install nvidia-ml-py") from None
    try:
        nvml.nvmlInit()
    except Exception as e:
        # With the driver's device nodes present this is a broken driver, not a missing GPU.
        broken = any(os.path.exists(p) for p in _DRIVER_NODES)
        raise MeterUnavailable(SOURCE, f"NVML could not start, so no NVIDIA driver or GPU here "
                                       f"({type(e).__name__}: {e})",
                               "on an NVIDIA machine: install the driver and check nvidia-smi",
                               loud=broken) from None
    try:
        return _open_devices(nvml, indices)
    except BaseException:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
        raise


def _open_devices(nvml, indices) -> NvmlMeter:
    count = int(nvml.nvmlDeviceGetCount())
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
    notes: list[str] = []
    if indices is not None:
        chosen = []
        for i in indices:
            if 0 <= int(i) < count:
                chosen.append((int(i), int(i), ""))
            else:
                notes.append(f"GPU index {i} does not exist ({count} GPUs)")
    else:
        chosen = _visible(nvml, count, uuids, notes)

    entries = []
    seen: dict[int, str] = {}
    for cuda_idx, phys, note in chosen:
        if phys in seen:  # two MIG instances (or a repeated index) of one GPU
            notes.append(f"gpu:{cuda_idx} is the same physical GPU as {seen[phys]}: counted once")
            continue
        handle = handles[phys]
        kind = _probe(nvml, handle)
        name = f"gpu:{phys if indices is not None else cuda_idx}"
        try:
            model = _text(nvml.nvmlDeviceGetName(handle))
        except Exception:
            model = "NVIDIA GPU"
        if kind is None:
            notes.append(f"{name} ({model}): neither energy nor power can be read; skipped")
            continue
        seen[phys] = name
        method = (f"NVML total energy counter ({model})" if kind else
                  f"NVML power polled and integrated ({model}; no energy counter)")
        meta = {"uuid": uuids[phys], "model": model, "nvml_index": phys}
        if note:
            meta["note"] = note
            method += "; " + note.split(":")[0]
        entries.append((Domain(name=name, kind="gpu", source=SOURCE, label=MEASURED,
                               method=method, counter=kind, device=uuids[phys], meta=meta),
                        handle, kind))
    if not entries:
        why = "; ".join(notes) or ("no GPU visible" if count else "NVML reports no GPU")
        raise MeterUnavailable(SOURCE, f"no NVIDIA GPU to measure: {why}", None)
    return NvmlMeter(nvml, entries, notes)
