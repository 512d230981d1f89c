"""Ray Tune: each trial measured on the node that runs it, recorded once, and a budget for the search.

    from wattprint.integrations.ray import tracked, WattprintCallback
    cb = WattprintCallback(project="bert", store=STORE, metric="loss", budget_kwh=2.0)
    tuner = tune.Tuner(tracked(train_fn, project="bert", store=STORE),
                       tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=20),
                       run_config=tune.RunConfig(callbacks=[cb], stop=cb.stopper))

Two halves, because Ray runs them in two places:

* ``tracked(fn, project=..., **track_options)`` wraps a function trainable. It runs in the
  trial's own worker process, on the node Ray placed it: the trial is one wattprint run there,
  tagged ``tuning``, with id ``ray-<trial id>`` and ``meta["sweep"]`` = experiment name (the
  "study"), trial number (the trial id's counter), params (the config), state. The store must be
  one every node can reach (a shared path, or a server store).
* ``WattprintCallback`` runs in the driver. When a trial ends it writes the trial's last
  ``metric`` value and state into that record. Its ``stopper`` (pass it as ``RunConfig(stop=)``)
  holds the budgets: ``budget_kwh`` / ``budget_co2e_kg`` for the search (spent by the ended
  trials, plus the trials running now and one more at their mean, over the budget: Tune stops
  the experiment, and a warning says so once), ``trial_budget_kwh`` for a trial (its energy so
  far, as last flushed to the store, over it: Tune stops that trial at its next report).

Trials that run at once on one node share its energy: each stretch of time is split equally
between the trials running then (``wattprint.sweep.node_share``); the record keeps the node's
measured domains, sets ``energy_j`` to the trial's share and says so in ``meta["shared_host"]``.
"""
from __future__ import annotations

import contextlib
import functools
import logging

from ray import tune

from .. import fmt
from ..errors import UsageError
from ..fmt import name, opt
from ..units import J_PER_KWH, positive
from ..run import track
from ._trials import finish_trial, number, trial_options, write_sweep

log = logging.getLogger("wattprint")


def _number(trial_id: str):
    tail = str(trial_id).rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else str(trial_id)


def tracked(fn, *, project=None, **track_options):
    """The function trainable ``fn(config)`` measured as one run per trial (see the module docstring)."""
    if not callable(fn):
        raise UsageError("tracked(fn, ...): give the function trainable Ray Tune calls with its config")
    if not project:
        raise UsageError(f"tracked(): give {opt('project')} so the sweep's trials can be found again")
    trial_options(project, track_options)  # in the driver, before any trial

    @functools.wraps(fn)
    def trainable(config):
        ctx = tune.get_context()
        trial_id = ctx.get_trial_id()
        run = track(run_id=f"ray-{trial_id}", **track_options)
        run.start()
        sweep = {"backend": "ray", "study": ctx.get_experiment_name(), "number": _number(trial_id),
                 "trial_id": trial_id, "params": _plain(config), "value": None, "state": "RUNNING"}
        write_sweep(run, sweep)
        status, state = "failed", "ERROR"
        try:
            out = fn(config)
            status, state = "finished", "TERMINATED"
            return out
        except KeyboardInterrupt:
            status, state = "cancelled", "TERMINATED"
            raise
        finally:
            # The driver may already have written the value and state (a trial Tune stopped
            # ends in the driver before its thread here unwinds): keep what it wrote.
            rec = run.record
            now = ((rec.meta or {}).get("sweep") or {}) if rec is not None else {}
            sweep["value"] = now.get("value")
            sweep["state"] = now.get("state") if now.get("state") not in (None, "RUNNING") else state
            if status == "failed" and now.get("state") == "TERMINATED":
                status = "stopped"  # Tune stopped it (a stopper, a scheduler): its exception here
            write_sweep(run, sweep)
            run.stop(status)
            finish_trial(run)

    return trainable


def _plain(config) -> dict:
    out = {}
    for k, v in dict(config or {}).items():
        out[str(k)] = v if isinstance(v, (int, float, str, bool)) or v is None else repr(v)
    return out


