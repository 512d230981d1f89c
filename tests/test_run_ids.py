"""A generated run id that another writer already holds is drawn again; an id asked for is not."""
import pytest

import wattprint
from wattprint.errors import UsageError
from wattprint.run import core, recorder
from wattprint.store import RunIdTaken, open_store


def test_a_taken_generated_id_is_drawn_again(monkeypatch, store_path):
    with wattprint.track(store=store_path, interval=0.05, quiet=True, run_id="20261201-000000-aaaaaa"):
        pass
    ids = iter(["20261201-000000-aaaaaa", "20261201-000000-aaaaaa", "20261201-000000-bbbbbb"])
    monkeypatch.setattr(core, "new_run_id", lambda: next(ids))  # the first draw
    monkeypatch.setattr(recorder, "new_run_id", lambda: next(ids))  # the draws again
    with wattprint.track(store=store_path, interval=0.05, quiet=True) as run:
        pass
    assert run.run_id == "20261201-000000-bbbbbb" == run.record.id
    store = open_store(store_path, readonly=True)
    assert sorted(r.id for r in store.list_runs()) == ["20261201-000000-aaaaaa", "20261201-000000-bbbbbb"]
    assert store.get_run("20261201-000000-bbbbbb").status == "finished"


def test_an_id_asked_for_that_is_taken_is_refused_not_renamed(store_path):
    with wattprint.track(store=store_path, interval=0.05, quiet=True, run_id="mine"):
        pass
    with pytest.raises(UsageError) as e:
        with wattprint.track(store=store_path, interval=0.05, quiet=True, run_id="mine"):
            raise AssertionError("the training must not start")
    assert isinstance(e.value, RunIdTaken) and "mine" in str(e.value)
    assert [r.id for r in open_store(store_path, readonly=True).list_runs()] == ["mine"]


def test_a_record_updated_after_the_end_reads_back_updated(store_path):
    with wattprint.track(store=store_path, interval=0.05, quiet=True) as run:
        pass
    assert "late" not in run.record.meta  # read (and kept) once the run ended
    run.update_record(meta={**run.record.meta, "late": "a tracker's mark"})
    assert run.record.meta["late"] == "a tracker's mark"
    assert open_store(store_path, readonly=True).get_run(run.run_id).meta["late"] == "a tracker's mark"
