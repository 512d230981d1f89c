"""``log_to``: which experiment trackers a run writes to, checked before any training.

Imports no tracker library: ``find_spec`` only says whether one is installed.
"""
from __future__ import annotations

import importlib.util

from ...errors import UsageError
from ...fmt import name as option_name

CHOICES = "mlflow, wandb, tensorboard:DIR"
# tracker -> (any one of these sets of top-level packages, the extra that installs one)
# (top-level names only: find_spec of a submodule would import its package, torch's 1 s)
NEEDS = {"mlflow": ((("mlflow",),), "mlflow"), "wandb": ((("wandb",),), "wandb"),
         "tensorboard": ((("tensorboardX",), ("torch", "tensorboard")), "tensorboard")}


def check_log_to(value) -> tuple:
    """``"mlflow"``, ``"wandb"``, ``"tensorboard:DIR"``, a comma-separated string of them, a
    list of them, or a ``SummaryWriter`` object -> a tuple of specs (strings or writers)."""
    if value is None:
        return ()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    out: list = []
    for item in items:
        if isinstance(item, str):
            for part in (p.strip() for p in item.split(",")):
                if part:
                    spec = _one(part)
                    if spec not in out:
                        out.append(spec)
        elif callable(getattr(item, "add_scalar", None)):  # a SummaryWriter (torch or tensorboardX)
            out.append(item)
        else:
            raise UsageError(f"{option_name('log_to')}: cannot log to {type(item).__name__!r} objects; "
                             f"give {CHOICES} or a SummaryWriter")
    for spec in out:
        check_installed(kind(spec))
    return tuple(out)


def _one(part: str) -> str:
    name, sep, arg = part.partition(":")
    name = name.strip().lower()
    if name in ("mlflow", "wandb") and not sep:
        return name
    if name == "tensorboard":
        if not arg.strip():
            raise UsageError(f"{option_name('log_to')} {part!r}: say where TensorBoard's event files go, "
                             "e.g. 'tensorboard:runs/energy'")
        return f"tensorboard:{arg.strip()}"
    raise UsageError(f"{option_name('log_to')}: unknown tracker {part!r}; choose from {CHOICES} (or several, "
                     "comma-separated)")


def kind(spec) -> str:
    """'mlflow', 'wandb' or 'tensorboard' (a SummaryWriter object is TensorBoard)."""
    return spec.split(":", 1)[0] if isinstance(spec, str) else "tensorboard"


def check_installed(name: str) -> None:
    choices, extra = NEEDS[name]
    for packages in choices:
        if all(_present(p) for p in packages):
            return
    raise UsageError(f"{option_name('log_to')} {name!r} needs the {choices[0][0]} package; install it with: "
                     f"pip install 'wattprint[{extra}]'")


def _present(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules[name] is None)
        return False
