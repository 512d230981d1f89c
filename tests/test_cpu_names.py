"""CPU names as /proc/cpuinfo, lscpu and sysctl print them, resolved to one model or refused."""
import csv
import json
import sys

import psutil
import pytest

from wattprint.errors import UsageError
from wattprint.meters import cpu_model, cpu_names


@pytest.fixture(autouse=True)
def _python_wording(monkeypatch):
    """The CLI's main(), run in-process by other tests, switches hints to CLI wording for good."""
    from wattprint import fmt

    monkeypatch.setitem(fmt._INTERFACE, "name", "python")

# (string as a machine prints it, model row, cores, threads, TDP W); None: no figure published.
REAL = [
    ("13th Gen Intel(R) Core(TM) i9-13900K", "Intel Core i9-13900K", 24, 32, 125),
    ("13th Gen Intel(R) Core(TM) i7-13700K", "Intel Core i7-13700K", 16, 24, 125),
    ("12th Gen Intel(R) Core(TM) i7-12700K", "Intel Core i7-12700K", 12, 20, 125),
    ("12th Gen Intel(R) Core(TM) i9-12900K", "Core i9-12900K", 16, 24, 125),
    ("14th Gen Intel(R) Core(TM) i9-14900K", "Intel Core i9-14900K", 24, 32, 125),
    ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "Core i7-10700K", 8, 16, 125),
    ("Intel(R) Core(TM) i9-9900K CPU @ 3.60GHz", "Core i9-9900K", 8, 16, 95),
    ("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", "Intel Xeon Platinum 8380", 40, 80, 270),
    ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "Intel Xeon Gold 6248R", 24, 48, 205),
    ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "Xeon Gold 6148", 20, 40, 150),
    ("Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+", 56, 112, 350),
    ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "Intel Xeon Platinum 8259CL", 24, 48, 210),
    ("Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz", "Intel Xeon Platinum 8275CL", 24, 48, 240),
    ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4", 18, 36, 145),
    ("Intel(R) Xeon(R) CPU E5-2690 v3 @ 2.60GHz", "Xeon E5-2690 v3", 12, 24, 135),
    ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654", 96, 192, 360),
    ("AMD EPYC 9554 64-Core Processor", "AMD EPYC 9554", 64, 128, 360),
    ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 64, 128, 280),
    ("AMD EPYC 7742 64-Core Processor", "AMD EPYC 7742", 64, 128, 225),
    ("AMD EPYC 7R13 Processor", "AMD EPYC 7R13", 48, 96, 225),
    ("AMD Ryzen 9 7950X 16-Core Processor", "AMD Ryzen 9 7950X", 16, 32, 170),
    ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 16, 32, 105),
    ("AMD Ryzen 7 5800X 8-Core Processor", "AMD Ryzen 7 5800X", 8, 16, 105),
    ("AMD Ryzen Threadripper PRO 5995WX 64-Cores", "AMD Ryzen Threadripper PRO 5995WX", 64, 128,
     280),
    ("AMD Ryzen Threadripper 3990X 64-Core Processor", "Ryzen Threadripper 3990X", 64, 128,
     280),
    ("Apple M1", "Apple M1", 8, 8, 10),
    ("Apple M2 Max", "Apple M2 Max", 12, 12, 50),
    ("Apple M2 Pro", "Apple M2 Pro", None, None, 35),  # 10- and 12-core parts: the OS counts
    ("Ampere(R) Altra(R) Processor Q80-30 CPU @ 3.0GHz", "Ampere Altra Q80-30", 80, 80, 210),
    ("12th Gen Intel(R) Core(TM) i5-12400", "Intel Core i5-12400", 6, 12, 65),
    ("13th Gen Intel(R) Core(TM) i7-13700H", "Intel Core i7-13700H", 14, 20, 45),
    ("Intel(R) Core(TM) Ultra 9 185H", "Intel Core Ultra 9 185H", 16, 22, 45),
    ("Intel(R) Core(TM) Ultra 7 155H", "Intel Core Ultra 7 155H", 16, 22, 28),
    ("11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", "Intel Core i7-1165G7", 4, 8, 28),
    ("Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz", "Intel Xeon E5-2680", 8, 16, 130),
    ("Intel(R) Core(TM) i7 CPU         920  @ 2.67GHz", "Intel Core i7-920", None, None, 130),
    ("Intel(R) Core(TM)2 Quad CPU    Q6600  @ 2.40GHz", "Core 2 Quad Q6600", 4, None, 105),
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Intel Xeon Platinum 8375C", 32, 64, 300),
    ("Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz", "Intel Xeon Silver 4214R", 12, 24, 100),
    ("INTEL(R) XEON(R) PLATINUM 8580", "Intel Xeon Platinum 8580", 60, 120, 350),
    ("AMD Ryzen 9 5900HX with Radeon Graphics", "AMD Ryzen 9 5900HX", 8, 16, 45),
    ("AMD Ryzen AI 9 HX 370 w/ Radeon 890M", "AMD Ryzen AI 9 HX 370", 12, 24, 28),
    ("AMD EPYC 4564P 16-Core Processor", "AMD EPYC 4564P", 16, 32, 170),
    ("Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz", "Intel Xeon Platinum 8124M", 18, 36, 240),
    ("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", "Intel Xeon Gold 6130", 16, 32, 125),
    ("Intel(R) Xeon(R) 6980P", "Intel Xeon 6980P", 128, 256, 500),
    ("AMD EPYC 7402 24-Core Processor", "AMD EPYC 7402", 24, 48, 180),
    ("AMD Ryzen 7 3700X 8-Core Processor", "Ryzen 7 3700X", 8, 16, 65),
    ("AWS Graviton2", "AWS Graviton2", 64, 64, None),  # AWS publishes no power
    ("Graviton 3", "AWS Graviton3", 64, 64, None),
    ("AWS Graviton", "AWS Graviton", 16, 16, None),
]


