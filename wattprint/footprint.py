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
from .draw import count_of as _count
from .draw import embodied as _embodied
from .draw import given as _given
from .draw import given_source as _given_source
from .draw import name as _name
from .draw import power as _power
from .draw import with_range
from .errors import UsageError
from .fmt import duration, either, energy_scale, mass_scale, opt, plain, usd
from .net import net_factor
from .units import J_PER_KWH, LB_KG, S_PER_H, check_positive, parse_duration

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
        return "\n".join(self.lines())

    def lines(self, energy=None, mass=None) -> list[str]:
        """The lines of ``str()``: ``energy`` and ``mass`` are the scales (``fmt.Scale``) of a view
        that shows more figures than these, so that each quantity keeps one unit."""
        e = energy or energy_scale(self.energy_kwh, self.energy_kwh_it, self.energy_kwh_low)
        m = mass or mass_scale(self.co2e_kg, self.co2e_kg_low, self.co2e_net_kg, self.embodied_kg)
        src = {s["factor"]: s for s in self.sources}
        runs = int(self.inputs.get("runs") or 1)
        lines = [f"energy      {e(self.energy_kwh)} over {span(self.hours, runs)}: IT {e(self.energy_kwh_it)} x "
                 f"PUE {plain(self.pue)} ({_short(src.get('pue'))})"]
        if self.energy_kwh_low is not None:
            lines.append(f"range       {e(self.energy_kwh_low)} (typical training draw) to {e(self.energy_kwh)} "
                         "(TDP, upper bound)" + (f"; CO2e {m(self.co2e_kg_low)} to {m(self.co2e_kg)}"
                                                 if self.co2e_kg_low is not None else ""))
        if self.co2e_kg is not None:
            ci = src.get("intensity")
            at = f" at {plain(ci['value'])} g/kWh" if ci else ""
            lines.append(f"CO2e        {m(self.co2e_kg)}{at} ({_short(ci)})")
        if self.co2e_net_kg is not None:
            lines.append(f"CO2e net    {m(self.co2e_net_kg)} (market-based; the CO2e above is location-based)")
        if self.embodied_kg is not None:
            lines.append(f"embodied    {m(self.embodied_kg)} (manufacturing, the share of "
                         f"{span(self.hours, runs)} in the hardware's life)")
        if self.cost_usd_high is not None:
            cost = (f"{usd(self.cost_usd_low, self.cost_usd_high)} (spot to on-demand)"
                    if self.cost_usd_low is not None else
                    f"up to {usd(self.cost_usd_high)} (on-demand; no spot price known)")
            lines.append(f"cloud cost  {cost}")
        if self.electricity_cost_usd is not None:
            t = src.get("tariff")
            at = f" at {plain(t['value'])} USD/kWh" if t else ""
            lines.append(f"electricity {usd(self.electricity_cost_usd)}{at} ({_short(t)})")
        return lines + [f"note: {n}" for n in self.notes]


def span(hours: float, runs: int = 1) -> str:
    """``12.0 h``, ``1.53 s``; with runs, ``600 h (50 runs x 12.0 h)``."""
    one = f"{plain(hours)} h" if hours >= 1 else duration(hours * S_PER_H)
    if runs <= 1:
        return one
    return f"{span(hours * runs)} ({runs:,} runs x {one})"


def _short(s: dict | None) -> str:
    """A source in a few words: what it stands for, who published it, and when."""
    if not s:
        return "source not recorded"
    text = s["source"]
    if s.get("year") and str(s["year"]) not in text:
        text += f", {s['year']}"
    who = "" if text.startswith(("given", "stored")) else s.get("name") or ""  # a given value is its own name
    return f"{who}: {text}" if who and who != "none" and who not in text else text


