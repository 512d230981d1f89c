"""The sampler: a daemon thread that polls meters and keeps energy totals per domain.

Counter domains give joules; the sampler takes differences. Power domains give watts; the
sampler integrates them with the trapezoid rule. Nothing here raises into user code.

Each domain fails and recovers on its own: a domain missing from a reading (or every domain of
a meter whose read raises) keeps its last value and time, and when it is read again the step
across the whole gap is counted (counters are cumulative; power is interpolated). A meter that
keeps failing is tried again every ``RETRY_S``. What happened, and when, is in ``events`` for
the run's record; a problem marks the run degraded and is warned about once per kind.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from .meters.base import Domain

log = logging.getLogger("wattprint")

MIN_INTERVAL_S = 0.01
# A meter that fails this many reads in a row is then tried only every RETRY_S (it may be slow).
MAX_CONSECUTIVE_FAILURES = 5
RETRY_S = 5.0
MAX_EVENTS = 100  # kept in ``events``; later ones are counted in one "omitted" entry
_PROBLEMS = {  # event kind -> the one warning for it
    "reset": "{domain}: energy counter went back: {detail}. The run is marked degraded; later "
             "counter problems go only to its events",
    "jump": "{domain}: energy counter jumped: {detail}. The run is marked degraded; later "
            "counter problems go only to its events",
    "unreadable": "{domain}: no reading ({detail}); the other domains go on, and its energy "
                  "over the gap counts when it reads again",
}


@dataclass
class Snapshot:
    """Energy per domain (joules since the sampler started) at monotonic time ``t``."""

    t: float
    energy_j: dict[str, float]


class _Source:
    """One meter with its domains and, per domain, the last good value and its time."""

    def __init__(self, meter):
        self.meter = meter
        self.domains: list[Domain] = list(meter.domains())
        self.last_raw: dict[str, float] = {}
        self.last_t: dict[str, float] = {}
        self.gone: dict[str, float] = {}  # domain -> when (s since start) it stopped reading
        self.failures = 0
        self.retry_at: float | None = None
        self.warned = False
        self.events = getattr(meter, "events", None)  # optional: see meters/base.py


class Sampler:
    """Polls ``meters`` every ``interval`` seconds on a daemon thread.

    ``on_sample(t, energy_j, power_w)`` is called from the sampler thread after every poll with
    the time since start, cumulative joules per domain and the average power over the last
    interval; it must be cheap and must not keep the dicts. ``after_poll()`` runs on the sampler
    thread outside the lock (slow work such as writing the store goes there). Exceptions from
    either are logged once and swallowed.
    """

    def __init__(self, meters, interval: float = 1.0, *, on_sample=None, after_poll=None,
                 clock=time.monotonic):
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
        self.degraded = False
        self.problems: list[str] = []
        self._events: list[dict] = []
        self._omitted = 0
        self._wrapped: set[str] = set()
        self._warned_kinds: set[str] = set()

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

    @property
    def events(self) -> list[dict]:
        """What happened to the domains, oldest first: ``{"t": s since start, "domain",
        "kind", "detail"}`` with kind wrap (the first of each domain), reset, jump, unreadable
        or recovered. Beyond MAX_EVENTS, one last entry of kind "omitted" counts the rest."""
        out = [dict(e) for e in list(self._events)]  # a copy: the sampler thread appends
        if self._omitted:
            out.append({"t": round(self._t_last - self._t0, 3), "domain": None, "kind": "omitted",
                        "detail": f"{self._omitted} later events not listed"})
        return out

    def elapsed(self) -> float:
        """Seconds since ``start()`` on the sampler's clock (0 before it started)."""
        return self._clock() - self._t0 if self._thread is not None else 0.0

    def _poll_locked(self, now: float, first: bool = False, notify: bool = True) -> None:
        dt = now - self._t_last
        if not first and dt <= 0:
            return
        t = now - self._t0
        for src in self._sources:
            if src.retry_at is None or now >= src.retry_at:
                self._read(src, now, t, first)
        self._t_last = now
        if first:
            return
        if notify and self._on_sample is not None:
            try:
                self._on_sample(t, self._energy, self._power)
            except Exception as e:
                self._problem(f"recording failed: {type(e).__name__}: {e}")

    def _read(self, src: _Source, now: float, t: float, first: bool) -> None:
        try:
            raw = src.meter.read()
        except Exception as e:
            src.failures += 1
            if not src.warned:
                src.warned = True
                self._problem(f"{src.meter.source}: read failed ({type(e).__name__}: {e}); "
                              "its domains are left out until it reads again")
            if src.failures >= MAX_CONSECUTIVE_FAILURES:
                src.retry_at = now + RETRY_S
            for d in src.domains:
                self._gone(src, d.name, t, f"{type(e).__name__}: {e}", warn=False)
            return
        src.failures, src.retry_at = 0, None
        seen = self._meter_events(src)
        why = {ev.domain: ev.detail for ev in seen if ev.kind == "unreadable"}
        for d in src.domains:
            value = raw.get(d.name)
            if value is None or value != value:  # missing or NaN
                self._gone(src, d.name, t, why.get(d.name, "no value in the reading"))
            else:
                self._take(src, d, value, now, t, first)
        for ev in seen:  # after the domains, so that "recovered" comes before what it found
            if ev.kind != "unreadable":
                self._event(t, ev.domain, ev.kind, ev.detail)

    @staticmethod
    def _meter_events(src: _Source) -> list:
        if src.events is None:
            return []
        try:
            return list(src.events())
        except Exception:  # events are a courtesy: never worth a lost reading
            return []

    def _gone(self, src: _Source, name: str, t: float, why: str, warn: bool = True) -> None:
        if name not in src.gone:  # once per outage
            src.gone[name] = t
            self._event(t, name, "unreadable", why, warn=warn)

    def _take(self, src: _Source, d: Domain, value: float, now: float, t: float,
              first: bool) -> None:
        name = d.name
        prev, prev_t = src.last_raw.get(name), src.last_t.get(name)
        src.last_raw[name], src.last_t[name] = value, now
        since = src.gone.pop(name, None)
        if since is not None:
            self._event(t, name, "recovered", f"read again after {t - since:.3g} s" + (
                "" if prev is not None else "; its energy before this is not known"))
        if first or prev is None:
            if not d.counter:
                self._power[name] = value
            return
        span = now - prev_t  # longer than one poll when the domain was missing
        if d.counter:
            delta = value - prev
            if delta < 0:  # a reset the meter did not explain: count from the new value
                self._event(t, name, "reset", f"counter went back by {-delta:.6g} J; "
                                              "counted from the new value")
                return
            self._energy[name] += delta
            self._power[name] = delta / span
        else:
            self._energy[name] += 0.5 * (prev + value) * span
            self._power[name] = value

    def _event(self, t: float, domain: str, kind: str, detail: str, warn: bool = True) -> None:
        if kind == "wrap":  # routine: one per domain shows the correction at work
            if domain in self._wrapped:
                return
            self._wrapped.add(domain)
            detail += "; later wraps of this domain are counted without an event"
        if len(self._events) < MAX_EVENTS:
            self._events.append({"t": round(t, 3), "domain": domain, "kind": kind,
                                 "detail": detail})
        else:
            self._omitted += 1
        if kind in _PROBLEMS:
            self.degraded = True
            if warn and kind not in self._warned_kinds:
                self._warned_kinds.add(kind)
                self._problem(_PROBLEMS[kind].format(domain=domain, detail=detail))

    def _problem(self, message: str) -> None:
        self.degraded = True
        if message not in self.problems:
            self.problems.append(message)
            log.warning("wattprint: %s", message)
