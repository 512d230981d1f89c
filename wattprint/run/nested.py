"""Runs inside runs: a ``track()`` started while another run of the same thread is running.

The inner run measures through the outer run (one set of meters, read once per poll), and its
record says ``meta.nested_in``, so that totals count the machine once. Runs in *other*
threads of one process each measure the whole machine; that is said once.
"""
from __future__ import annotations

import dataclasses
import logging
import threading

log = logging.getLogger("wattprint")

_lock = threading.Lock()
_running: dict[int, list] = {}   # thread id -> its running runs, outermost first
_said: set = set()  # what was said: once per outer run, once per process for threads


class OuterRunMeter:
    """A meter over the enclosing run's totals: its domains, as cumulative counters."""

    source = "nested"

    def __init__(self, outer):
        self.outer = outer
        self._domains = [dataclasses.replace(d, counter=True, max_read_interval_s=None)
                         for d in outer.domains]

    def domains(self):
        return self._domains

    def read(self) -> dict:
        return dict(self.outer.energy(fresh=True).energy_j)

    def close(self) -> None:
        pass


def enter(run):
    """Register ``run`` as running in this thread; returns the run it is nested in, or None."""
    me = threading.get_ident()
    with _lock:
        stack = _running.setdefault(me, [])
        outer = stack[-1] if stack else None
        others = [r for t, rs in _running.items() if t != me for r in rs]
        stack.append(run)
    if outer is not None:
        _say(("nested", outer.run_id), f"wattprint: track() inside a running track() ({outer.run_id}): the inner "
                       "run is measured through the outer one and recorded as part of it, so "
                       "the machine is counted once")
    elif others:
        _say("threads", "wattprint: runs in several threads of one process each measure the "
                        "whole machine; adding their energy up counts it more than once")
    return outer


def leave(run) -> None:
    with _lock:
        stack = _running.get(threading.get_ident(), [])
        if run in stack:
            stack.remove(run)


def _say(key, message: str) -> None:
    if key not in _said:
        _said.add(key)
        log.warning(message)
