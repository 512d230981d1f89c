"""Modelled CPU and DRAM meters, on this machine's real /proc and psutil."""
import csv
import os
import subprocess
import sys
import time

import psutil
import pytest

from wattprint.meters import cpu_model, cpu_names, dram_model

BUSY = "import time\nt = time.monotonic() + {s}\nwhile time.monotonic() < t: pass\n"


def busy_child(seconds):
    return subprocess.Popen([sys.executable, "-c", BUSY.format(s=seconds)])


def power_over(meter, seconds, name):
    meter.read()  # start a fresh window
    time.sleep(seconds)
    return meter.read()[name]


# -- CPU model ------------------------------------------------------------------------------
def test_unknown_cpu_uses_documented_default(monkeypatch):
    monkeypatch.setattr(cpu_model, "smt_ratio", lambda ps: 2.0)
    m = cpu_model.open(model="AMD EPYC")
    (d,) = m.domains()
    assert d.label == "modelled" and d.counter is False and d.kind == "cpu"
    assert d.method.startswith("unknown CPU 'AMD EPYC': 12 W/core default (Green Algorithms v3)")
    assert "cpu=" in d.method and "--cpu" not in d.method  # Python wording through track()
    assert m.per_thread_w == 6.0 and d.meta["match"] == "none"  # 12 W per 2-thread core


def test_known_cpu_matches_the_table():
    per_thread, method, meta = cpu_model.per_thread_power(
        "Intel(R) Xeon(R) CPU E5-2690 v3 @ 2.60GHz", psutil)
    assert per_thread == pytest.approx(135 / 24, abs=0.01)  # 12 cores, 24 threads
    assert meta["match"] == "exact" and meta["matched"] == "Xeon E5-2690 v3"
    assert "Xeon E5-2690 v3" in method and "greenalgorithms-v3" in method


@pytest.mark.parametrize("name, expected", [
    ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763"),
    ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "Core i7-10700K"),
    ("AMD Ryzen 9 7950X 16-Core Processor", "AMD Ryzen 9 7950X"),
    ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Xeon Gold 6248"),
])
def test_cpuinfo_strings_are_normalised_and_matched(name, expected):
    row, how = cpu_model.lookup(name)
    assert row is not None and row["model"] == expected and how == "exact"


def test_families_and_different_tiers_are_not_guessed():
    assert cpu_model.lookup("AMD EPYC") == (None, "none")
    assert cpu_model.lookup("Intel(R) Xeon(R) CPU @ 2.20GHz") == (None, "none")
    assert cpu_model.lookup("Apple M1 Pro")[0] is None  # not the 10 W "Apple M1"


def test_token_match_tolerates_extra_words():
    row, how = cpu_model.lookup("AMD Ryzen 7 5800X 8-Core Processor Eng Sample")
    assert how == "tokens" and row["model"] == "AMD Ryzen 7 5800X"


def test_tdp_without_thread_count_in_a_vm_falls_back_to_default(monkeypatch):
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    monkeypatch.setattr(cpu_model, "smt_ratio", lambda ps: 1.0)
    # CodeCarbon's row has a TDP and no cores; the name states none either.
    w, method, meta = cpu_model.per_thread_power("Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz",
                                                 psutil)
    assert w == 12.0 and "thread count unknown in a VM" in method and meta["tdp_w"] == 15
    assert "cpu_tdp_w=" in method and "--cpu-tdp-w" not in method


def test_core_count_in_the_name_is_used_in_a_vm(monkeypatch):
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    monkeypatch.setattr(cpu_model, "smt_ratio", lambda ps: 2.0)
    # GCP's EPYC 7B12 has a TDP row (240 W) but no cores row: the name's "64-Core" counts.
    w, method, _ = cpu_model.per_thread_power("AMD EPYC 7B12 64-Core Processor", psutil)
    assert w == pytest.approx(240 / 128) and "64 cores (CPU name)" in method


def test_tdp_without_thread_count_on_bare_metal_divides_by_the_os_threads(monkeypatch):
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: False)
    monkeypatch.setattr(cpu_model, "_sockets", lambda: 1)

    class P:
        @staticmethod
        def cpu_count(logical=True):
            return 8 if logical else 4
    w, method, _ = cpu_model.per_thread_power("Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz", P)
    assert w == pytest.approx(15 / 8) and "8 threads seen by the OS" in method


