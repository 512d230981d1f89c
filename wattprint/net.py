"""Net (market-based) CO2e: the intensity a footprint's ``co2e_net_kg`` uses.

A number the user gives (``net_intensity``) wins. Otherwise, for a cloud region whose provider
publishes an hourly carbon-free-energy share beside its location-based factor (Google's region
data), the net intensity is that factor x (1 - share): Patterson et al. (2021) report gross and
net CO2e this way. Location-based CO2e stays the headline figure; the net one is labelled
market-based wherever it is shown.
"""
from __future__ import annotations

from . import datasets
from .fmt import name, opt
from .units import parse_intensity

PATTERSON = "Patterson et al. 2021, arXiv:2104.10350"


def net_factor(net_intensity, cloud, gross) -> dict | None:
    """The net intensity as a source dict (factor 'net_intensity', scope 'market-based'), or None."""
    if net_intensity not in (None, ""):
        return {"factor": "net_intensity", "value": parse_intensity(net_intensity, name("net_intensity")), "unit": "g/kWh",
                "source": f"given by the user ({opt('net_intensity').rstrip('=')})", "url": "", "year": None, "scope": "market-based", "name": "",
                "note": ""}
    if gross is None or cloud in (None, "") or gross.scope != "operational":
        return None  # only a provider's own location-based factor comes with its carbon-free share
    row = datasets.cloud_region(cloud)
    cfe = (row.get("provider_cfe_pct") or "").strip()
    if not cfe:
        return None
    share = float(cfe) / 100.0
    return {"factor": "net_intensity", "value": gross.value * (1.0 - share), "unit": "g/kWh",
            "source": (f"Google Cloud region carbon data {row['provider_year']}: location-based factor x "
                       f"(1 - carbon-free energy {cfe} %), net CO2e as in {PATTERSON}"),
            "url": "https://github.com/GoogleCloudPlatform/region-carbon-info",
            "year": int(row["provider_year"]) if str(row.get("provider_year", "")).isdigit() else None,
            "scope": "market-based", "name": f"{row['provider']}:{row['region']}",
            "note": f"market-based: {gross.value:g} g/kWh x {1 - share:.2f}; location-based CO2e stays the headline"}