def _hours(hours, days) -> float:
    if _given(hours) and _given(days):
        raise UsageError(f"give {_name('hours')} or {_name('days')}, not both")
    if _given(days):
        try:
            d = float(days)  # a bare number of days
        except (TypeError, ValueError):
            return parse_duration(days, _name("days"))  # with its own unit, e.g. '3.3d'
        return check_positive(d, _name("days")) * 24.0
    if _given(hours):
        return parse_duration(hours, _name("hours"))
    raise UsageError(f"a duration is needed: pass {opt('hours')} or {opt('days')}")


def estimate(*, hardware=None, count=1, hours=None, days=None, power_w=None, device_power_w=None,
             utilization=None, pue=None, provider=None, region=None, cloud=None, intensity=None,
             net_intensity=None, price_low=None, price_high=None, prices=None, tariff=None, embodied=False,
             embodied_kg_per_device=None, host_embodied_kg=None, devices_per_host=None, lifetime_years=None,
             usage=None, runs=None, _cpu_server=False) -> Footprint:
    """Footprint of a training from its hardware, duration and location, without running anything.
    (``_cpu_server``: from_run()'s CPU-only run, whose embodied emissions are its server's.)"""
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
                    sources=sources, notes=notes, inputs=inputs, cpu_server=_cpu_server)
    return with_range(fp)