def test_model_name_from_cpuinfo_with_fallbacks(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n")
    assert cpu_model.cpu_model_name(str(f)) == "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"
    f.write_text("processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\n")
    assert cpu_model.cpu_model_name(str(f)) == "BCM2835"
    f.write_text("Processor\t: ARMv7 Processor rev 4 (v7l)\n")
    assert cpu_model.cpu_model_name(str(f)) == "ARMv7 Processor rev 4 (v7l)"
    assert cpu_model.cpu_model_name(str(tmp_path / "missing")) is None


def test_this_machine_reads_a_name():
    if sys.platform.startswith("linux"):
        assert cpu_model.cpu_model_name()


def test_cores_are_the_allowed_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr(cpu_model, "smt_ratio", lambda ps: 1.0)
    m = cpu_model.open(model="AMD EPYC")
    assert m.threads == 1
    # Idle floor for one allowed thread, not the host's TDP.
    assert m.read()["cpu:0"] == pytest.approx(12.0 * cpu_model.IDLE_FRACTION)


def test_smt_siblings_count_as_one_core():
    class P:
        @staticmethod
        def cpu_count(logical=True):
            return 64 if logical else 32
    assert cpu_model.smt_ratio(P) == 2.0


def test_machine_wide_busy_loop_raises_power():
    m = cpu_model.open(model="AMD EPYC")
    idle_floor = m.per_thread_w * m.idle_fraction * m.threads
    full = m.per_thread_w * m.threads
    child = busy_child(1.5)
    try:
        time.sleep(0.2)
        busy = power_over(m, 0.8, "cpu:0")
    finally:
        child.wait()
    # One fully busy core out of m.cores: at least ~90 % of one core's dynamic power on top.
    one_core = m.per_thread_w * (1 - m.idle_fraction)
    assert busy >= idle_floor + 0.8 * min(one_core, full - idle_floor)
    assert busy <= full + 1e-9


def test_process_tree_counts_a_childs_cpu():
    m = cpu_model.open(pid=os.getpid(), model="AMD EPYC")
    idle_floor = m.per_thread_w * m.idle_fraction * m.threads
    one_core = m.per_thread_w * (1 - m.idle_fraction)
    quiet = power_over(m, 0.5, "cpu:0")
    child = busy_child(1.5)
    try:
        time.sleep(0.1)
        cpu = psutil.Process(child.pid)
        m.read()
        t0, c0 = time.monotonic(), sum(cpu.cpu_times()[:2])
        time.sleep(0.8)
        busy = m.read()["cpu:0"]
        t1, c1 = time.monotonic(), sum(cpu.cpu_times()[:2])
    finally:
        child.wait()
    child_cores = (c1 - c0) / (t1 - t0)  # what the child really got (the host may be busy)
    assert child_cores > 0.3
    assert quiet < idle_floor + 0.3 * one_core  # the test process itself sleeps
    assert busy - idle_floor == pytest.approx(child_cores * one_core, rel=0.25)


def test_process_tree_keeps_cpu_of_a_child_that_was_reaped_between_reads():
    m = cpu_model.open(pid=os.getpid(), model="AMD EPYC")
    idle_floor = m.per_thread_w * m.idle_fraction * m.threads
    one_core = m.per_thread_w * (1 - m.idle_fraction)
    m.read()
    t0 = time.monotonic()
    child = busy_child(0.5)  # starts and is reaped between two reads
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    child_cpu = usage.ru_utime + usage.ru_stime
    dt = time.monotonic() - t0
    p = m.read()["cpu:0"]
    assert child_cpu > 0.1
    # Found only through the root's children_* times: the child was never seen alive.
    assert p - idle_floor >= 0.8 * one_core * child_cpu / dt


def test_tracked_process_gone_makes_read_raise():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    m = cpu_model.open(pid=child.pid, model="AMD EPYC")
    child.wait()
    time.sleep(cpu_model.MIN_WINDOW_S)
    with pytest.raises(RuntimeError, match="exited"):
        m.read()


def test_missing_pid_is_unavailable():
    with pytest.raises(cpu_model.MeterUnavailable):
        cpu_model.open(pid=2 ** 22 + 12345)


def test_fast_polls_are_cheap_and_stable():
    m = cpu_model.open(pid=os.getpid())
    m.read()
    t = time.perf_counter()
    vals = {m.read()["cpu:0"] for _ in range(200)}
    assert (time.perf_counter() - t) / 200 < 0.001
    assert len(vals) <= 2  # reused within MIN_WINDOW_S, not re-estimated from noise


def test_shipped_tdp_table_is_clean():
    with open(cpu_names.TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 4000
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys))
    for r in rows:
        assert 0 < float(r["tdp_w"]) <= 600, r
        assert r["source"] in ("greenalgorithms-v3", "codecarbon-3.3.2",
                               "greenalgorithms-v3; tdp_w from codecarbon-3.3.2",
                               "codecarbon-3.3.2; tdp_w corrected to base power (Intel ARK)"), r
        assert r["key"] == cpu_names.normalise(r["model"]) and "," not in r["key"]
        if r["n_cores"]:
            assert float(r["tdp_per_core_w"]) == pytest.approx(
                float(r["tdp_w"]) / int(r["n_cores"]), abs=0.01)
    assert not any(r["model"] == "Any" for r in rows)  # the default lives in code, cited


# -- DRAM model -----------------------------------------------------------------------------
def test_dram_machine_wide_follows_used_memory():
    m = dram_model.open()
    (d,) = m.domains()
    assert d.label == "modelled" and d.counter is False and d.kind == "dram"
    assert "0.3725 W per GiB" in d.method and "Lannelongue" in d.method
    vm = psutil.virtual_memory()
    expected = 0.3725 * (vm.total - vm.available) / 2 ** 30
    assert m.read()["dram:0"] == pytest.approx(expected, rel=0.2)


def test_dram_process_tree_counts_a_childs_memory():
    m = dram_model.open(pid=os.getpid())
    before = m.read()["dram:0"]
    code = ("import sys, time\nb = bytearray(512 * 2**20)\nb[::4096] = b'x' * len(b[::4096])\n"
            "print('ready', flush=True)\ntime.sleep(5)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(dram_model.REFRESH_S)
        during = m.read()["dram:0"]
    finally:
        child.kill()
        child.wait()
    assert during - before == pytest.approx(0.3725 * 0.5, rel=0.3)  # 512 MiB
