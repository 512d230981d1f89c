"""The generalised Strubell et al. (2019) model: energy, CO2e, embodied emissions, cost and equivalents.

    energy_it  = hours x power                      (kWh, what meters measure)
    energy     = energy_it x PUE                    (kWh, the paper's p_t)
    CO2e       = energy x intensity                 (gross; net with a market-based intensity)
    embodied   = sum(device kg) x hours / (lifetime_years x 8760 x usage)
    cloud cost = units x hours x price per unit-hour (low = pre-emptible/spot, high = on-demand)
    electricity cost = energy x tariff

Every factor used is recorded in ``sources`` with its value, unit, source and year; anything not
known is left ``None`` with a note, never filled in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import datasets, datasets_hw
from .datasets import Factor
from .draw import typical as typical_draw
from .draw import with_range
from .net import net_factor
from .errors import UsageError
from .units import (J_PER_KWH, LB_KG, S_PER_H, check_positive, fmt_energy, fmt_mass, fmt_number, parse_duration,
                    parse_power)

HOURS_PER_YEAR = 8760.0


@dataclass
class Footprint:
    energy_kwh: float
    energy_kwh_it: float
    pue: float
    hours: float
    co2e_kg: float | None = None
    co2e_lbs: float | None = None
    co2e_net_kg: float | None = None
    embodied_kg: float | None = None
    cost_usd_low: float | None = None
    cost_usd_high: float | None = None
    electricity_cost_usd: float | None = None
    equivalents: list[dict] = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    sources: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    levels: list[dict] = field(default_factory=list)  # per-run and campaign totals when runs > 1
    # a hardware estimate's low end (typical training draw); the main figures are its high end (TDP)
    energy_kwh_low: float | None = None
    energy_kwh_it_low: float | None = None
    co2e_kg_low: float | None = None
    co2e_net_kg_low: float | None = None
    electricity_cost_usd_low: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"energy      {fmt_energy(self.energy_kwh)} (IT {fmt_energy(self.energy_kwh_it)} x PUE {self.pue:g})"
                 f" over {fmt_number(self.hours)} h"]
        if self.energy_kwh_low is not None:
            lines.append(f"range       {fmt_energy(self.energy_kwh_low)} (typical training draw) to "
                         f"{fmt_energy(self.energy_kwh)} (TDP, upper bound)" + (
                             f"; CO2e {fmt_mass(self.co2e_kg_low)} to {fmt_mass(self.co2e_kg)}"
                             if self.co2e_kg_low is not None else ""))
        if self.co2e_kg is not None:
            lines.append(f"CO2e        {fmt_mass(self.co2e_kg)} ({_plain(self.co2e_lbs)} lb)")
        if self.co2e_net_kg is not None:
            lines.append(f"CO2e net    {fmt_mass(self.co2e_net_kg)} (market-based; the CO2e above is location-based)")
        if self.embodied_kg is not None:
            lines.append(f"embodied    {fmt_mass(self.embodied_kg)}")
        if self.cost_usd_high is not None:
            money = "{:,.2f}" if self.cost_usd_high < 100 else "{:,.0f}"  # $1.35, not $1
            low = "$" + money.format(self.cost_usd_low) if self.cost_usd_low is not None else "?"
            lines.append(f"cloud cost  {low} - ${money.format(self.cost_usd_high)}")
        if self.electricity_cost_usd is not None:
            lines.append(f"electricity ${self.electricity_cost_usd:,.2f}")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def _plain(x: float) -> str:
    from .equivalents import plain

    return plain(x) if x == 0 or x >= 1e-8 else "under 0.00000001"


def _given(v) -> bool:
    return v is not None and v != ""


def _hours(hours, days) -> float:
    if _given(hours) and _given(days):
        raise UsageError("give hours or days, not both")
    if _given(days):
        try:
            d = float(days)  # a bare number of days
        except (TypeError, ValueError):
            return parse_duration(days, "days")  # with its own unit, e.g. '3.3d'
        return check_positive(d, "days") * 24.0
    if _given(hours):
        return parse_duration(hours, "hours")
    raise UsageError("a duration is needed: pass hours= (--hours H) or days= (--days D)")


def _count(count, what="count") -> int:
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


def _given_source(factor: str, value: float, unit: str, scope=None) -> dict:
    return {"factor": factor, "value": value, "unit": unit, "source": "given by the user", "url": "",
            "year": None, "scope": scope, "name": "", "note": ""}


def _power(hw: dict | None, count: int, power_w, device_power_w, utilization, sources, inputs, notes) -> float:
    """IT power in watts: measured total > per-device x count > TDP x utilisation."""
    given = [k for k, v in (("power_w", power_w), ("device_power_w", device_power_w),
                            ("utilization", utilization)) if _given(v)]
    if len(given) > 1:
        raise UsageError(f"give one power source, not {' and '.join(given)} (--power-w beats --device-power-w beats --utilization)")
    if _given(power_w):
        w = parse_power(power_w, "power_w")
        sources.append(_given_source("total_power", w, "W"))
        inputs["power_basis"] = "measured total power (the paper's p_c + p_r + g x p_g)"
        return w
    if _given(device_power_w):
        w = parse_power(device_power_w, "device_power_w")
        sources.append(_given_source("device_power", w, "W"))
        inputs["device_power_w"] = w
        inputs["power_basis"] = f"per-device power x {count} devices"
        return w * count
    if hw is None:
        raise UsageError("no power known: pass --power-w (measured total), --device-power-w, or --hardware NAME")
    u = check_positive(utilization if _given(utilization) else 1.0, "utilization")
    if u > 1:
        raise UsageError(f"utilization: a fraction from 0 to 1, got {u:g}")
    tdp = hw["tdp_w"]
    if tdp is None:
        if _given(utilization):
            raise UsageError(f"{hw['model']} has no published TDP to scale by --utilization; pass --device-power-w W")
        if hw["measured_avg_w"] is None:
            raise UsageError(f"no published power for {hw['model']}; pass --device-power-w W")
        sources.append({"factor": "device_power", "value": hw["measured_avg_w"], "unit": "W", "source": hw["source"],
                        "url": hw["source"], "year": hw["release_year"], "name": hw["model"],
                        "note": "published measured average (no TDP published)"})
        inputs["power_basis"] = f"published measured average x {count} devices (no TDP published)"
        notes.append(f"{hw['model']}: no TDP published; used its published measured average power")
        return hw["measured_avg_w"] * count
    sources.append({"factor": "device_tdp", "value": tdp, "unit": "W", "source": hw["source"], "url": hw["source"],
                    "year": hw["release_year"], "name": hw["model"], "note": hw["power_note"]})
    inputs["utilization"] = u
    inputs["power_basis"] = f"TDP x utilization {u:g} x {count} devices"
    typ = None if _given(utilization) else typical_draw(hw)
    if typ is not None:
        sources.append(typ["source"])
        inputs["power_basis"] = f"a range: typical training draw to TDP, x {count} devices"
        inputs["power_range_w"] = {"low": typ["watts"] * count, "high": tdp * count,
                                   "low_basis": typ["basis"], "high_basis": f"TDP {tdp:g} W (upper bound)"}
        notes.append(f"power is a range: low end {typ['basis']}; high end TDP {tdp:g} W (upper bound); "
                     "pass --utilization or --power-w for one value")
    elif u == 1.0:
        notes.append("power from TDP at full utilization: an upper bound; measure or pass --utilization")
    return tdp * u * count


def estimate(*, hardware=None, count=1, hours=None, days=None, power_w=None, device_power_w=None,
             utilization=None, pue=None, provider=None, region=None, cloud=None, intensity=None,
             net_intensity=None, price_low=None, price_high=None, prices=None, tariff=None, embodied=False,
             embodied_kg_per_device=None, host_embodied_kg=None, devices_per_host=None, lifetime_years=None,
             usage=None, runs=None) -> Footprint:
    """Footprint of a training from its hardware, duration and location, without running anything."""
    h = _hours(hours, days)
    n = _count(count)
    hw = datasets_hw.hardware(hardware) if _given(hardware) else None
    sources: list[dict] = []
    notes: list[str] = []
    inputs: dict = {"hardware": hw["model"] if hw else None, "count": n}
    if hw and "resolved_from" in hw:
        notes.append(hw["resolution_note"])
    watts = _power(hw, n, power_w, device_power_w, utilization, sources, inputs, notes)
    inputs["power_w"] = watts
    fp = _compute(watts * h / 1000.0, h, hw=hw, count=n, pue=pue, provider=provider, region=region,
                    cloud=cloud, intensity=intensity, net_intensity=net_intensity, price_low=price_low,
                    price_high=price_high, prices=prices, tariff=tariff, embodied=embodied,
                    embodied_kg_per_device=embodied_kg_per_device, host_embodied_kg=host_embodied_kg,
                    devices_per_host=devices_per_host, lifetime_years=lifetime_years, usage=usage, runs=runs,
                    sources=sources, notes=notes, inputs=inputs)
    return with_range(fp)


def for_energy(energy_kwh_it: float, hours: float, *, pue=None, region=None, cloud=None, intensity=None,
               net_intensity=None, price_low=None, price_high=None, prices=None, hardware=None, count=None,
               tariff=None, embodied=False, provider=None, runs=None, **other) -> Footprint:
    """Footprint of a measured energy (IT side, before PUE) over ``hours`` of wall-clock time.

    ``other`` takes the rest of a stored run's location dict; those keys are named in the notes.
    """
    e = check_positive(energy_kwh_it, "energy_kwh_it", allow_zero=True)
    h = check_positive(hours, "hours", allow_zero=True)
    hw = datasets_hw.hardware(hardware) if _given(hardware) else None
    n = _count(count)
    inputs = {"hardware": hw["model"] if hw else None, "count": n, "power_basis": "measured energy",
              "power_w": e * 1000.0 / h if h else None}
    notes = [f"ignored (not used for a measured energy): {', '.join(sorted(other))}"] if other else []
    return _compute(e, h, hw=hw, count=n, pue=pue, provider=provider, region=region, cloud=cloud,
                    intensity=intensity, net_intensity=net_intensity, price_low=price_low, price_high=price_high,
                    prices=prices, tariff=tariff, embodied=embodied, runs=runs, sources=[], notes=notes,
                    inputs=inputs)


def for_record(record) -> Footprint:
    """Footprint of a stored run (``RunRecord``): its IT energy over its duration, at its location."""
    hours = (record.duration_s or 0.0) / S_PER_H
    return for_energy(record.energy_j / J_PER_KWH, hours, **dict(record.location or {}))


# a stored run's location keys that from_run() uses when the caller gives none
_RUN_KEYS = ("region", "cloud", "intensity", "net_intensity", "pue", "tariff", "prices", "hardware", "count")


def from_run(record, *, embodied=False, **kw) -> Footprint:
    """Estimate from a stored run's average power, the paper's method: its GPU part is scaled to
    ``count`` GPUs, the rest kept as measured; its duration and location fill what ``kw`` omits.
    ``kw`` takes estimate()'s keywords except the power ones; inputs["from_run"] says what was done."""
    kw = dict(kw)
    if any(k in kw for k in ("power_w", "device_power_w", "utilization")):
        raise UsageError("--from-run gives the power: drop --power-w/--device-power-w/--utilization")
    if not record.duration_s or record.duration_s <= 0 or record.energy_j <= 0:
        raise UsageError(f"run {record.id} has no energy recorded; choose another run")
    place_given = any(x in kw for x in ("region", "cloud", "intensity"))
    for k in _RUN_KEYS:
        v = (record.location or {}).get(k)
        if v not in (None, "") and k not in kw and not (k in ("region", "cloud", "intensity") and place_given):
            kw[k] = v
    avg = record.energy_j / record.duration_s
    gpus = [d for d in record.domains if getattr(d, "kind", "") == "gpu"]
    gpu_w = sum(d.energy_j for d in gpus) / record.duration_s
    basis = {"run": record.id, "run_avg_power_w": avg, "run_duration_s": record.duration_s, "run_gpus": len(gpus)}
    if gpus:
        count = _count(kw.get("count", len(gpus)))
        kw["power_w"] = (avg - gpu_w) + gpu_w / len(gpus) * count
        basis["scaling"] = (f"GPU part {gpu_w:.1f} W / {len(gpus)} GPUs x {count}; "
                            f"rest ({avg - gpu_w:.1f} W) as measured")
    else:
        count = _count(kw.get("count", 1))
        kw["power_w"] = avg * count
        basis["scaling"] = f"no GPU domain: whole run's {avg:.1f} W x {count}"
    kw["count"] = count
    if "hours" not in kw and "days" not in kw:
        kw["hours"] = record.duration_s / S_PER_H
        basis["hours"] = "the run's own duration (pass --hours to extrapolate)"
    fp = estimate(embodied=embodied, **kw)
    fp.inputs["from_run"] = basis
    fp.inputs["power_basis"] = f"average power of run {basis['run']}, scaled: {basis['scaling']}"
    return fp


