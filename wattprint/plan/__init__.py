"""``wattprint plan``: GPU-hours, energy, CO2e, cost and embodied emissions of a training before it
starts, from its work (parameters x tokens, FLOPs, a config.json, or a measured run scaled up) and
the hardware and places it could run on. See docs/plan.md."""
from .core import Plan, plan

__all__ = ["Plan", "plan"]
