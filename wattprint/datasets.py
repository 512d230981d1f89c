"""Bundled reference tables (wattprint/data/*.csv, described in manifest.json) and lookups.

Tables are read on first use and cached. Lookups never guess: an unknown name is a
``UsageError`` that lists the closest known names.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources

from .errors import UsageError
from .fmt import exact, opt
from .fmt import name as _n
from .units import MAX_PUE, check_range, parse_intensity, shown


@dataclass(frozen=True)
class Factor:
    value: float
    unit: str
    source: str
    url: str
    year: int | None
    scope: str | None
    note: str = ""
    name: str = field(default="", compare=False)  # what the factor stands for, e.g. "gcp:us-central1"

    def as_source(self, factor: str) -> dict:
        return {"factor": factor, "value": self.value, "unit": self.unit, "source": self.source,
                "url": self.url, "year": self.year, "scope": self.scope, "name": self.name, "note": self.note}


@lru_cache(maxsize=None)
def table(name: str) -> tuple[dict, ...]:
    """Rows of a bundled CSV as dicts of strings (kept as strings: 'NA' is Namibia)."""
    text = resources.files("wattprint").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=None)
def manifest() -> dict:
    return json.loads(resources.files("wattprint").joinpath("data", "manifest.json").read_text(encoding="utf-8"))


def year_of(text: str) -> int | None:
    text = (text or "").strip()[:4]
    return int(text) if text.isdigit() else None


@lru_cache(maxsize=8192)  # table names are looked up again and again (plan: hundreds of options)
def norm(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: 'Québec' -> 'quebec', 'us-central1' -> 'uscentral1'."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return "".join(c for c in text.lower() if c.isalnum())


def closest(query: str, names) -> list[str]:
    """Up to five of ``names`` spelled most like ``query`` (or containing it)."""
    by_norm = {norm(n): n for n in sorted(set(names)) if norm(n) and norm(query)}
    close = difflib.get_close_matches(norm(query), list(by_norm), n=5, cutoff=0.5)
    close += [k for k in by_norm if norm(query) and norm(query) in k and k not in close][: 5 - len(close)]
    return [by_norm[c] for c in close]


def unknown(what: str, query: str, names, hint: str) -> UsageError:
    listed = ", ".join(closest(query, names)) or "none close"
    return UsageError(f"unknown {what} {shown(query)}; closest: {listed} ({hint})")


# ---------------------------------------------------------------- carbon intensity

def _country_factor(row: dict, name: str) -> Factor:
    return Factor(float(row["gco2e_per_kwh"]), "g/kWh", "Ember (2025), Yearly Electricity Data",
                  "https://ember-energy.org/data/yearly-electricity-data/", year_of(row["year"]), "lifecycle",
                  name=name)


def _zone_factor(row: dict, name: str) -> Factor:
    return Factor(float(row["gco2e_per_kwh"]), "g/kWh", f"Electricity Maps ({row['year']}), zone {row['zone']}",
                  "https://www.electricitymaps.com", year_of(row["year"]), "lifecycle",
                  note="ODbL 1.0 data", name=name)


def _state_factor(row: dict, name: str) -> Factor:
    return Factor(float(row["gco2e_per_kwh"]), "g/kWh", f"US EPA eGRID{row['year']}, state output emission rate",
                  "https://www.epa.gov/egrid", year_of(row["year"]), "direct",
                  note="combustion only (eGRID); life-cycle factors are higher", name=name)


@lru_cache(maxsize=None)
def _region_index() -> dict[str, tuple[str, dict]]:
    """norm(key) -> (kind, row), first writer wins: US state, country, zone key, then names."""
    index: dict[str, tuple[str, dict]] = {}

    def put(key, kind, row):
        k = norm(key)
        if k and k not in index:
            index[k] = (kind, row)

    for r in table("grid_us_state_egrid.csv"):
        put("US-" + r["state"], "state", r)
    for r in table("grid_country_ember.csv"):
        put(r["iso2"], "country", r)
        put(r["iso3"], "country", r)
    for r in table("grid_zone_electricitymaps.csv"):
        put(r["zone"], "zone", r)
    for kind, name in (("country", "grid_country_ember.csv"), ("state", "grid_us_state_egrid.csv"),
                       ("zone", "grid_zone_electricitymaps.csv")):
        for r in table(name):
            put(r["name"], kind, r)
    return index


_ALIASES = {"quebec": "CA-QC", "usa": "USA", "uk": "GB", "unitedstatesofamerica": "USA"}


def region_intensity(region: str) -> Factor:
    key = norm(region)
    if key in _ALIASES:
        key = norm(_ALIASES[key])
    hit = _region_index().get(key)
    if hit is None:
        raise unknown("region", region, region_names(), "see 'wattprint regions'")
    kind, row = hit
    return {"state": _state_factor, "country": _country_factor, "zone": _zone_factor}[kind](row, str(region))


def region_names() -> list[str]:
    names = ["US-" + r["state"] for r in table("grid_us_state_egrid.csv")]
    names += [r["iso2"] for r in table("grid_country_ember.csv") if r["iso2"]]
    names += [r["name"] for r in table("grid_country_ember.csv")]
    names += [r["zone"] for r in table("grid_zone_electricitymaps.csv")]
    return names


_PROVIDERS = {"gcp": "gcp", "google": "gcp", "googlecloud": "gcp", "aws": "aws", "amazon": "aws",
              "azure": "azure", "microsoft": "azure"}


def split_cloud(cloud: str) -> tuple[str, str]:
    provider, sep, region = str(cloud).partition(":")
    p = _PROVIDERS.get(norm(provider))
    if not sep or p is None or not region.strip():
        raise UsageError(f"cloud {shown(cloud)}: write PROVIDER:REGION, e.g. gcp:us-central1, aws:us-east-1, azure:eastus")
    return p, region.strip()


def cloud_region(cloud: str) -> dict:
    provider, region = split_cloud(cloud)
    rows = [r for r in table("cloud_regions.csv") if r["provider"] == provider]
    for r in rows:
        if norm(r["region"]) == norm(region):
            return r
    raise unknown(f"{provider} region", region, [r["region"] for r in rows], "see 'wattprint regions " + provider + "'")


def cloud_intensity(cloud: str) -> Factor:
    """Provider-published factor first, then the region's grid zone, then CCF, then the country."""
    r = cloud_region(cloud)
    name = f"{r['provider']}:{r['region']}"
    if r["provider_gco2e_per_kwh"]:
        return Factor(float(r["provider_gco2e_per_kwh"]), "g/kWh",
                      f"Google Cloud region carbon data {r['provider_year']} (location-based grid factor)",
                      "https://github.com/GoogleCloudPlatform/region-carbon-info", year_of(r["provider_year"]),
                      "operational", note=f"carbon-free energy {r['provider_cfe_pct']}%" if r["provider_cfe_pct"] else "",
                      name=name)
    if r["zone"]:
        for z in table("grid_zone_electricitymaps.csv"):
            if z["zone"] == r["zone"]:
                return replace(_zone_factor(z, name),
                               note=f"{r['provider']} publishes no factor; grid zone of {r['name']}")
    if r["ccf_gco2e_per_kwh"]:
        return Factor(float(r["ccf_gco2e_per_kwh"]), "g/kWh", "Cloud Carbon Footprint emission factor",
                      "https://github.com/cloud-carbon-footprint/cloud-carbon-footprint", None, "mixed",
                      note="about 2020-2021", name=name)
    if r["country_iso2"]:
        return replace(region_intensity(r["country_iso2"]), note="country average", name=name)
    raise UsageError(f"no carbon intensity known for {name}; pass {opt('intensity')}")