def for_energy(energy_kwh_it: float, hours: float, *, pue=None, region=None, cloud=None, intensity=None,
               net_intensity=None, price_low=None, price_high=None, prices=None, hardware=None, count=None,
               tariff=None, embodied=False, provider=None, runs=None, equivalents=True, **other) -> Footprint:
    """Footprint of a measured energy (IT side, before PUE) over ``hours`` of wall-clock time.

    ``other`` takes the rest of a stored run's location dict; those keys are named in the notes.
    ``equivalents=False`` skips the everyday equivalents (lists of many runs show none).
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
                    inputs=inputs, equivalents=equivalents)


def for_record(record, *, equivalents: bool = True) -> Footprint:
    """Footprint of a stored run (``RunRecord``): its IT energy over its duration, at its location."""
    hours = (record.duration_s or 0.0) / S_PER_H
    return for_energy(record.energy_j / J_PER_KWH, hours, equivalents=equivalents, **dict(record.location or {}))


# a stored run's location keys that from_run() uses when the caller gives none
_RUN_KEYS = ("region", "cloud", "intensity", "net_intensity", "pue", "tariff", "prices", "hardware", "count")


# which sources a stored location key sets
_STORED_FACTORS = {"region": ("intensity",), "intensity": ("intensity",), "net_intensity": ("net_intensity",),
                   "cloud": ("intensity", "net_intensity", "pue", "price_per_unit_hour", "price_low_per_unit_hour"),
                   "pue": ("pue",), "tariff": ("tariff",), "prices": ("price_per_unit_hour", "price_low_per_unit_hour"),
                   "hardware": ("device_tdp", "device_power", "embodied_per_device")}


def from_run(record, *, embodied=False, **kw) -> Footprint:
    """Estimate from a stored run's average power, the paper's method: its GPU part is scaled to
    ``count`` GPUs, the rest kept as measured; its duration and location fill what ``kw`` omits.
    ``kw`` takes estimate()'s keywords except the power ones; inputs["from_run"] says what was done,
    and every source taken from the run says so."""
    kw = dict(kw)
    if any(k in kw for k in ("power_w", "device_power_w", "utilization")):
        raise UsageError(f"{_name('from_run')} takes the power from the run: drop {_name('power_w')}, "
                         f"{_name('device_power_w')} and {_name('utilization')}")
    if not record.duration_s or record.duration_s <= 0 or record.energy_j <= 0:
        raise UsageError(f"run {record.id} has no energy recorded; choose another run")
    place_given = any(x in kw for x in ("region", "cloud", "intensity"))
    stored = {}
    for k in _RUN_KEYS:
        v = (record.location or {}).get(k)
        if v not in (None, "") and k not in kw and not (k in ("region", "cloud", "intensity") and place_given):
            kw[k] = stored[k] = v
    avg = record.energy_j / record.duration_s
    gpus = [d for d in record.domains if getattr(d, "kind", "") == "gpu"]
    gpu_w = sum(d.energy_j for d in gpus) / record.duration_s
    basis = {"run": record.id, "run_avg_power_w": avg, "run_duration_s": record.duration_s, "run_gpus": len(gpus),
             "stored": stored}
    if gpus:
        count = _count(kw.get("count", len(gpus)))
        kw["power_w"] = (avg - gpu_w) + gpu_w / len(gpus) * count
        basis["scaling"] = (f"GPU part {plain(gpu_w)} W / {len(gpus)} GPUs x {count}; "
                            f"rest ({plain(avg - gpu_w)} W) as measured")
    else:
        count = _count(kw.get("count", 1))
        kw["power_w"] = avg * count
        basis["scaling"] = f"no GPU in the run: its {plain(avg)} W x {count} machine{'s' if count > 1 else ''}"
    kw["count"] = count
    if "hours" not in kw and "days" not in kw:
        kw["hours"] = record.duration_s / S_PER_H
        basis["hours"] = f"the run's own duration (pass {opt('hours')} to extrapolate)"
    # a CPU-only run's hardware is its server, not the GPU archetype
    fp = estimate(embodied=embodied, _cpu_server=not gpus and "hardware" not in kw, **kw)
    fp.inputs["from_run"] = basis
    fp.inputs["power_basis"] = f"mean power of run {record.id}, scaled: {basis['scaling']}"
    for s in fp.sources:
        if s["factor"] == "total_power":
            s.update(source=f"from run {record.id}: measured mean power {plain(avg)} W over "
                            f"{duration(record.duration_s)}, scaled: {basis['scaling']}", url="", note="")
        keys = [k for k in stored if s["factor"] in _STORED_FACTORS.get(k, ())]
        if keys:
            s["origin"] = f"{', '.join(f'{k} {stored[k]}' for k in keys)} stored with run {record.id}"
            if s["source"].startswith("given by the user"):
                s["source"] = f"stored with run {record.id}"
    if stored:
        fp.notes.insert(0, "from the run's record: " + ", ".join(f"{k} {v}" for k, v in stored.items()))
    return fp


def _compute(e_it, h, *, hw, count, pue, provider, region, cloud, intensity, net_intensity, price_low,
             price_high, prices, tariff, embodied, embodied_kg_per_device=None, host_embodied_kg=None,
             devices_per_host=None, lifetime_years=None, usage=None, runs=None, sources, notes, inputs,
             cpu_server=False, equivalents=True) -> Footprint:
    n_runs = _count(runs, "runs")
    p = datasets.resolve_pue(pue=pue, provider=provider, cloud=cloud)
    sources.insert(0, p.as_source("pue"))
    if p.source.startswith("assumed"):
        notes.append(f"no data centre given: PUE 1.0 assumed; pass {opt('pue')} (e.g. 'industry') or {opt('cloud')}")
    inputs.update(hours=h, runs=n_runs, pue=p.value, energy_kwh_it_per_run=e_it)

    per_run = {"energy_kwh_it": e_it, "energy_kwh": e_it * p.value}
    ci = datasets.resolve_intensity(region=region, cloud=cloud, intensity=intensity)
    if ci is None:
        notes.append(f"no location given: CO2e not computed; pass {opt('region')}, {opt('cloud')} or {opt('intensity')}")
    else:
        sources.append(ci.as_source("intensity"))
        inputs["intensity_g_per_kwh"] = ci.value
        if p.year and ci.year and abs(ci.year - p.year) >= 2:
            notes.append(f"PUE {plain(p.value)} is a {p.year} figure; the grid intensity is from {ci.year}")
        per_run["co2e_kg"] = per_run["energy_kwh"] * ci.value / 1000.0
    net = net_factor(net_intensity, cloud, ci)  # given, or a provider's carbon-free share (market-based)
    if net is not None:
        sources.append(net)
        inputs["net_intensity_g_per_kwh"] = net["value"]
        per_run["co2e_net_kg"] = per_run["energy_kwh"] * net["value"] / 1000.0

    _cost(per_run, h, hw, count, price_low, price_high, prices, cloud, sources, inputs, notes)
    if _given(tariff):
        t = check_positive(tariff, _name("tariff"), allow_zero=True)
        sources.append(_given_source("tariff", t, "USD/kWh", "tariff"))
        inputs["tariff_usd_per_kwh"] = t
        per_run["electricity_cost_usd"] = per_run["energy_kwh"] * t
    if embodied or any(_given(v) for v in (embodied_kg_per_device, host_embodied_kg, devices_per_host,
                                           lifetime_years, usage)):
        per_run["embodied_kg"] = _embodied(h, hw, count, embodied_kg_per_device, host_embodied_kg,
                                           devices_per_host, lifetime_years, usage, sources, inputs, notes,
                                           cpu_server)

    total = {k: v * n_runs for k, v in per_run.items()}
    fp = Footprint(energy_kwh=total["energy_kwh"], energy_kwh_it=total["energy_kwh_it"], pue=p.value, hours=h,
                   co2e_kg=total.get("co2e_kg"), co2e_net_kg=total.get("co2e_net_kg"),
                   embodied_kg=total.get("embodied_kg"), cost_usd_low=total.get("cost_usd_low"),
                   cost_usd_high=total.get("cost_usd_high"), electricity_cost_usd=total.get("electricity_cost_usd"),
                   inputs=inputs, sources=sources, notes=notes)
    if fp.co2e_kg is not None:
        fp.co2e_lbs = fp.co2e_kg / LB_KG
    if fp.co2e_kg is not None and equivalents:
        fp.equivalents = equivalents_for(fp.co2e_kg, fp.energy_kwh)
        sources.extend({"factor": "equivalent", "value": e["per_item"], "unit": e["per_item_unit"],
                        "source": e["source"], "url": e["url"], "year": e["year"], "name": e["name"], "note": ""}
                       for e in fp.equivalents)
    if n_runs > 1:
        fp.levels = [dict(per_run, runs=1), dict(total, runs=n_runs)]
        notes.append(f"totals are for {n_runs:,} runs of {span(h)} each" + either(
            python="; levels lists one run and all", cli=""))
    return fp


def _cost(out, h, hw, count, price_low, price_high, prices, cloud, sources, inputs, notes) -> None:
    if _given(prices) and (_given(price_low) or _given(price_high)):
        raise UsageError(f"give a price table ({_name('prices')}) or {_name('price_low')}/{_name('price_high')}, not both")
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
        low = check_positive(price_low, _name("price_low"), allow_zero=True) if _given(price_low) else None
        high = check_positive(price_high, _name("price_high"), allow_zero=True) if _given(price_high) else None
        if low is not None and high is not None and low > high:
            raise UsageError(f"{_name('price_low')} ({plain(low)}) is above {_name('price_high')} "
                             f"({plain(high)}); swap them")
        for k, v in (("price_low", low), ("price_high", high)):
            if v is not None:
                sources.append(_given_source(k, v, "USD/unit-hour", k))
        if high is None:
            high, low = low, low
    else:
        return
    inputs["price_usd_per_unit_hour"] = {"low": low, "high": high}
    out["cost_usd_high"] = count * h * high
    if low is not None:
        out["cost_usd_low"] = count * h * low


def equivalents_for(co2e_kg: float, energy_kwh: float | None = None) -> list[dict]:
    """At most three everyday items that fit the magnitude, each with a plain-number ``text``
    (Table 1 in lb, current items in kg CO2 or kWh; see wattprint/equivalents.py)."""
    from .equivalents import pick

    return pick(co2e_kg, energy_kwh)
