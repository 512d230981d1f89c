#!/usr/bin/env python3
"""Check wattprint's NVML measurement on a real NVIDIA GPU.

Runs a ~30 s matrix-multiply load on CUDA device 0 and measures its energy twice:
  1. the NVML total-energy counter, through wattprint's nvml meter;
  2. NVML board power polled every 100 ms and integrated (trapezoids).
Prints both energies, the average power and their ratio. The two should agree within a few
percent (the power reading is itself an average over a short window, so small gaps are normal).

Exit codes: 0 ok; 2 no torch / no CUDA GPU / no NVML; 3 the two disagree by more than 10 %.
Usage: python scripts/gpu_check.py [--seconds 30] [--size 8192]
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def fail(msg: str, code: int = 2):
    print(f"gpu_check: {msg}", file=sys.stderr)
    sys.exit(code)


class PowerPoller(threading.Thread):
    """Polls NVML power (mW) and integrates it into joules."""

    def __init__(self, nvml, handle, period_s=0.1):
        super().__init__(daemon=True)
        self.nvml, self.handle, self.period_s = nvml, handle, period_s
        self.energy_j = 0.0
        self.samples = 0
        self._stop_evt = threading.Event()
        self._last = None

    def sample(self):
        t, w = time.monotonic(), self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
        if self._last is not None:
            t0, w0 = self._last
            self.energy_j += 0.5 * (w0 + w) * (t - t0)
        self._last = (t, w)
        self.samples += 1

    def run(self):
        while not self._stop_evt.wait(self.period_s):
            self.sample()

    def stop(self):
        self._stop_evt.set()
        self.join()
        self.sample()  # close the last interval at the same moment as the counter read


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--size", type=int, default=8192)
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        fail("torch is not installed (pip install torch)")
    if not torch.cuda.is_available():
        fail("no CUDA GPU visible to torch")
    from wattprint.meters import MeterUnavailable, nvml

    try:
        meter = nvml.open()
    except MeterUnavailable as e:
        fail(f"NVML unavailable: {e.info.reason}")
    dom = next(d for d in meter.domains() if d.name == "gpu:0")
    import pynvml as binding  # raw binding for the polling side (nvmlInit is ref-counted)

    binding.nvmlInit()
    handle = binding.nvmlDeviceGetHandleByUUID(dom.device)
    print(f"GPU: {dom.meta.get('model')} ({dom.device}); meter method: {dom.method}")

    dev = torch.device("cuda:0")
    a = torch.randn(args.size, args.size, device=dev, dtype=torch.float16)
    b = torch.randn(args.size, args.size, device=dev, dtype=torch.float16)
    for _ in range(3):  # warm up kernels and clocks before measuring
        a @ b
    torch.cuda.synchronize()

    poller = PowerPoller(binding, handle)
    e0 = meter.read()["gpu:0"] if dom.counter else None
    t0 = time.monotonic()
    poller.sample()
    poller.start()
    n = 0
    while time.monotonic() - t0 < args.seconds:
        for _ in range(20):
            c = a @ b
        torch.cuda.synchronize()  # keep the load inside the measured interval
        n += 20
    poller.stop()
    e1 = meter.read()["gpu:0"] if dom.counter else None
    dt = time.monotonic() - t0
    meter.close()
    binding.nvmlShutdown()
    del c

    tflops = 2 * args.size ** 3 * n / dt / 1e12
    polled = poller.energy_j
    print(f"duration            {dt:8.2f} s   ({n} matmuls, {tflops:.0f} TFLOP/s fp16)")
    print(f"polled power        {polled:10.1f} J   avg {polled / dt:7.1f} W   "
          f"({poller.samples} samples)")
    if e0 is None:
        print("energy counter      not supported on this GPU (pre-Volta): nothing to compare")
        return 0
    counter = e1 - e0
    ratio = polled / counter if counter > 0 else float("nan")
    print(f"energy counter      {counter:10.1f} J   avg {counter / dt:7.1f} W")
    print(f"ratio polled/counter {ratio:.4f}")
    if not 0.9 <= ratio <= 1.1:
        fail(f"polled power and energy counter disagree by {abs(ratio - 1):.1%}", 3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