class WattprintCallback(tune.Callback):
    """Driver side: values and states into the trials' records; ``.stopper`` holds the budgets."""

    def __init__(self, *, project=None, store=None, metric=None, budget_kwh=None, budget_co2e_kg=None,
                 trial_budget_kwh=None):
        if not project:
            raise UsageError(f"WattprintCallback(): give {opt('project')}, the one given to tracked()")
        for key, value in (("budget_kwh", budget_kwh), ("budget_co2e_kg", budget_co2e_kg),
                           ("trial_budget_kwh", trial_budget_kwh)):
            if value is not None and positive(value) is None:
                raise UsageError(f"{opt(key)}{value!r}: give a positive number")
        self.project, self.store_path, self.metric = project, store, metric
        self.run_ids: set = set()  # this experiment's trials: budgets count these only
        self.ended = 0             # trials ended so far: the search budget is checked when it grows
        self.stopper = _Budget(self, budget_kwh, budget_co2e_kg, trial_budget_kwh)

    @contextlib.contextmanager
    def open_store(self):
        """The store the trials write to, closed after use (a fresh handle: Tune may call from
        other threads, and a PostgreSQL connection left open per result would pile up)."""
        from ..store import open_store

        store = open_store(self.store_path)
        try:
            yield store
        finally:
            store.close()

    def on_trial_start(self, iteration, trials, trial, **info):
        self.run_ids.add(f"ray-{trial.trial_id}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._ended(trial, "TERMINATED")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._ended(trial, "ERROR")

    def _ended(self, trial, state) -> None:
        self.ended += 1
        result = trial.last_result or {}
        value = result.get(self.metric) if self.metric else None
        try:
            with self.open_store() as store:
                rec = store.get_run(f"ray-{trial.trial_id}")
                meta = dict(rec.meta)
                sweep = dict(meta.get("sweep") or {})
                sweep.update(state=state, value=number(value))
                meta["sweep"] = sweep
                store.update_run(rec.key, meta=meta)
        except Exception as e:  # a record missing or a store hiccup must not fail the search
            log.warning("wattprint: trial %s: value not recorded (%s)", trial.trial_id, e)


class _Budget(tune.Stopper):
    """The budgets, checked by Tune after each result (trial) and between results (search)."""

    def __init__(self, cb, budget_kwh, budget_co2e_kg, trial_budget_kwh):
        self.cb = cb
        self.budgets = {"budget_kwh": budget_kwh, "budget_co2e_kg": budget_co2e_kg}
        self.trial_budget_kwh = trial_budget_kwh
        self.stopped = False  # Tune calls a stopper from its one control loop: no lock (and it is pickled)
        self.checked = 0      # trials ended at the last check

    def __call__(self, trial_id, result) -> bool:
        if self.trial_budget_kwh is None:
            return False
        try:
            with self.cb.open_store() as store:
                rec = store.get_run(f"ray-{trial_id}")
        except Exception:
            return False
        if rec.energy_j / J_PER_KWH > self.trial_budget_kwh:
            log.warning("wattprint: trial %s stopped: it spent %s, over its budget of %s (%s)", trial_id,
                        fmt.energy(rec.energy_j / J_PER_KWH), fmt.energy(self.trial_budget_kwh),
                        name("trial_budget_kwh"))
            return True
        return False

    def stop_all(self) -> bool:
        if self.stopped:
            return True
        if all(v is None for v in self.budgets.values()) or self.cb.ended == self.checked:
            return False
        self.checked = self.cb.ended
        from ..report.data import footprint_or_note
        from ..sweep import trials_of

        try:
            with self.cb.open_store() as store:
                recs = [r for r in trials_of(store.list_runs(project=self.cb.project, trial=True))
                        if r.id in self.cb.run_ids]
        except Exception:
            return False
        done = [r for r in recs if r.status != "running"]
        running = len(recs) - len(done)
        fps = [footprint_or_note(r, [], equivalents=False) for r in done]
        spent = {"budget_kwh": [fp.energy_kwh if fp else r.energy_kwh for r, fp in zip(done, fps)],
                 "budget_co2e_kg": [fp.co2e_kg for fp in fps if fp is not None and fp.co2e_kg is not None]}
        for key, limit in self.budgets.items():
            values = spent[key]
            if limit is None or not values:
                continue
            total, mean = sum(values), sum(values) / len(values)
            if total + (running + 1) * mean > limit:
                self.stopped = True
                show = fmt.energy if key == "budget_kwh" else fmt.mass
                log.warning("wattprint: search stopped: %d trials spent %s, and %d more (about %s "
                            "each) would pass %s%s", len(values), show(total), running + 1,
                            show(mean), opt(key), fmt.plain(limit))
                return True
        return False
