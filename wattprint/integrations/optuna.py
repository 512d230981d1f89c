"""Optuna: every trial of a study measured as one wattprint run, and budgets for the study.

    from wattprint.integrations.optuna import tracked
    study.optimize(tracked(objective, project="bert", budget_kwh=2.0), n_trials=50)

Each trial is a run tagged ``tuning`` whose ``meta["sweep"]`` holds the study name, the trial
number, its params, value and state (``wattprint sweep`` reads them back); the run id,
``energy_kwh`` (PUE included where given) and ``co2e_kg`` go into ``trial.user_attrs``.

Budgets (energy in kWh as ``energy_kwh`` above, CO2e in kg):

* ``budget_kwh`` / ``budget_co2e_kg`` bound the *study*. Before a trial starts, and after each
  one ends, the energy of the study's finished trials (read from the study, so every process
  sharing its storage counts) plus the predicted cost of the trials running now and of one more
  trial (the mean of the finished ones) is compared with the budget; over it, ``study.stop()``
  is called and a warning says so once. A trial that was about to start is then pruned at once,
  without a run.
* ``trial_budget_kwh`` / ``trial_budget_co2e_kg`` bound each *trial*: they are the run's own
  budgets (``track(budget_kwh=..., on_exceed="stop")``), checked where the objective calls
  ``trial.report(value, step)``: ``step`` is reported as the trial's progress, so with
  ``total=`` (the steps a trial takes) the live prediction is checked too. A trial over its
  budget is pruned there, in its own thread, by ``optuna.TrialPruned``.

Trials running at once on one machine (``n_jobs > 1``, several processes) share its energy by
the rule in ``wattprint.sweep`` (each stretch of time split between the trials running then).
"""
from __future__ import annotations

import logging
import threading

import optuna

from ..errors import UsageError
from .. import fmt
from ..fmt import opt
from ..units import J_PER_KWH, positive
from ..run import track
from ._trials import finish_trial, number, trial_options, write_sweep

log = logging.getLogger("wattprint")

_warned: set = set()
_lock = threading.Lock()
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def tracked(objective, *, project=None, budget_kwh=None, budget_co2e_kg=None,
            trial_budget_kwh=None, trial_budget_co2e_kg=None, **track_options):
    """``objective`` wrapped so that each call (one trial) is measured; see the module docstring."""
    if not callable(objective):
        raise UsageError("tracked(objective, ...): give the objective function Optuna calls")
    if not project:
        raise UsageError(f"tracked(): give {opt('project')} so the sweep's trials can be found again")
    budgets = {}
    for name, value in (("budget_kwh", budget_kwh), ("budget_co2e_kg", budget_co2e_kg)):
        if value is not None:
            if positive(value) is None:
                raise UsageError(f"{opt(name)}{value!r}: give a positive number")
            budgets[name] = positive(value)
    track_options.pop("on_exceed", None)  # a trial over its own budget is always pruned
    if trial_budget_kwh is not None or trial_budget_co2e_kg is not None:
        track_options.update(budget_kwh=trial_budget_kwh, budget_co2e_kg=trial_budget_co2e_kg,
                             on_exceed="stop")
    trial_options(project, track_options)

    def wrapped(trial):
        study = trial.study
        if budgets and _over_budget(study, budgets, own=trial.number):
            raise optuna.TrialPruned("wattprint: the study's budget is spent")
        run = track(**track_options)
        run.start()
        _report_progress(trial, run)
        sweep = {"backend": "optuna", "study": study.study_name, "number": trial.number,
                 "params": dict(trial.params), "value": None, "state": "RUNNING",
                 "direction": _direction(study)}
        write_sweep(run, sweep)
        status, value, state = "failed", None, "FAIL"
        try:
            value = objective(trial)
            # as Optuna judges it: a NaN or a non-number fails the trial (a list: multi-objective)
            ok = number(value) is not None or isinstance(value, (list, tuple))
            status, state = "finished", "COMPLETE" if ok else "FAIL"
            return value
        except optuna.TrialPruned:
            status, state = "stopped", "PRUNED"
            raise
        except KeyboardInterrupt:
            status = "cancelled"
            raise
        finally:
            sweep.update(params=dict(trial.params), state=state,
                         value=number(value))
            write_sweep(run, sweep)
            run.stop(status)
            _finish(run, trial)
            if budgets:  # stops the study (and says so) when the next trial would pass a budget
                _over_budget(study, budgets, ended=trial.number)

    wrapped.__name__ = getattr(objective, "__name__", "objective")
    wrapped.__doc__ = objective.__doc__
    return wrapped


