"""Every ``track()`` option, checked once, in one frozen dataclass.

A bad option raises ``UsageError`` here, before any training has run. Later rooms (the run,
its plugins) read ``run.options`` and never check again.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import sys
from dataclasses import dataclass, field

from ..errors import UsageError
from ..fmt import either, name, opt
from ..sampler import MIN_INTERVAL_S
from ..units import (MAX_HOURS, MAX_WORK, S_PER_H, check_range, check_run_id, check_url,
                     positive_or_none)

BUDGET_KEYS = ("budget_kwh", "budget_co2e_kg", "budget_usd")


class UnknownOption(UsageError, TypeError):
    """An option that does not exist (a typo): a ``UsageError``, and a ``TypeError`` as Python
    gives for any unknown keyword."""


def unknown_option(name: str, known) -> UnknownOption:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; the options are: {', '.join(sorted(known))}"
    return UnknownOption(f"unknown option {name!r}{hint}")


def checked_keywords(fn):
    """``fn`` refusing an unknown keyword with the closest known name, before it runs (the
    signature stays ``fn``'s own, for help() and IDEs)."""
    known = {n for n, p in inspect.signature(fn).parameters.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for key in kwargs:
            if key not in known:
                raise unknown_option(key, known)
        return fn(*args, **kwargs)

    wrapper.known_options = frozenset(known)
    return wrapper


@dataclass(frozen=True)
class Options:
    """What a run was asked to do. Build it with :func:`options` (which checks it)."""

    project: str | None = None
    tags: tuple = ()
    interval: float = 1.0
    store: str | None = None
    flush_interval: float = 5.0
    total: float | None = None
    unit: str = "step"
    location: dict = field(default_factory=dict)  # only the location keys that were given
    budget_kwh: float | None = None
    budget_co2e_kg: float | None = None
    budget_usd: float | None = None
    on_exceed: str = "warn"
    predict_every: float | None = 0.1
    prometheus_port: int | None = None
    push_gateway: str | None = None
    distributed: str | bool | None = "auto"
    scope: str = "machine"
    sysfs_root: str | None = None
    gpus: bool = True
    cpu: str | None = None  # the CPU's model, for a machine that hides it (a VM's "AMD EPYC")
    cpu_tdp_w: float | None = None  # the CPU package's power, W, instead of the table's
    run_id: str | None = None  # the id asked for (None: a fresh one per run)
    command: str | None = None
    quiet: bool = False
    verbose: bool = False  # also say when a prediction is not yet reliable, and why
    meters: tuple | None = None  # meters to use instead of discovering them (tests, embedding)
    log_to: tuple = ()  # experiment trackers: "mlflow", "wandb", "tensorboard:DIR", SummaryWriters

    @property
    def budgets(self) -> dict:
        return {k: getattr(self, k) for k in BUDGET_KEYS}


@checked_keywords
def options(*, project=None, tags=None, interval=1.0, store=None, flush_interval=5.0,
            total=None, unit="step", region=None, cloud=None, intensity=None, net_intensity=None,
            pue=None, prices=None, tariff=None, hardware=None, budget_kwh=None,
            budget_co2e_kg=None, budget_usd=None, on_exceed="warn", predict_every=0.1,
            prometheus_port=None, push_gateway=None, distributed="auto", scope="machine",
            sysfs_root=None, gpus=True, cpu=None, cpu_tdp_w=None, run_id=None, command=None,
            quiet=False, verbose=False, meters=None, log_to=None) -> Options:
    """Check every option and return them as :class:`Options`; ``UsageError`` names the bad one."""
    try:
        interval = float(interval)
    except (TypeError, ValueError):
        raise UsageError(f"{name('interval')} must be a number of seconds, got {interval!r}") from None
    if not interval >= MIN_INTERVAL_S:  # also rejects NaN
        raise UsageError(f"{name('interval')} must be at least {MIN_INTERVAL_S} s (10 ms), got {interval!r}")
    flush_interval = positive_or_none(name("flush_interval"), flush_interval)
    if flush_interval is None:
        raise UsageError(f"{name('flush_interval')} must be a positive number of seconds, got None")
    if scope not in ("machine", "process"):
        raise UsageError(f"{name('scope')} must be 'machine' or 'process', got {scope!r}")
    if on_exceed not in ("warn", "stop"):
        raise UsageError(f"{name('on_exceed')} must be 'warn' or 'stop', got {on_exceed!r}")
    if not (isinstance(distributed, bool) or distributed in (None, "auto", "off", "no")):
        raise UsageError(f"distributed must be 'auto', True or False, got {distributed!r}")
    if predict_every is not None:
        predict_every = positive_or_none(name("predict_every"), predict_every)
        if predict_every > 1:
            raise UsageError(f"{name('predict_every')} is a fraction of the total (e.g. 0.1 for every "
                             f"10 %), got {predict_every!r}")
    budgets = {k: positive_or_none(name(k), v) for k, v in
               (("budget_kwh", budget_kwh), ("budget_co2e_kg", budget_co2e_kg),
                ("budget_usd", budget_usd))}
    location = {k: v for k, v in dict(
        region=region, cloud=cloud, intensity=intensity, net_intensity=net_intensity, pue=pue,
        prices=prices, tariff=tariff, hardware=hardware).items() if v is not None}
    if budgets["budget_co2e_kg"] and not any(location.get(k) for k in ("region", "cloud", "intensity")):
        raise UsageError(f"{name('budget_co2e_kg')} needs a grid intensity: pass {opt('region')}, "
                         f"{opt('cloud')} or {opt('intensity')}")
    if budgets["budget_usd"] and not any(location.get(k) for k in ("prices", "tariff", "hardware", "cloud")):
        raise UsageError(f"{name('budget_usd')} needs prices: " + either(
            python="pass tariff= (electricity) or cloud=/hardware=/prices=", cli="pass --cloud"))
    total = positive_or_none(name("total"), total)
    if total is not None:
        check_range(total, name("total"), MAX_WORK, why="units of work in one training")
    if flush_interval > MAX_HOURS * S_PER_H or interval > MAX_HOURS * S_PER_H:
        raise UsageError(f"{name('interval')} and {name('flush_interval')} must be at most "
                         "100,000,000 hours; check the value")
    for key, value in budgets.items():
        if value is not None:
            check_range(value, name(key), 1e12, why="a budget beyond anything a training can spend")
    if run_id is not None:
        check_run_id(run_id, name("run_id"))
    if push_gateway is not None:
        push_gateway = check_url(push_gateway, name("push_gateway"))
    if unit is None or not isinstance(unit, str) or not unit.strip():
        raise UsageError(f"{name('unit')} must be a name such as 'step' or 'epoch', got {unit!r}")
    tags = [tags] if isinstance(tags, str) else list(tags or ())
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise UsageError(f"{either(python='tags', cli='--tag')} must be non-empty strings, got {tag!r}")
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise UsageError(f"{name('project')} must be a non-empty string, got {project!r}")
    _check_location(location)
    cpu, cpu_tdp_w = check_cpu(cpu, cpu_tdp_w)
    if prometheus_port is not None:
        from ..plugins.prometheus import check_port

        prometheus_port = check_port(prometheus_port)
    if log_to is not None:
        from ..plugins.trackers.spec import check_log_to

        log_to = check_log_to(log_to)
    return Options(
        project=project, tags=tuple(tags),
        interval=interval, store=None if store is None else str(store),
        flush_interval=flush_interval, total=total, unit=unit, location=location,
        on_exceed=on_exceed, predict_every=predict_every, prometheus_port=prometheus_port,
        push_gateway=push_gateway, distributed=distributed, scope=scope, sysfs_root=sysfs_root,
        gpus=bool(gpus), cpu=cpu, cpu_tdp_w=cpu_tdp_w, run_id=run_id,
        command=command if command is not None else (" ".join(sys.argv) or None),
        quiet=bool(quiet), verbose=bool(verbose), meters=None if meters is None else tuple(meters),
        log_to=log_to or (), **budgets)


# A CPU package's power: the largest parts draw about 500 W at base power.
MAX_CPU_TDP_W = 2000.0


def check_cpu(cpu, cpu_tdp_w) -> tuple[str | None, float | None]:
    """``cpu``: a model the tables know (else ``UsageError`` with the closest names);
    ``cpu_tdp_w``: a package power in W."""
    if cpu is not None:
        from ..meters.cpu_names import resolve

        resolve(cpu)
        cpu = cpu.strip()
    if cpu_tdp_w is not None:
        cpu_tdp_w = check_range(positive_or_none(name("cpu_tdp_w"), cpu_tdp_w), name("cpu_tdp_w"),
                                MAX_CPU_TDP_W, "W", lowest=0.1,
                                why="more than any CPU package draws")
    return cpu, cpu_tdp_w


def _check_location(location: dict) -> None:
    """An unknown region, cloud, intensity, PUE, price table or hardware fails here, before the
    training, exactly as the CLI checks it: by computing the footprint of a tiny energy."""
    for key, value in location.items():
        if isinstance(value, str) and not value.strip():
            raise UsageError(f"{name(key)} must not be empty; leave it out or give a value")
    if location:
        from ..footprint import for_energy

        for_energy(1e-6, 1e-6, **location)