@pytest.mark.parametrize("name, model, cores, threads, tdp", REAL)
def test_real_names_resolve_to_their_exact_model(name, model, cores, threads, tdp):
    row, how = cpu_names.lookup(name)
    assert row is not None, cpu_names.closest(name)
    assert row["model"] == model and how == "exact"
    assert (int(row["n_cores"]) if row["n_cores"] else None) == cores
    assert (int(row["threads"]) if row["threads"] else None) == threads
    assert (float(row["tdp_w"]) if row["tdp_w"] else None) == tdp


# Names that name a family or a core design, not a chip: refused, with the chips to choose from.
REFUSED = [
    ("AMD EPYC", "AMD EPYC"),
    ("Intel(R) Xeon(R) CPU @ 2.20GHz", "Xeon"),  # GCP hides the model
    ("Neoverse-N1", "AWS Graviton2"),  # lscpu on Graviton2 and on Ampere Altra alike
    ("Neoverse-V1", "AWS Graviton3"),
    ("Ampere Altra", "Ampere Altra Q80-30"),
    ("Apple M1 Pro", "Apple M2 Pro"),  # not the 10 W M1; the Pro parts are offered
    ("AMD EPYC 9R14 96-Core Processor", "AMD EPYC 9"),  # AWS-only part, no published TDP
    ("AMD EPYC 7B13", "AMD EPYC 7B12"),  # GCP-only part
    ("AMD EPYC 7V13 64-Core Processor", "AMD EPYC 7R13"),  # Azure-only part
    ("Intel(R) Xeon(R) Platinum 8488C", "Intel Xeon Platinum 8480+"),  # AWS-only part
]