def _direction(study) -> str | None:
    try:
        return study.direction.name.lower()
    except Exception:  # multi-objective: no single direction
        return None


def _report_progress(trial, run) -> None:
    """trial.report(value, step) also reports ``step`` as the run's progress; a budget stop
    becomes Optuna's pruning (raised in the objective's thread, where report is called)."""
    from ..errors import BudgetExceeded

    report = trial.report

    def reporting(value, step):
        report(value, step)
        try:
            run.progress(step)
        except BudgetExceeded as e:
            raise optuna.TrialPruned(f"wattprint: {e}") from None

    trial.report = reporting


def _finish(run, trial) -> None:
    """The trial's energy (its share of a machine shared with other trials) into user_attrs."""
    rec = finish_trial(run)
    if rec is None:
        return
    fp = run.result
    trial.set_user_attr("wattprint_run_id", run.run_id)
    trial.set_user_attr("energy_kwh", fp.energy_kwh if fp is not None else rec.energy_j / J_PER_KWH)
    trial.set_user_attr("co2e_kg", fp.co2e_kg if fp is not None else None)


def _over_budget(study, budgets: dict, own: int | None = None, ended: int | None = None) -> bool:
    """Spent + running trials + one more trial, predicted, over a budget: stop the study.
    ``own``: the trial about to start; ``ended``: the trial whose objective just returned (still
    RUNNING in Optuna's eyes, its energy already in its user_attrs)."""
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if "energy_kwh" in t.user_attrs and (t.state.name in FINISHED or t.number == ended)]
    running = sum(1 for t in trials if t.state.name == "RUNNING" and t.number not in (own, ended))
    for name, attr, show in (("budget_kwh", "energy_kwh", fmt.energy), ("budget_co2e_kg", "co2e_kg", fmt.mass)):
        limit = budgets.get(name)
        values = [t.user_attrs.get(attr) for t in done]
        values = [v for v in values if isinstance(v, (int, float))]
        if limit is None or not values:
            continue
        spent, mean = sum(values), sum(values) / len(values)
        if spent + (running + 1) * mean > limit:
            study.stop()
            key = (study.study_name, name)
            with _lock:
                first = key not in _warned
                _warned.add(key)
            if first:
                log.warning("wattprint: study %r stopped: %d trials spent %s, and %d more (about %s "
                            "each) would pass %s%s", study.study_name, len(values), show(spent),
                            running + 1, show(mean), opt(name), fmt.plain(limit))
            return True
    return False


def hyperparameter_search(trainer, *, hp_space, n_trials, direction="minimize", compute_objective=None,
                          study=None, project=None, budget_kwh=None, budget_co2e_kg=None,
                          trial_budget_kwh=None, trial_budget_co2e_kg=None, **track_options):
    """``Trainer.hyperparameter_search(backend="optuna")`` with every trial measured: the same
    single-process loop as transformers' Optuna runner (``trainer.train(trial=trial)``, then
    ``evaluate`` when training did not evaluate), its objective wrapped by ``tracked``.
    ``study``: an Optuna study to continue (default: a new one in memory). Returns the study."""
    from transformers.trainer_utils import HPSearchBackend, default_compute_objective

    if trainer.model_init is None:
        raise UsageError("hyperparameter_search(): give the Trainer a model_init, as "
                         "Trainer.hyperparameter_search needs, so that each trial gets a fresh model")
    study = study or optuna.create_study(direction=direction)
    trainer.hp_search_backend, trainer.hp_space, trainer.hp_name = HPSearchBackend.OPTUNA, hp_space, None
    trainer.compute_objective = compute_objective or default_compute_objective

    def objective(trial):
        trainer.objective = None
        trainer.train(trial=trial)
        if getattr(trainer, "objective", None) is None:
            trainer.objective = trainer.compute_objective(trainer.evaluate())
        return trainer.objective

    try:
        study.optimize(tracked(objective, project=project, budget_kwh=budget_kwh,
                               budget_co2e_kg=budget_co2e_kg, trial_budget_kwh=trial_budget_kwh,
                               trial_budget_co2e_kg=trial_budget_co2e_kg, **track_options),
                       n_trials=n_trials)
    finally:
        trainer.hp_search_backend = None
    return study
