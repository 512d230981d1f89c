"""The hardware side of an estimate: the power it assumes (``power()``: measured total > per
device > TDP), its manufacturing emissions (``embodied()``), and the typical training draw of an
accelerator: the low end of a hardware estimate's range.

A hardware estimate from TDP alone is an upper bound. Its low end is a published measured average
over a training, as a fraction of TDP: the accelerator's own measured average where the table of
accelerators has one (TPU v2, v3: Patterson et al. 2021), else its generation's row of
``data/typical_draw.csv``, else that file's ``default`` row (the lowest fraction published). The
result says which is which.
"""
from __future__ import annotations

from . import datasets, datasets_hw
from .datasets import Factor
from .errors import UsageError
from .fmt import name, opt, plain
from .units import check_positive, parse_power

HOURS_PER_YEAR = 8760.0


def typical(hw: dict) -> dict | None:
    """{'fraction', 'watts', 'basis', 'source'} for one device of ``hw``; None without a TDP."""
    tdp = hw.get("tdp_w")
    if not tdp:
        return None
    if hw.get("measured_avg_w"):
        w = hw["measured_avg_w"]
        return {"fraction": w / tdp, "watts": w, "key": hw["model"],
                "basis": f"published measured average {plain(w)} W of {hw['model']} ({w / tdp:.0%} of TDP)",
                "source": {"factor": "device_typical_power", "value": w, "unit": "W", "source": hw["power_note"]
                           or hw["source"], "url": hw["source"], "year": None, "name": hw["model"],
                           "note": "measured average (low end of the range)"}}
    rows = {r["key"]: r for r in datasets.table("typical_draw.csv")}
    row = next((r for r in rows.values() if r["key"] != "default" and
                ({hw["model"], hw["family"]} & set(filter(None, r["applies_to"].split(";"))))), rows["default"])
    f = float(row["fraction"])
    return {"fraction": f, "watts": f * tdp, "key": row["key"],
            "basis": f"typical training draw {f:.0%} of TDP ({row['key']}: {row['what']})",
            "source": {"factor": "device_typical_fraction", "value": f, "unit": "fraction of TDP",
                       "source": row["source"], "url": row["url"], "year": int(row["year"]), "name": row["key"],
                       "note": row["note"]}}


_SCALED = ("energy_kwh", "energy_kwh_it", "co2e_kg", "co2e_net_kg", "electricity_cost_usd")


def with_range(fp):
    """Fill a footprint's ``*_low`` figures from ``inputs['power_range_w']`` (energy-proportional
    figures only: cloud cost and embodied emissions depend on hours, not on power)."""
    rng = fp.inputs.get("power_range_w")
    if not rng or not rng["high"]:
        return fp
    ratio = rng["low"] / rng["high"]
    for k in _SCALED:
        v = getattr(fp, k)
        if v is not None:
            setattr(fp, k + "_low", v * ratio)
    for level in fp.levels:
        for k in _SCALED:
            if level.get(k) is not None:
                level[k + "_low"] = level[k] * ratio
    return fp


# ------------------------------------------------------------------ the power an estimate assumes

def given(v) -> bool:
    return v is not None and v != ""


def count_of(count, what="count") -> int:
    if count is None:
        return 1
    try:
        n = float(count)
    except (TypeError, ValueError):
        raise UsageError(f"{what}: expected a whole number, got {count!r}") from None
    check_positive(n, what)
    if n != int(n):
        raise UsageError(f"{what}: expected a whole number, got {count!r}")
    return int(n)


def given_source(factor: str, value: float, unit: str, key: str, scope=None) -> dict:
    """A factor the user gave, saying with which option (``--pue`` / ``pue=``)."""
    return {"factor": factor, "value": value, "unit": unit, "url": "", "year": None, "scope": scope,
            "source": f"given by the user ({name(key)})", "name": "", "note": ""}