def resolve_intensity(*, region=None, cloud=None, intensity=None) -> Factor | None:
    """Gross grid intensity in g CO2e/kWh, or None when no location is given (never invented)."""
    given = [k for k, v in (("region", region), ("cloud", cloud), ("intensity", intensity)) if v not in (None, "")]
    if len(given) > 1:
        raise UsageError(f"give one of {_n('region')}, {_n('cloud')} or {_n('intensity')}, not "
                         f"{' and '.join(_n(k) for k in given)}")
    if intensity not in (None, ""):
        return Factor(parse_intensity(intensity, _n("intensity")), "g/kWh", f"given by the user ({_n('intensity')})",
                      "", None, None,
                      name=str(intensity))
    if region not in (None, ""):
        return region_intensity(region)
    if cloud not in (None, ""):
        return cloud_intensity(cloud)
    return None


# (kind, table, key of a row, source, scope) of the grid tables, as 'wattprint regions' lists them
_GRIDS = (("country", "grid_country_ember.csv", lambda r: r["iso2"] or r["iso3"], "Ember", "lifecycle"),
          ("us-state", "grid_us_state_egrid.csv", lambda r: "US-" + r["state"], "US EPA eGRID", "direct"),
          ("zone", "grid_zone_electricitymaps.csv", lambda r: r["zone"], "Electricity Maps (ODbL)", "lifecycle"))


