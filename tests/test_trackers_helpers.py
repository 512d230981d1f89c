"""What the tracker tests share: a GPU counter on the test's clock, a run on it, a loop."""
import pytest

import wattprint
from wattprint.meters.base import Domain

POWER_W = 250.0


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")


class ClockMeter:
    """A GPU counter at constant power on the test's clock."""

    def __init__(self, clock):
        self.clock = clock

    def domains(self):
        return [Domain("gpu:0", "gpu", "analytic", "measured", "constant power on a test clock",
                       counter=True)]

    def read(self):
        return {"gpu:0": POWER_W * self.clock()}

    def close(self):
        pass


def tracked(clock, store, **kw):
    return wattprint.track(meters=[ClockMeter(clock)], interval=3600, clock=clock, quiet=True,
                           distributed=False, store=store, **kw)


def train(clock, run, steps, gap=2.0, first=1):
    for step in range(first, first + steps):
        clock.t += gap
        run.energy()  # a meter reading now (the sampler's own waits an hour here)
        run.progress(step)