def power(hw: dict | None, count: int, power_w, device_power_w, utilization, sources, inputs, notes) -> float:
    """IT power in watts: measured total > per-device x count > TDP x utilisation."""
    named = [name(k) for k, v in (("power_w", power_w), ("device_power_w", device_power_w),
                                  ("utilization", utilization)) if given(v)]
    if len(named) > 1:
        raise UsageError(f"give one power source, not {' and '.join(named)} ({name('power_w')} beats "
                         f"{name('device_power_w')} beats {name('utilization')})")
    if given(power_w):
        w = parse_power(power_w, name("power_w"))
        sources.append(given_source("total_power", w, "W", "power_w"))
        inputs["power_basis"] = "measured total power (the paper's p_c + p_r + g x p_g)"
        return w
    if given(device_power_w):
        w = parse_power(device_power_w, name("device_power_w"))
        sources.append(given_source("device_power", w, "W", "device_power_w"))
        inputs["device_power_w"] = w
        inputs["power_basis"] = f"per-device power x {count} devices"
        return w * count
    if hw is None:
        raise UsageError(f"no power known: pass {opt('power_w')} (measured total), {opt('device_power_w')}, "
                         f"or {opt('hardware')} (an accelerator's name)")
    u = check_positive(utilization if given(utilization) else 1.0, name("utilization"))
    if u > 1:
        raise UsageError(f"{name('utilization')}: a fraction from 0 to 1, got {plain(u)}")
    tdp = hw["tdp_w"]
    if tdp is None:
        if given(utilization):
            raise UsageError(f"{hw['model']} has no published TDP to scale by {name('utilization')}; "
                             f"pass {opt('device_power_w')} (W)")
        if hw["measured_avg_w"] is None:
            raise UsageError(f"no published power for {hw['model']}; pass {opt('device_power_w')} (W)")
        sources.append({"factor": "device_power", "value": hw["measured_avg_w"], "unit": "W", "source": hw["source"],
                        "url": hw["source"], "year": hw["release_year"], "name": hw["model"],
                        "note": "published measured average (no TDP published)"})
        inputs["power_basis"] = f"published measured average x {count} devices (no TDP published)"
        notes.append(f"{hw['model']}: no TDP published; used its published measured average power")
        return hw["measured_avg_w"] * count
    sources.append({"factor": "device_tdp", "value": tdp, "unit": "W", "source": hw["source"], "url": hw["source"],
                    "year": hw["release_year"], "name": hw["model"], "note": hw["power_note"]})
    inputs["utilization"] = u
    inputs["power_basis"] = f"TDP x utilization {plain(u)} x {count} devices"
    typ = None if given(utilization) else typical(hw)
    if typ is not None:
        sources.append(typ["source"])
        inputs["power_basis"] = f"a range: typical training draw to TDP, x {count} devices"
        inputs["power_range_w"] = {"low": typ["watts"] * count, "high": tdp * count,
                                   "low_basis": typ["basis"], "high_basis": f"TDP {plain(tdp)} W (upper bound)"}
        notes.append(f"power is a range: low end {typ['basis']}; high end TDP {plain(tdp)} W (upper bound); "
                     f"pass {opt('utilization')} or {opt('power_w')} for one value")
    elif u == 1.0:
        notes.append(f"power from TDP at full utilization: an upper bound; measure or pass {opt('utilization')}")
    return tdp * u * count


def embodied(h, hw, count, per_device, host_kg, per_host, lifetime, usage, sources, inputs, notes,
              cpu_server=False) -> float:
    """Manufacturing emissions, the share of ``h`` hours: devices, plus their hosts (8 GPUs to
    the default host); a CPU-only server (``cpu_server``) counts one base server per machine."""
    cpu_server = cpu_server and not given(per_device)
    if given(per_device):
        dev = user_factor(per_device, "embodied_kg_per_device")
        dev_life = None
    elif cpu_server:
        dev, dev_life = Factor(0.0, "kg CO2e", "no accelerator in the run", "", None, None), None
    else:
        found = datasets_hw.embodied_for(hw) if hw else None
        if found is None:
            found = datasets.embodied_default("default_gpu")
            notes.append("embodied: no per-card figure for "
                         f"{hw['model'] if hw else 'unknown hardware'}; used the Boavizta large-GPU archetype")
        dev, dev_life = found
    if given(host_kg):
        host = user_factor(host_kg, "host_embodied_kg")
    elif cpu_server:
        host, dev_life = datasets.embodied_server()
        notes.append(f"embodied: no GPU in the run: one {host.name} per machine ({host.source}); "
                     f"pass {opt('host_embodied_kg')} for your server's own figure")
    else:
        host, _ = datasets.embodied_default("default_host")
    # the default host holds 8 GPUs; a CPU server is one per machine
    host_per = count_of(per_host if given(per_host) else (1 if cpu_server else 8), name("devices_per_host"))
    years = check_positive(lifetime if given(lifetime) else (dev_life or 3.0), name("lifetime_years"))
    use = check_positive(usage if given(usage) else 1.0, name("usage"))
    if use > 1:
        raise UsageError(f"{name('usage')}: a fraction of the lifetime in use, 0 to 1, got {plain(use)}")
    hosts = count / host_per
    total_kg = count * dev.value + hosts * host.value
    share = h / (years * HOURS_PER_YEAR * use)
    if not cpu_server:
        sources.append(dev.as_source("embodied_per_device"))
    sources.append(host.as_source("embodied_per_host"))
    inputs["embodied"] = {"kg_per_device": dev.value, "host_kg": host.value, "devices_per_host": host_per,
                          "lifetime_years": years, "usage": use, "hosts": hosts}
    if not given(usage):
        notes.append("embodied: usage 1.0 assumed (hardware busy all its life); idle time raises the share")
    return total_kg * share


def user_factor(value, key: str) -> Factor:
    return Factor(check_positive(value, name(key), allow_zero=True), "kg CO2e",
                  f"given by the user ({name(key)})", "", None, None)