def _compute(e_it, h, *, hw, count, pue, provider, region, cloud, intensity, net_intensity, price_low,
             price_high, prices, tariff, embodied, embodied_kg_per_device=None, host_embodied_kg=None,
             devices_per_host=None, lifetime_years=None, usage=None, runs=None, sources, notes, inputs) -> Footprint:
    n_runs = _count(runs, "runs")
    p = datasets.resolve_pue(pue=pue, provider=provider, cloud=cloud)
    sources.insert(0, p.as_source("pue"))
    if p.source.startswith("assumed"):
        notes.append("no data centre given: PUE 1.0 assumed; pass pue= (e.g. 'industry') or cloud=")
    inputs.update(hours=h, runs=n_runs, pue=p.value, energy_kwh_it_per_run=e_it)

    per_run = {"energy_kwh_it": e_it, "energy_kwh": e_it * p.value}
    ci = datasets.resolve_intensity(region=region, cloud=cloud, intensity=intensity)
    if ci is None:
        notes.append("no location given: CO2e not computed; pass region=, cloud= or intensity=")
    else:
        sources.append(ci.as_source("intensity"))
        inputs["intensity_g_per_kwh"] = ci.value
        if p.year and ci.year and abs(ci.year - p.year) >= 2:
            notes.append(f"PUE {p.value:g} is a {p.year} figure; the grid intensity is from {ci.year}")
        per_run["co2e_kg"] = per_run["energy_kwh"] * ci.value / 1000.0
    net = net_factor(net_intensity, cloud, ci)  # given, or a provider's carbon-free share (market-based)
    if net is not None:
        sources.append(net)
        inputs["net_intensity_g_per_kwh"] = net["value"]
        per_run["co2e_net_kg"] = per_run["energy_kwh"] * net["value"] / 1000.0

    _cost(per_run, h, hw, count, price_low, price_high, prices, cloud, sources, inputs, notes)
    if _given(tariff):
        t = check_positive(tariff, "tariff", allow_zero=True)
        sources.append(_given_source("tariff", t, "USD/kWh"))
        inputs["tariff_usd_per_kwh"] = t
        per_run["electricity_cost_usd"] = per_run["energy_kwh"] * t
    if embodied or any(_given(v) for v in (embodied_kg_per_device, host_embodied_kg, devices_per_host,
                                           lifetime_years, usage)):
        per_run["embodied_kg"] = _embodied(h, hw, count, embodied_kg_per_device, host_embodied_kg,
                                           devices_per_host, lifetime_years, usage, sources, inputs, notes)

    total = {k: v * n_runs for k, v in per_run.items()}
    fp = Footprint(energy_kwh=total["energy_kwh"], energy_kwh_it=total["energy_kwh_it"], pue=p.value, hours=h,
                   co2e_kg=total.get("co2e_kg"), co2e_net_kg=total.get("co2e_net_kg"),
                   embodied_kg=total.get("embodied_kg"), cost_usd_low=total.get("cost_usd_low"),
                   cost_usd_high=total.get("cost_usd_high"), electricity_cost_usd=total.get("electricity_cost_usd"),
                   inputs=inputs, sources=sources, notes=notes)
    if fp.co2e_kg is not None:
        fp.co2e_lbs = fp.co2e_kg / LB_KG
        fp.equivalents = equivalents_for(fp.co2e_kg, fp.energy_kwh)
        sources.extend({"factor": "equivalent", "value": e["per_item"], "unit": e["per_item_unit"],
                        "source": e["source"], "url": e["url"], "year": e["year"], "name": e["name"], "note": ""}
                       for e in fp.equivalents)
    if n_runs > 1:
        fp.levels = [dict(per_run, runs=1), dict(total, runs=n_runs)]
        notes.append(f"totals are for {n_runs} runs of {fmt_number(h)} h each; levels lists one run and all")
    return fp


