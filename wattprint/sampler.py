"""The sampler: a daemon thread that polls meters and keeps energy totals per domain.

Counter domains give joules; the sampler takes differences. Power domains give watts; the
sampler integrates them with the trapezoid rule. A meter that fails is logged once, its
domains stop growing, and the run is marked degraded: nothing here raises into user code.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from .meters.base import Domain

log = logging.getLogger("wattprint")

MIN_INTERVAL_S = 0.01
# A meter that fails this many reads in a row is dropped for the rest of the run.
MAX_CONSECUTIVE_FAILURES = 5


@dataclass
class Snapshot:
    """Energy per domain (joules since the sampler started) at monotonic time ``t``."""

    t: float
    energy_j: dict[str, float]


class _Source:
    """One meter with its domains and integration state."""

    def __init__(self, meter):
        self.meter = meter
        self.domains: list[Domain] = list(meter.domains())
        self.last_raw: dict[str, float] = {}
        self.failures = 0
        self.dead = False
        self.warned = False


class Sampler:
    """Polls ``meters`` every ``interval`` seconds on a daemon thread.

    ``on_sample(t, energy_j, power_w)`` is called from the sampler thread after every poll with
    the time since start, cumulative joules per domain and the average power over the last
    interval; it must be cheap and must not keep the dicts. ``after_poll()`` runs on the sampler
    thread outside the lock (slow work such as writing the store goes there). Exceptions from
    either are logged once and swallowed.
    """

    def __init__(self, meters, interval: float = 1.0, *, on_sample=None, after_poll=None,
                 timeline: int = 3600, clock=time.monotonic):
        if not interval >= MIN_INTERVAL_S:  # also rejects NaN
            raise ValueError(f"interval must be at least {MIN_INTERVAL_S} s, got {interval}")
        self._sources = [_Source(m) for m in meters]
        self.domains: list[Domain] = [d for s in self._sources for d in s.domains]
        self.interval = float(interval)
        # Counters that can wrap must be read often enough to see every wrap.
        limits = [d.max_read_interval_s for d in self.domains if d.max_read_interval_s]
        self.poll_interval = min([self.interval, *limits])
        self._on_sample = on_sample
        self._after_poll = after_poll
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._energy = {d.name: 0.0 for d in self.domains}
        self._power = {d.name: 0.0 for d in self.domains}
        self._t0 = 0.0
        self._t_last = 0.0
        self.timeline: deque = deque(maxlen=timeline)  # (t, {domain: watts})
        self.degraded = False
        self.problems: list[str] = []
        self.polls = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._t0 = self._t_last = self._clock()
            self._poll_locked(self._t0, first=True)
        self._thread = threading.Thread(target=self._loop, name="wattprint-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> Snapshot:
        """Take a last reading, stop the thread and return the final totals."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(2.0, 2 * self.poll_interval))
        return self.snapshot(fresh=True)

    def _loop(self) -> None:
        next_t = self._clock() + self.poll_interval
        while not self._stop.wait(max(0.0, next_t - self._clock())):
            try:
                with self._lock:
                    self._poll_locked(self._clock())
                if self._after_poll is not None:
                    self._after_poll()
            except Exception as e:  # last line of defence: the thread must not die loudly
                self._problem(f"sampler error: {type(e).__name__}: {e}")
            next_t += self.poll_interval
            now = self._clock()
            if next_t < now:  # we fell behind (suspend, overloaded host): skip, don't burst
                next_t = now + self.poll_interval

    # -- reading --------------------------------------------------------------------------
    def snapshot(self, fresh: bool = False, timeout: float = 0.5) -> Snapshot:
        """Current totals. ``fresh`` reads the meters now (for window edges), unless the
        sampler is busy for longer than ``timeout``, in which case the last totals are used."""
        got = self._lock.acquire(timeout=timeout)
        try:
            if fresh and got:
                self._poll_locked(self._clock(), notify=False)
            return Snapshot(self._t_last - self._t0, dict(self._energy))
        finally:
            if got:
                self._lock.release()

    def power(self) -> dict[str, float]:
        return dict(self._power)

    def elapsed(self) -> float:
        """Seconds since ``start()`` on the sampler's clock (0 before it started)."""
        return self._clock() - self._t0 if self._thread is not None else 0.0

    def _poll_locked(self, now: float, first: bool = False, notify: bool = True) -> None:
        dt = now - self._t_last
        if not first and dt <= 0:
            return
        for src in self._sources:
            if src.dead:
                continue
            try:
                raw = src.meter.read()
                src.failures = 0
            except Exception as e:
                src.failures += 1
                if not src.warned:
                    src.warned = True
                    self._problem(f"{src.meter.source}: read failed ({type(e).__name__}: {e}); "
                                  "its energy stops at the last good reading")
                if src.failures >= MAX_CONSECUTIVE_FAILURES:
                    src.dead = True
                continue
            for d in src.domains:
                value = raw.get(d.name)
                if value is None or value != value:  # missing or NaN
                    continue
                prev = src.last_raw.get(d.name)
                src.last_raw[d.name] = value
                if first or prev is None:
                    if not d.counter:
                        self._power[d.name] = value
                    continue
                if d.counter:
                    delta = value - prev
                    if delta < 0:  # a counter reset the meter could not explain: skip it
                        continue
                    self._energy[d.name] += delta
                    self._power[d.name] = delta / dt
                else:
                    self._energy[d.name] += 0.5 * (prev + value) * dt
                    self._power[d.name] = value
        self._t_last = now
        if first:
            return
        self.polls += 1
        t = now - self._t0
        self.timeline.append((t, dict(self._power)))
        if notify and self._on_sample is not None:
            try:
                self._on_sample(t, self._energy, self._power)
            except Exception as e:
                self._problem(f"recording failed: {type(e).__name__}: {e}")

    def _problem(self, message: str) -> None:
        self.degraded = True
        if message not in self.problems:
            self.problems.append(message)
            log.warning("wattprint: %s", message)
