"""``wattprint plan``: GPU-hours, energy, CO2e, cost and embodied emissions of a training before it
starts, from its work (parameters x tokens, FLOPs, a config.json, or a measured run scaled up) and
the hardware and places it could run on. See docs/plan.md."""
import sys
import types

from .core import Plan, plan

__all__ = ["Plan", "plan"]


class _CallablePackage(types.ModuleType):
    """``wattprint.plan(...)`` is the function even once this package is imported: importing a
    package binds its name on the parent, so the package itself must be callable."""

    def __call__(self, *args, **kwargs) -> Plan:
        return plan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
