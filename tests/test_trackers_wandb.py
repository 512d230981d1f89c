"""Weights & Biases in offline mode, read back from the run's own files: the ``.wandb`` record
log (LevelDB-style blocks of protobuf records, parsed with wandb's own ``Record`` message) and
the files folder."""
import glob
import json
import os
import struct

import pytest

from clock import ManualClock
from test_trackers_helpers import POWER_W, _python_wording, tracked, train  # noqa: F401

wandb = pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2  # noqa: E402

ENERGY = "wattprint/energy_kwh"
BLOCK, HEADER = 32768, 7  # the record log's block size and its headers' length


def records(path):
    """Every ``Record`` in a ``.wandb`` file (full records, and ones split across blocks)."""
    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, parts = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if length == 0 and kind == 0:
            pos += left
            continue
        parts += data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            yield record
            parts = b""


def history(run_dir):
    rows = []
    for r in records(glob.glob(os.path.join(run_dir, "*.wandb"))[0]):
        if r.WhichOneof("record_type") == "history":
            rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item})
    return rows


def summary(run_dir):
    out = {}
    for r in records(glob.glob(os.path.join(run_dir, "*.wandb"))[0]):
        if r.WhichOneof("record_type") == "summary":
            out.update({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.summary.update})
    return out


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    yield tmp_path
    if wandb.run is not None:
        wandb.run.finish()
    wandb.teardown()  # the wandb-core service process ends with the test


def test_wandb_offline_active_run(offline, store_path):
    clock = ManualClock()
    active = wandb.init(project="energy-demo")
    with tracked(clock, store_path, log_to="wandb", region="FR") as run:
        train(clock, run, 5)
    assert wandb.run is active  # attached, not finished: the run is the user's
    assert run.record.meta["trackers"] == {"wandb": f"W&B's active run {active.id}"}
    active.finish()
    wandb.teardown()  # finish() can return before the service has written the record log
    run_dir = os.path.dirname(active.dir)
    points = [row for row in history(run_dir) if ENERGY in row]
    assert sorted({row["wattprint/step"] for row in points}) == [1, 2, 3, 4, 5]
    assert points[-1][ENERGY] == pytest.approx(run.record.energy_kwh, rel=1e-9)
    assert points[-1]["wattprint/power_w"] == pytest.approx(POWER_W)
    fields = summary(run_dir)
    assert fields[ENERGY] == pytest.approx(run.record.energy_kwh, rel=1e-9)
    assert fields["wattprint/location"] == "region=FR"
    assert fields["wattprint/component/gpu:0/label"] == "measured (analytic)"
    html = os.path.join(active.dir, f"wattprint-{run.run_id}.html")
    assert open(html).read().lstrip().lower().startswith("<!doctype html")
    assert os.path.exists(os.path.join(active.dir, f"wattprint-{run.run_id}.md"))


def test_wandb_offline_starts_and_finishes_its_own_run(offline, store_path):
    clock = ManualClock()
    with tracked(clock, store_path, log_to="wandb", project="energy-demo") as run:
        train(clock, run, 3)
    assert wandb.run is None  # the run it started, it finished
    wandb.teardown()  # finish() can return before the service has written the record log
    said = run.record.meta["trackers"]["wandb"]
    assert said.startswith("a new W&B run ")
    run_id = said.split()[4]
    (run_dir,) = glob.glob(os.path.join(offline, "wandb", f"offline-run-*-{run_id}"))
    points = [row for row in history(run_dir) if ENERGY in row]
    assert [row["wattprint/step"] for row in points][:3] == [1, 2, 3]
    assert points[-1][ENERGY] == pytest.approx(run.record.energy_kwh, rel=1e-9)