def _cost(out, h, hw, count, price_low, price_high, prices, cloud, sources, inputs, notes) -> None:
    if _given(prices) and (_given(price_low) or _given(price_high)):
        raise UsageError("give a price table (--prices) or --price-low/--price-high, not both")
    if not (_given(price_low) or _given(price_high)) and (_given(prices) or _given(cloud)):
        found, more = datasets_hw.cloud_price(prices, cloud, hw)
        notes.extend(more)
        if found is None:
            return
        low, high, f = found
        sources.append(f.as_source("price_per_unit_hour"))
        if low is not None:
            sources.append(dict(f.as_source("price_low_per_unit_hour"), value=low))
        if f.year and f.year < 2024:
            notes.append(f"prices from table {f.name.split(':')[0]} are dated {f.year}: today's prices may differ")
        if low is None:
            notes.append(f"no pre-emptible/spot price in {f.name.split(':')[0]} for {hw['model']}")
    elif _given(price_low) or _given(price_high):
        low = check_positive(price_low, "price_low", allow_zero=True) if _given(price_low) else None
        high = check_positive(price_high, "price_high", allow_zero=True) if _given(price_high) else None
        if low is not None and high is not None and low > high:
            raise UsageError(f"price_low ({low:g}) is above price_high ({high:g}); swap them")
        for k, v in (("price_low", low), ("price_high", high)):
            if v is not None:
                sources.append(_given_source(k, v, "USD/unit-hour"))
        if high is None:
            high, low = low, low
    else:
        return
    inputs["price_usd_per_unit_hour"] = {"low": low, "high": high}
    out["cost_usd_high"] = count * h * high
    if low is not None:
        out["cost_usd_low"] = count * h * low


