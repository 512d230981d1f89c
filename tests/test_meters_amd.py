"""AMD meter through a fake amdsmi binding (no GPU needed)."""
import pytest

from wattprint.meters import MeterUnavailable, amd
from clock import ManualClock


class FakeSmi:
    """Each GPU: energy (counter value or None: unsupported), res (µJ/count), power (W), cap (µW)."""

    def __init__(self, gpus, *, init_error=None, energy_key="energy_accumulator"):
        self.gpus = gpus
        self.init_error = init_error
        self.energy_key = energy_key
        self.shutdowns = 0

    def amdsmi_init(self, flags=None):
        if self.init_error:
            raise self.init_error

    def amdsmi_shut_down(self):
        self.shutdowns += 1

    def amdsmi_get_processor_handles(self):
        return [f"h{i}" for i in range(len(self.gpus))]

    def _g(self, h):
        return self.gpus[int(h[1:])]

    def amdsmi_get_energy_count(self, h):
        g = self._g(h)
        if g.get("energy") is None:
            raise RuntimeError("AMDSMI_STATUS_NOT_SUPPORTED")
        return {self.energy_key: g["energy"], "counter_resolution": g.get("res", 15.3),
                "timestamp": 0}

    def amdsmi_get_power_info(self, h):
        return {"current_socket_power": self._g(h).get("power", "N/A"),
                "average_socket_power": "N/A"}

    def amdsmi_get_power_cap_info(self, h):
        return {"power_cap": self._g(h).get("cap", 560_000_000)}

    def amdsmi_get_gpu_asic_info(self, h):
        return {"market_name": "AMD Instinct MI250X"}

    def amdsmi_get_gpu_device_uuid(self, h):
        return f"uuid-{h}"


def test_energy_counter_times_resolution():
    smi, clock = FakeSmi([{"energy": 1_000, "res": 15.3}]), ManualClock(100.0)
    m = amd.open(amdsmi=smi, clock=clock)
    (d,) = m.domains()
    assert d.counter and d.kind == "gpu" and d.label == "measured" and "MI250X" in d.method
    e0 = m.read()["gpu:0"]
    assert e0 == pytest.approx(1_000 * 15.3e-6)
    clock.t += 1.0
    smi.gpus[0]["energy"] += 20_000_000  # 306 J in 1 s
    assert m.read()["gpu:0"] - e0 == pytest.approx(306.0)
    m.close()
    assert smi.shutdowns == 1


def test_old_binding_key_power_holds_the_counter():
    smi = FakeSmi([{"energy": 2_000_000, "res": 1.0}], energy_key="power")
    assert amd.open(amdsmi=smi).read()["gpu:0"] == pytest.approx(2.0)


def test_power_fallback_and_impossible_power_rejected():
    smi = FakeSmi([{"energy": None, "power": 300, "cap": 500_000_000}])
    m = amd.open(amdsmi=smi)
    (d,) = m.domains()
    assert d.counter is False and "power polled and integrated" in d.method
    assert d.meta["limit_w"] == pytest.approx(2500.0)  # 5 × 500 W cap
    assert m.read() == {"gpu:0": 300.0}
    for bad in (-5, 2600, 10_000):
        smi.gpus[0]["power"] = bad
        assert m.read() == {}
    assert m.rejected == 3
    smi.gpus[0]["power"] = 280
    assert m.read() == {"gpu:0": 280.0}


def test_absolute_limit_without_a_cap():
    smi = FakeSmi([{"energy": None, "power": 3500}])
    smi.amdsmi_get_power_cap_info = lambda h: (_ for _ in ()).throw(RuntimeError("nope"))
    m = amd.open(amdsmi=smi)
    assert m.domains()[0].meta["limit_w"] == 3000.0
    assert m.read() == {}


def test_counter_going_backwards_or_jumping_is_rejected_and_total_stays_monotonic():
    smi, clock = FakeSmi([{"energy": 10_000_000, "res": 1.0, "cap": 500_000_000}]), ManualClock(100.0)
    m = amd.open(amdsmi=smi, clock=clock)
    e0 = m.read()["gpu:0"]
    clock.t += 1
    smi.gpus[0]["energy"] = 5_000_000  # backwards, no wrap possible for a 64-bit accumulator
    assert m.read() == {}
    clock.t += 1
    smi.gpus[0]["energy"] = 5_000_000 + 200_000_000  # +200 J in 1 s: plausible
    e2 = m.read()["gpu:0"]
    assert e2 - e0 == pytest.approx(200.0)  # the bad interval is lost, not added negative
    clock.t += 1
    smi.gpus[0]["energy"] += 10_000_000_000  # 10 kJ in 1 s: > 5 × cap
    assert m.read() == {}
    clock.t += 1
    smi.gpus[0]["energy"] += 100_000_000
    assert m.read()["gpu:0"] - e2 == pytest.approx(100.0)


def test_indices_and_hip_visible_devices(monkeypatch):
    gpus = [{"energy": 1_000_000 * (i + 1), "res": 1.0} for i in range(3)]
    m = amd.open(indices=[2], amdsmi=FakeSmi(gpus))
    assert m.read() == {"gpu:2": pytest.approx(3.0)}
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1,2")
    m = amd.open(amdsmi=FakeSmi(gpus))
    assert m.read() == {"gpu:0": pytest.approx(2.0), "gpu:1": pytest.approx(3.0)}


def test_unreadable_gpu_skipped_and_none_left_is_unavailable():
    smi = FakeSmi([{"energy": None, "power": "N/A"}])
    with pytest.raises(MeterUnavailable, match="neither energy nor power"):
        amd.open(amdsmi=smi)
    assert smi.shutdowns == 1


def test_no_driver_is_unavailable():
    with pytest.raises(MeterUnavailable) as e:
        amd.open(amdsmi=FakeSmi([], init_error=RuntimeError("AMDSMI_STATUS_DRIVER_NOT_LOADED")))
    assert e.value.info.source == "amdsmi" and "DRIVER_NOT_LOADED" in e.value.info.reason


def test_real_binding_on_this_machine():
    try:  # without amdsmi or an AMD GPU: MeterUnavailable, never a crash
        m = amd.open()
    except MeterUnavailable as e:
        assert e.info.source == "amdsmi" and e.info.reason
    else:
        assert all(d.kind == "gpu" for d in m.domains())
        m.close()