@pytest.mark.parametrize("name, near", REFUSED)
def test_families_are_refused_with_the_closest_models(name, near):
    assert cpu_names.lookup(name) == (None, "none")
    closest = cpu_names.closest(name)
    assert closest and any(near in c for c in closest), closest
    with pytest.raises(UsageError) as e:
        cpu_names.resolve(name)
    msg = str(e.value)
    assert "\n" not in msg and "closest: " in msg and "cpu_tdp_w=" in msg  # Python wording: resolve() is called from track()
    assert closest[0] in msg


def test_tiers_and_suffixes_never_borrow_another_chip():
    assert cpu_names.lookup("AMD Ryzen 9 7950X3D 16-Core Processor")[0]["tdp_w"] == "120"
    assert cpu_names.lookup("AMD EPYC 9654P 96-Core Processor")[0]["model"] == "AMD EPYC 9654P"
    assert cpu_names.lookup("Intel(R) Xeon(R) Platinum 8380H CPU")[0]["tdp_w"] == "250"
    assert cpu_names.lookup("AMD Ryzen 7 7840U w/ Radeon 780M Graphics")[0]["model"] == \
        "AMD Ryzen 7 7840U"


def test_core_count_is_read_from_the_name():
    assert cpu_names.cores_in_name("AMD EPYC 9654 96-Core Processor") == 96
    assert cpu_names.cores_in_name("AMD Ryzen Threadripper PRO 5995WX 64-Cores") == 64
    assert cpu_names.cores_in_name("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz") is None


def test_busy_thread_on_an_epyc_9654_vm_is_charged_a_few_watts(monkeypatch):
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    w, method, meta = cpu_model.per_thread_power("AMD EPYC 9654 96-Core Processor", psutil)
    assert w == pytest.approx(360 / 192)  # 1.875 W per thread, not 12 W per core
    assert meta["matched"] == "AMD EPYC 9654" and "96 cores/192 threads" in method


@pytest.mark.parametrize("name, per_thread", [
    ("13th Gen Intel(R) Core(TM) i9-13900K", 125 / 32),
    ("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", 270 / 80),
    ("AMD Ryzen Threadripper PRO 5995WX 64-Cores", 280 / 128),
])
def test_per_thread_power_uses_the_vendor_thread_count(monkeypatch, name, per_thread):
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    assert cpu_model.per_thread_power(name, psutil)[0] == pytest.approx(per_thread)