def _embodied(h, hw, count, per_device, host_kg, per_host, lifetime, usage, sources, inputs, notes) -> float:
    if _given(per_device):
        dev = Factor(check_positive(per_device, "embodied_kg_per_device", allow_zero=True), "kg CO2e",
                     "given by the user", "", None, None)
        dev_life = None
    else:
        found = datasets_hw.embodied_for(hw) if hw else None
        if found is None:
            found = datasets.embodied_default("default_gpu")
            notes.append("embodied: no per-card figure for "
                         f"{hw['model'] if hw else 'unknown hardware'}; used the Boavizta large-GPU archetype")
        dev, dev_life = found
    if _given(host_kg):
        host = Factor(check_positive(host_kg, "host_embodied_kg", allow_zero=True), "kg CO2e",
                      "given by the user", "", None, None)
        host_per = _count(per_host if _given(per_host) else 8, "devices_per_host")
    else:
        host, _ = datasets.embodied_default("default_host")
        host_per = _count(per_host if _given(per_host) else 8, "devices_per_host")  # the 8-GPU host it describes
    years = check_positive(lifetime if _given(lifetime) else (dev_life or 3.0), "lifetime_years")
    use = check_positive(usage if _given(usage) else 1.0, "usage")
    if use > 1:
        raise UsageError(f"usage: a fraction of the lifetime in use, 0 to 1, got {use:g}")
    hosts = count / host_per
    total_kg = count * dev.value + hosts * host.value
    share = h / (years * HOURS_PER_YEAR * use)
    sources.append(dev.as_source("embodied_per_device"))
    sources.append(host.as_source("embodied_per_host"))
    inputs["embodied"] = {"kg_per_device": dev.value, "host_kg": host.value, "devices_per_host": host_per,
                          "lifetime_years": years, "usage": use, "hosts": hosts}
    if not _given(usage):
        notes.append("embodied: usage 1.0 assumed (hardware busy all its life); idle time raises the share")
    return total_kg * share


def equivalents_for(co2e_kg: float, energy_kwh: float | None = None) -> list[dict]:
    """At most three everyday items that fit the magnitude, each with a plain-number ``text``
    (Table 1 in lb, current items in kg CO2 or kWh; see wattprint/equivalents.py)."""
    from .equivalents import pick

    return pick(co2e_kg, energy_kwh)
