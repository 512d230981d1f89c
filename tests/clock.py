"""A clock a test advances by hand (``clock.t += 1``), for code that takes ``clock=``."""


class ManualClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t