def region_list(query: str | None = None) -> list[dict]:
    """Grids and cloud regions known, as dicts (kind, key, name, gco2e_per_kwh, source, year, scope);
    ``query`` keeps those whose key or name contains it, or whose kind or provider it names."""
    q = norm(query) if query else ""
    if query and not q:  # nothing the tables spell (e.g. '日本'): no match, not everything
        return []
    out = []
    for kind, name, key_of, source, scope in _GRIDS:
        for r in table(name):
            key = key_of(r)
            if not q or q in norm(key) or q in norm(r["name"]) or q == norm(kind):
                out.append({"kind": kind, "key": key, "name": r["name"], "gco2e_per_kwh": float(r["gco2e_per_kwh"]),
                            "source": source, "year": r["year"], "scope": scope})
    for r in table("cloud_regions.csv"):
        key = f"{r['provider']}:{r['region']}"
        if not q or q in norm(key) or q in norm(r["name"]) or q == norm(r["provider"]) or q == "cloud":
            f = cloud_intensity(key)
            out.append({"kind": "cloud", "key": key, "name": r["name"], "gco2e_per_kwh": f.value,
                        "source": f.source, "year": f.year, "scope": f.scope})
    return out


# ---------------------------------------------------------------- PUE

ASSUMED_PUE = Factor(1.0, "ratio", "assumed: no data centre given", "", None, None, name="none")


def _assumed_pue() -> Factor:
    return replace(ASSUMED_PUE, note=f"pass {opt('pue')} (number or 'strubell2019' / 'industry') or "
                                     f"{opt('provider')} / {opt('cloud')}")


def _pue_factor(row: dict) -> Factor:
    return Factor(float(row["pue"]), "ratio", row["source"], row["url"], year_of(row["year"]), row["scope"],
                  note=row["note"], name=row["key"])


