"""What the Optuna and Ray Tune integrations share: a trial's ``meta["sweep"]`` and its share of
a machine that other trials ran on at the same time (the rule is in ``wattprint.sweep``)."""
from __future__ import annotations

import logging
import math

log = logging.getLogger("wattprint")

SHARE_RULE = "each stretch of time split equally between the sweep trials running on the host then"


def trial_options(project: str, track_options: dict) -> dict:
    """``track()`` options for every trial: the project, the 'tuning' tag, no fixed run id;
    checked now by one ``track()`` call, so bad options raise before any trial runs."""
    from ..errors import UsageError
    from ..fmt import opt
    from ..run import track

    if track_options.get("run_id") is not None:  # one id cannot name every trial
        raise UsageError(f"tracked(): drop {opt('run_id')}; each trial gets its own run id")
    tags = list(track_options.pop("tags", None) or [])
    if "tuning" not in tags:
        tags.append("tuning")
    track_options.update(project=project, tags=tags)
    track(**track_options)
    return track_options


def number(value):
    """An objective value as stored: a finite number, else None (a NaN cannot go into JSON)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def write_sweep(run, sweep: dict) -> None:
    """Set the run's ``meta["sweep"]``, keeping the rest of its meta."""
    rec = run.record
    meta = dict(rec.meta) if rec is not None else {}
    meta["sweep"] = dict(sweep)
    run.update_record(meta=meta)


def finish_trial(run):
    """After ``run.stop()``: set the record's energy to its share of the host, when other trials
    ran there at the same time; returns the record (None if it cannot be read)."""
    from ..sweep import node_share

    rec = run.record
    if rec is None:
        return None
    try:
        share_j, most = node_share(run.store, rec)
    except Exception as e:  # a store hiccup must not fail the search
        log.warning("wattprint: run %s: host share not computed (%s)", run.run_id, e)
        return rec
    if most > 1:
        meta = dict(rec.meta)
        meta["shared_host"] = {"host_energy_j": rec.energy_j, "most_trials_at_once": most,
                               "rule": SHARE_RULE}
        run.update_record(energy_j=share_j, meta=meta)
        rec = run.record  # reread: the record and footprint now carry the share
    return rec
