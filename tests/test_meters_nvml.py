"""NVML meter through a fake binding with NVML's function names (no GPU needed)."""
import pytest

from wattprint.meters import MeterUnavailable, nvml


class NVMLError(Exception):
    def __init__(self, value):
        super().__init__({3: "Not Supported", 9: "Driver Not Loaded"}.get(value, str(value)))
        self.value = value


class FakeNVML:
    """GPUs given as dicts: uuid, name, energy_mj (None: NotSupported), power_mw, mig (uuids)."""

    NVML_ERROR_NOT_SUPPORTED = 3

    def __init__(self, gpus, init_error=None):
        self.gpus = gpus
        self.init_error = init_error
        self.initialised = False
        self.shutdowns = 0

    def nvmlInit(self):
        if self.init_error:
            raise self.init_error
        self.initialised = True

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("gpu", i)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        for i, g in enumerate(self.gpus):
            if g["uuid"] == uuid:
                return ("gpu", i)
            if uuid in g.get("mig", ()):
                return ("mig", i, uuid)
        raise NVMLError(13)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, h):
        assert h[0] == "mig"
        return ("gpu", h[1])

    def nvmlDeviceGetUUID(self, h):
        return self.gpus[h[1]]["uuid"]

    def nvmlDeviceGetName(self, h):
        return self.gpus[h[1]]["name"]

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        assert h[0] == "gpu"  # energy is only asked of whole GPUs
        v = self.gpus[h[1]].get("energy_mj")
        if v is None:
            raise NVMLError(3)
        return v

    def nvmlDeviceGetPowerUsage(self, h):
        return self.gpus[h[1]]["power_mw"]


def gpu(i, energy=1000, power=250_000, name="NVIDIA A100-SXM4-40GB", mig=()):
    return {"uuid": f"GPU-{i}aaaaaaa-0000-0000-0000-00000000000{i}", "name": name,
            "energy_mj": energy, "power_mw": power, "mig": list(mig)}


def test_energy_counter_path():
    fake = FakeNVML([gpu(0, energy=5_000), gpu(1, energy=7_000)])
    m = nvml.open(nvml=fake)
    doms = m.domains()
    assert [d.name for d in doms] == ["gpu:0", "gpu:1"]
    assert all(d.counter and d.kind == "gpu" and d.label == "measured" for d in doms)
    assert "energy counter" in doms[0].method and "A100" in doms[0].method
    assert doms[1].device == fake.gpus[1]["uuid"] and doms[1].meta["model"].startswith("NVIDIA")
    assert m.read() == {"gpu:0": 5.0, "gpu:1": 7.0}
    fake.gpus[0]["energy_mj"] += 2_500
    assert m.read()["gpu:0"] == pytest.approx(7.5)
    m.close()
    m.close()
    assert fake.shutdowns == 1


def test_power_fallback_when_counter_not_supported():
    fake = FakeNVML([gpu(0, energy=None, power=123_456, name="Tesla P100")])
    m = nvml.open(nvml=fake)
    (d,) = m.domains()
    assert d.counter is False and d.label == "measured"
    assert "NVML power polled and integrated" in d.method
    assert m.read() == {"gpu:0": pytest.approx(123.456)}


def test_mixed_devices():
    m = nvml.open(nvml=FakeNVML([gpu(0, energy=None), gpu(1)]))
    assert [d.counter for d in m.domains()] == [False, True]


def test_cuda_visible_devices_by_index(monkeypatch):
    fake = FakeNVML([gpu(0), gpu(1), gpu(2, energy=42_000)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    m = nvml.open(nvml=fake)
    doms = m.domains()
    assert [d.name for d in doms] == ["gpu:0", "gpu:1"]  # as the process sees them
    assert [d.meta["nvml_index"] for d in doms] == [2, 0]
    assert m.read()["gpu:0"] == 42.0


def test_cuda_visible_devices_by_uuid_and_prefix(monkeypatch):
    fake = FakeNVML([gpu(0), gpu(1), gpu(2)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{fake.gpus[1]['uuid']},GPU-2aaa")
    doms = nvml.open(nvml=fake).domains()
    assert [d.device for d in doms] == [fake.gpus[1]["uuid"], fake.gpus[2]["uuid"]]


def test_invalid_entry_stops_the_list_like_cuda(monkeypatch):
    fake = FakeNVML([gpu(0), gpu(1)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,7,0")
    m = nvml.open(nvml=fake)
    assert [d.meta["nvml_index"] for d in m.domains()] == [1]
    assert any("'7'" in n for n in m.notes)


def test_empty_cuda_visible_devices_means_no_gpu(monkeypatch):
    fake = FakeNVML([gpu(0)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(MeterUnavailable):
        nvml.open(nvml=fake)
    assert fake.shutdowns == 1  # init was undone


def test_mig_maps_to_parent_once(monkeypatch):
    fake = FakeNVML([gpu(0, mig=["MIG-aaaa", "MIG-bbbb"]), gpu(1)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-aaaa,MIG-bbbb")
    m = nvml.open(nvml=fake)
    (d,) = m.domains()
    assert d.meta["nvml_index"] == 0 and "MIG" in d.meta["note"]
    assert "parent GPU" in d.method or "MIG" in d.method
    assert any("counted once" in n for n in m.notes)
    assert m.read() == {"gpu:0": 1.0}


def test_unresolvable_mig_does_not_crash(monkeypatch):
    fake = FakeNVML([gpu(0)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-unknown")
    with pytest.raises(MeterUnavailable, match="MIG"):
        nvml.open(nvml=fake)


def test_old_style_mig_uuid(monkeypatch):
    fake = FakeNVML([gpu(0), gpu(1)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"MIG-{fake.gpus[1]['uuid']}/1/0")
    (d,) = nvml.open(nvml=fake).domains()
    assert d.meta["nvml_index"] == 1


def test_indices_select_physical_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # ignored: the caller chose
    m = nvml.open(indices=[1, 3], nvml=FakeNVML([gpu(0), gpu(1), gpu(2)]))
    assert [d.name for d in m.domains()] == ["gpu:1"]
    assert any("index 3" in n for n in m.notes)


def test_no_driver_is_unavailable():
    fake = FakeNVML([], init_error=NVMLError(9))
    with pytest.raises(MeterUnavailable) as e:
        nvml.open(nvml=fake)
    assert e.value.info.source == "nvml" and "Driver Not Loaded" in e.value.info.reason
    assert e.value.info.fix


def test_no_gpus_is_unavailable():
    fake = FakeNVML([])
    with pytest.raises(MeterUnavailable, match="no GPU"):
        nvml.open(nvml=fake)
    assert fake.shutdowns == 1


def test_device_with_nothing_readable_is_skipped():
    g = gpu(1, energy=None)
    g["power_mw"] = None
    fake = FakeNVML([gpu(0), g])
    fake.nvmlDeviceGetPowerUsage = lambda h: (_ for _ in ()).throw(NVMLError(3))
    m = nvml.open(nvml=fake)
    assert [d.name for d in m.domains()] == ["gpu:0"]
    assert any("skipped" in n for n in m.notes)


def test_real_binding_on_this_machine():
    # Here there is no NVIDIA driver: the real pynvml must give MeterUnavailable, not crash.
    try:
        m = nvml.open()
    except MeterUnavailable as e:
        assert e.info.source == "nvml" and e.info.reason
    else:
        assert all(d.kind == "gpu" for d in m.domains())
        m.close()
