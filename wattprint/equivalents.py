"""Everyday equivalents that fit the magnitude: at most three, each as a plain number.

Each item of ``data/equivalents.csv`` is either an amount of CO2e (lb or kg per item) or an amount
of energy (kWh per item: a kettle boil). The items that fit are those the footprint covers at
least once; of those, the largest items are shown (3 flights, not 300,000 smartphone charges).
When nothing fits once (a tiny run), the smallest items are shown as a share of one item, or a car
distance in metres or millimetres: plain numbers, never scientific notation, never "0.0".
"""
from __future__ import annotations

import math

from . import datasets
from .units import LB_KG

MAX_SHOWN = 3
SMALL = ("smartphone_charge", "kettle_boil", "car_km")  # what a tiny run is compared with


def _per_item(e: dict) -> tuple[str, float]:
    """('co2e', kg) or ('energy', kWh) of one item."""
    unit = e["unit"]
    if unit.startswith("lb"):
        return "co2e", e["value"] * LB_KG
    if unit.startswith("kWh"):
        return "energy", e["value"]
    return "co2e", e["value"]


def plain(x: float) -> str:
    """A count as plain text: '1,234', '12', '2.5', '0.25'; tiny shares with 2 significant digits."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    if x >= 0.01:
        return f"{x:.2f}".rstrip("0").rstrip(".")
    if x <= 0:
        return "0"
    decimals = min(8, 1 - math.floor(math.log10(x)))
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".")


def _distance(km: float) -> str:
    if km >= 1:
        return f"{plain(km)} km"
    if km >= 0.001:
        return f"{plain(km * 1000)} m"
    if km >= 1e-5:
        return f"{plain(km * 1e5)} cm"
    if km >= 1e-7:
        return f"{plain(km * 1e6)} mm"
    return "under 0.1 mm"


def text(e: dict) -> str:
    """'3 flights New York <-> San Francisco', '2 % of a smartphone charge', '1.6 mm by car'."""
    n = e["value"]
    if e["key"] == "car_km":
        return f"{_distance(n)} by car"
    if n >= 1:
        return f"{plain(n)} {e['one'] if plain(n) == '1' else e['many']}"
    pct = n * 100
    share = "under 0.0001 %" if pct < 1e-4 else f"{plain(pct)} %"
    return f"{share} of a {e['one']}"


def all_items(co2e_kg: float | None, energy_kwh: float | None = None) -> list[dict]:
    """Every item the footprint can be compared with, with how many of it the footprint is."""
    out = []
    for e in datasets.equivalents():
        basis, per = _per_item(e)
        amount = co2e_kg if basis == "co2e" else energy_kwh
        if amount is None or per <= 0:
            continue
        item = {"key": e["key"], "name": e["name"], "value": amount / per, "unit": "x", "basis": basis,
                "per_item": e["value"], "per_item_unit": e["unit"], "per_item_base": per,
                "one": e.get("one") or e["name"], "many": e.get("many") or e["name"],
                "pick": e.get("pick", "yes") != "no", "source": e["source"], "url": e["url"], "year": e["year"]}
        item["text"] = text(item)
        out.append(item)
    return out


def pick(co2e_kg: float | None, energy_kwh: float | None = None, n: int = MAX_SHOWN) -> list[dict]:
    """At most ``n`` items that fit: the largest items covered at least once, else the small ones."""
    items = [e for e in all_items(co2e_kg, energy_kwh) if e["pick"]]
    fit = [e for e in items if e["value"] >= 1]
    if fit:
        # largest first (fewest of them), one per kind of item: co2e and energy items both count
        fit.sort(key=lambda e: e["value"])
        return fit[:n]
    small = [e for k in SMALL for e in items if e["key"] == k]
    return small[:n]
