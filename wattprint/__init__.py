"""wattprint: what a machine-learning training really costs.

    with wattprint.track(project="bert") as run:
        train()
    print(run.result)

Heavy parts are imported on first use so that ``import wattprint`` stays light.
"""
from ._version import __version__
from .errors import BudgetExceeded, UsageError, WattprintError

__all__ = ["__version__", "track", "Run", "estimate", "plan", "BudgetExceeded", "UsageError", "WattprintError"]

_LAZY = {
    "track": ("run", "track"),
    "Run": ("run", "Run"),
    "estimate": ("footprint", "estimate"),
    "plan": ("plan", "plan"),
    "Footprint": ("footprint", "Footprint"),
    "Prediction": ("predict", "Prediction"),
}


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'wattprint' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value
