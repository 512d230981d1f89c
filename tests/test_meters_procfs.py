"""The modelled meters' cheap /proc reads give what psutil gives (issue 9: sampler cost)."""
import os
import sys

import pytest

from wattprint.meters import cpu_model, dram_model
from wattprint.meters.procfs import ProcFile

psutil = pytest.importorskip("psutil")
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux
def test_machine_busy_matches_psutil():
    cpus = cpu_model.allowed_cpus()
    busy = cpu_model._MachineBusy(psutil, cpus)
    assert busy._stat is not None  # the fast path is taken on Linux
    # CPU times tick at 100 Hz: read both within one tick, retry if a tick fell between them
    for _ in range(20):
        ours, theirs = busy(), cpu_model._busy(psutil.cpu_times())
        if ours == pytest.approx(theirs, abs=1e-6):
            break
    assert ours == pytest.approx(theirs, abs=1e-6)
    busy.close()


@linux
def test_busy_of_some_cpus_matches_psutil_percpu():
    stat = cpu_model._ProcStat([0])
    for _ in range(20):
        ours, theirs = stat(), cpu_model._busy(psutil.cpu_times(percpu=True)[0])
        if ours == pytest.approx(theirs, abs=1e-6):
            break
    assert ours == pytest.approx(theirs, abs=1e-6)
    stat.file.close()


@linux
def test_machine_memory_in_use_matches_psutil():
    used = dram_model._machine_used(psutil)
    vm = psutil.virtual_memory()
    assert used() == pytest.approx(vm.total - vm.available, rel=0.02)  # memory moves a little
    used.close()


def test_falls_back_to_psutil_without_proc(monkeypatch):
    def no_proc(path, size=4096):
        raise FileNotFoundError(path)

    monkeypatch.setattr(cpu_model, "ProcFile", no_proc)
    monkeypatch.setattr(dram_model, "ProcFile", no_proc)
    busy = cpu_model._MachineBusy(psutil, cpu_model.allowed_cpus())
    assert busy._stat is None and busy() > 0
    vm = psutil.virtual_memory()
    assert dram_model._machine_used(psutil)() == pytest.approx(vm.total - vm.available, rel=0.02)


@linux
def test_meters_close_their_files():
    before = len(os.listdir("/proc/self/fd"))
    cpu, dram = cpu_model.open(model="AMD EPYC"), dram_model.open()
    assert len(os.listdir("/proc/self/fd")) == before + 2
    cpu.read(), dram.read()
    cpu.close(), dram.close()
    assert len(os.listdir("/proc/self/fd")) == before


@linux
def test_procfile_reads_fresh_content(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"one\n")
    pf = ProcFile(str(f))
    assert pf.read() == b"one\n"
    f.write_bytes(b"two\n")  # same inode, rewritten: pread at 0 sees the new bytes
    assert pf.read() == b"two\n"
    pf.close()
    pf.close()  # twice is harmless