def test_cores_table_is_clean_and_every_row_resolves_to_itself():
    with open(cpu_names.CORES_TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 100
    for r in rows:
        cores, threads = int(r["cores"]), int(r["threads"])
        assert 1 <= cores <= threads <= 2 * cores, r
        assert r["url"].startswith("https://"), r
        row, how = cpu_names.lookup(r["model"])
        assert how == "exact" and row["model"].endswith(r["model"].split(" ", 1)[1]), r
        assert row["threads"] == r["threads"]
        if r["max_turbo_w"]:
            assert float(r["max_turbo_w"]) > float(row["tdp_w"]), r
    no_tdp = sorted(r["model"] for r in rows if not cpu_names.lookup(r["model"])[0]["tdp_w"])
    assert no_tdp == ["AWS Graviton", "AWS Graviton2", "AWS Graviton3", "AWS Graviton4",
                      "Apple M1 Max", "Apple M1 Ultra"]


def test_i9_13900k_row_holds_base_power_and_its_max_turbo_is_recorded():
    row, _ = cpu_names.lookup("13th Gen Intel(R) Core(TM) i9-13900K")
    assert row["tdp_w"] == "125" and row["max_turbo_w"] == "253"


# -- naming the CPU or its power: track(cpu=..., cpu_tdp_w=...), --cpu, --cpu-tdp-w ------------
def _cpu_domain(run):
    (d,) = [d for d in run.domains if d.kind == "cpu"]
    return d


def test_vm_that_hides_its_model_is_charged_the_named_cpu(monkeypatch, store_path):
    import wattprint

    monkeypatch.setattr(cpu_model, "cpu_model_name", lambda: "AMD EPYC")  # what the VM shows
    with wattprint.track(cpu="AMD EPYC 9654 96-Core Processor", store=store_path, gpus=False,
                         quiet=True, interval=0.05) as run:
        d = _cpu_domain(run)
    assert d.device == "AMD EPYC 9654 96-Core Processor" and d.meta["matched"] == "AMD EPYC 9654"
    assert d.meta["per_thread_w"] == pytest.approx(1.875)  # a busy thread: ~1.3 W on top, not 12
    assert "360 W" in d.method and "192 threads" in d.method
    assert run.options.cpu == "AMD EPYC 9654 96-Core Processor"


def test_cpu_tdp_w_overrides_the_table(monkeypatch, store_path):
    import wattprint

    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    with wattprint.track(cpu="13th Gen Intel(R) Core(TM) i9-13900K", cpu_tdp_w=253,
                         store=store_path, gpus=False, quiet=True, interval=0.05) as run:
        d = _cpu_domain(run)
    assert d.meta["per_thread_w"] == pytest.approx(253 / 32)
    assert "253 W (given by the user)" in d.method


def test_cpu_tdp_w_without_a_known_thread_count_is_the_allowed_threads_power(monkeypatch):
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    monkeypatch.setattr(cpu_model, "allowed_cpus", lambda: [0, 1])
    m = cpu_model.open(model="AMD EPYC", tdp_w=10.0)
    assert m.per_thread_w == pytest.approx(5.0) and m.threads == 2
    assert "charged to the 2 allowed threads" in m.domains()[0].method


@pytest.mark.parametrize("kw, text", [
    ({"cpu": "AMD EPYC"}, "closest: AMD EPYC"),
    ({"cpu": "Neoverse-N1"}, "closest: AWS Graviton2, Ampere Altra Q80-30"),
    ({"cpu": ""}, "cpu must be a CPU model name"),
    ({"cpu_tdp_w": 0}, "cpu_tdp_w must be a positive number"),
    ({"cpu_tdp_w": "nan"}, "cpu_tdp_w must be a positive number"),
    ({"cpu_tdp_w": 5000}, "more than 2,000 W"),
])
def test_cpu_options_are_checked_at_track_start(kw, text):
    import wattprint

    with pytest.raises(UsageError) as e:
        wattprint.track(**kw)
    assert text in str(e.value) and "\n" not in str(e.value)


def test_run_cli_checks_cpu_flags_before_the_command(cli, tmp_path):
    marker = tmp_path / "ran"
    cmd = ["--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    r = cli("run", "--cpu", "AMD EPYC", *cmd)
    assert r.returncode == 2 and "closest: AMD EPYC" in r.stderr and not marker.exists()
    r = cli("run", "--cpu-tdp-w", "-3", *cmd)
    assert r.returncode == 2 and "--cpu-tdp-w must be a positive number, got '-3'" in r.stderr
    r = cli("run", "--cpu-tdp-w", "1e9", *cmd)
    assert r.returncode == 2 and "--cpu-tdp-w: 1,000,000,000 W is more than 2,000 W" in r.stderr
    r = cli("run", "--json", "--cpu", "AMD EPYC 9654 96-Core Processor", *cmd)
    assert r.returncode == 0, r.stderr
    (d,) = [d for d in json.loads(r.stdout)["domains"] if d["kind"] == "cpu"]
    assert "matched AMD EPYC 9654" in d["method"] and "1.88 W/thread" in d["method"]
    assert d["device"] == "AMD EPYC 9654 96-Core Processor" and marker.exists()


def test_doctor_tells_a_vm_user_to_name_the_cpu(monkeypatch, capsys):
    from wattprint.cli import doctor

    monkeypatch.setattr(cpu_model, "cpu_model_name", lambda: "AMD EPYC")
    hints = doctor.cpu_hints([cpu_model.open().domains()[0]])
    assert len(hints) == 1 and "--cpu NAME" in hints[0] and "--cpu-tdp-w" in hints[0]
    assert "'AMD EPYC' names no model" in hints[0] and "closest: AMD EPYC" in hints[0]
    monkeypatch.setattr(cpu_model, "cpu_model_name", lambda: "AMD EPYC 9654 96-Core Processor")
    assert doctor.cpu_hints([cpu_model.open().domains()[0]]) == []
    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)  # a TDP row, threads unknown in a VM
    monkeypatch.setattr(cpu_model, "cpu_model_name", lambda: "Intel(R) Core(TM) i7-8565U CPU")
    (hint,) = doctor.cpu_hints([cpu_model.open().domains()[0]])
    assert "matched Intel Core i7-8565U" in hint and "the power of the CPUs the run may use" in hint


def test_hardware_searches_cpus(capsys):
    from wattprint.cli import main

    assert main(["hardware", "Xeon"]) == 0
    out = capsys.readouterr().out
    assert "Xeon Gold 6148" in out and "more: add a model number" in out
    assert main(["hardware", "Xeon 8380", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["Intel Xeon Platinum 8380", "Intel Xeon Platinum 8380H",
                                          "Intel Xeon Platinum 8380HL"]
    assert rows[0] == {"kind": "cpu", "model": "Intel Xeon Platinum 8380", "tdp_w": 270.0,
                       "max_turbo_w": None, "cores": 40, "threads": 80,
                       "tdp_source": "codecarbon-3.3.2", "url": rows[0]["url"]}
    assert main(["hardware", "cpu", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(r["kind"] == "cpu" and r["threads"] for r in rows) and len(rows) >= 100
    assert main(["hardware", "A100 SXM4 80GB", "--json"]) == 0  # accelerators still first
    assert json.loads(capsys.readouterr().out)[0]["model"] == "A100 SXM4 80GB"
    assert main(["hardware", "EPYC 9R14"]) == 2
    assert "CPUs closest: AMD EPYC" in capsys.readouterr().err


def test_arm_servers_are_named_by_their_core_and_refused_with_the_chips(tmp_path):
    f = tmp_path / "cpuinfo"  # AWS Graviton2 (m6g): no "model name", only the core's part number
    f.write_text("processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm\n"
                 "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\n"
                 "CPU part\t: 0xd0c\nCPU revision\t: 1\n")
    name = cpu_model.cpu_model_name(str(f))
    assert name == "Neoverse-N1" and cpu_names.lookup(name) == (None, "none")
    assert cpu_names.closest(name) == ["AWS Graviton2", "Ampere Altra Q80-30"]
    f.write_text(f.read_text().replace("0xd0c", "0xd40"))  # Graviton3
    assert cpu_model.cpu_model_name(str(f)) == "Neoverse-V1"
    f.write_text("processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n"
                 "Hardware\t: BCM2835\nModel\t: Raspberry Pi 4 Model B Rev 1.4\n")
    assert cpu_model.cpu_model_name(str(f)) == "Cortex-A72"  # a table row, unlike BCM2835


def test_a_busy_thread_on_an_epyc_9654_vm_is_measured_at_a_few_watts(monkeypatch):
    import subprocess
    import time

    monkeypatch.setattr(cpu_model, "_in_vm", lambda: True)
    monkeypatch.setattr(cpu_model, "allowed_cpus", lambda: [0])  # a 1-vCPU share of the host
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nt = time.monotonic() + 1.5\n"
                              "while time.monotonic() < t: pass\n"])
    try:
        m = cpu_model.open(pid=child.pid, model="AMD EPYC 9654 96-Core Processor")
        m.read()
        time.sleep(0.8)
        busy = m.read()["cpu:0"]
    finally:
        child.wait()
    assert m.per_thread_w == pytest.approx(1.875)
    assert 1.875 * 0.3 < busy <= 1.875 + 1e-9  # idle floor < one busy thread <= its full share
    assert busy > 1.875 * (0.3 + 0.7 * 0.3)  # it was busy for at least a third of the window