def resolve_pue(*, pue=None, provider=None, cloud=None) -> Factor:
    """A number, a preset name, a provider's fleet average or a cloud region's PUE; 1.0 stated when none."""
    rows = {r["key"]: r for r in table("pue.csv")}
    if pue not in (None, ""):
        if isinstance(pue, str) and pue.strip().lower() in rows:
            return _pue_factor(rows[pue.strip().lower()])
        try:
            value = float(pue)
        except (TypeError, ValueError):
            presets = [k for k, r in rows.items() if r["scope"] == "preset"]
            raise UsageError(f"{_n('pue')} {shown(pue)}: give a number >= 1 or a preset ({', '.join(presets)})") from None
        check_range(value, _n("pue"), MAX_PUE, why="the worst data centres measured are near 3")
        if value < 1:
            raise UsageError(f"{_n('pue')}: must be 1 or more (facility energy / IT energy), got {exact(value)}")
        return Factor(value, "ratio", f"given by the user ({_n('pue')})", "", None, None, name=str(pue))
    if cloud not in (None, ""):
        p, region = split_cloud(cloud)
        cloud_region(cloud)  # unknown region -> error with close matches
        if provider not in (None, "") and _PROVIDERS.get(norm(provider)) != p:
            raise UsageError(f"provider {shown(provider)} does not match cloud {shown(cloud)}; drop {_n('provider')}")
        key = f"{p}:{region}"
        if key in rows:
            return _pue_factor(rows[key])
        provider = provider or p
    if provider not in (None, ""):
        p = _PROVIDERS.get(norm(provider))
        if p is None or p not in rows:
            raise unknown("provider", provider, ["gcp", "aws", "azure"], f"or pass {opt('pue')}")
        return _pue_factor(rows[p])
    return _assumed_pue()


# ---------------------------------------------------------------- comparisons, mixes

COMPARE = ["FR", "SE", "CA-QC", "gcp:us-central1", "US", "DE", "AU", "IN", "CN", "PL"]


def compare_regions(n: int = 8) -> list[tuple[str, Factor]]:
    """A fixed set of well-known grids, low to high, for 'had you trained in ...' lines."""
    return [(key, cloud_intensity(key) if ":" in key else region_intensity(key)) for key in COMPARE[:n]]


def energy_mix(name: str) -> dict:
    """Current generation mix of a country (OWID/Ember), or a row of Strubell et al.'s Table 2."""
    for r in table("energy_mix_strubell2019.csv"):
        if norm(name) in (norm(r["entity"]), norm("strubell2019" + r["entity"])):
            return dict(r, source="Strubell et al. 2019 Table 2")
    k = norm(name)
    for r in table("energy_mix_country_owid.csv"):
        if k in (norm(r["iso2"]), norm(r["iso3"]), norm(r["name"])):
            return dict(r, source="Our World in Data / Ember, via CodeCarbon")
    raise unknown("country", name, [r["name"] for r in table("energy_mix_country_owid.csv")], "energy mix")


# ---------------------------------------------------------------- embodied (accelerators and prices: datasets_hw.py)

def embodied_for(model: str | None) -> tuple[Factor, float] | None:
    """(kg CO2e per card, lifetime years) for an accelerators.csv model; None when not in the table."""
    for r in table("embodied.csv"):
        if model and r["accelerator"] == model:
            return _embodied_factor(r), float(r["lifetime_years"])
    return None


def embodied_default(key: str) -> tuple[Factor, float]:
    for r in table("embodied.csv"):
        if r["default"] == key:
            return _embodied_factor(r), float(r["lifetime_years"])
    raise KeyError(key)


def embodied_server() -> tuple[Factor, float]:
    """A base rack server's (Cloud Carbon Footprint): the host of a run without accelerators."""
    for r in table("embodied.csv"):
        if r["scope"] == "server" and r["item"].startswith("base rack server"):
            return _embodied_factor(r), float(r["lifetime_years"])
    raise KeyError("base rack server")


def _embodied_factor(r: dict) -> Factor:
    return Factor(float(r["value"]), "kg CO2e", r["source"], "", None, "cradle-to-gate",
                  note=f"{r['item']}; {r['note']}".strip("; "), name=r["item"])


# ---------------------------------------------------------------- equivalents

def equivalents(which: str | None = None) -> list[dict]:
    return [dict(r, value=float(r["value"]), year=year_of(r["year"]))
            for r in table("equivalents.csv") if which is None or r["table"] == which]


def equivalent(key: str) -> dict:
    for e in equivalents():
        if e["key"] == key:
            return e
    raise KeyError(key)
