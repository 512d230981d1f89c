"""Published studies recomputed from their stated inputs with wattprint's own formulas.

``STUDIES`` maps a study name to a module with ``checks() -> list[Check]``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

STUDIES = {"strubell2019": "strubell2019"}


@dataclass
class Check:
    table: str
    item: str
    figure: str           # what is compared, with its unit
    ours: float | None
    published: float | None
    tolerance: float | None  # half the last printed digit; None = not compared
    kind: str = "check"   # check | calibration (an input fitted from this figure) | ours (not in the paper) | quoted
    note: str = ""

    @property
    def diff(self) -> float | None:
        if self.ours is None or self.published is None:
            return None
        return self.ours - self.published

    @property
    def ok(self) -> bool:
        if self.kind != "check" or self.tolerance is None:
            return True
        return abs(self.diff) <= self.tolerance + 1e-9

    def as_dict(self) -> dict:
        return dict(asdict(self), diff=self.diff, ok=self.ok)


def load(name: str):
    import importlib

    from ..errors import UsageError

    if name not in STUDIES:
        raise UsageError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    return importlib.import_module(f".{STUDIES[name]}", __name__)
