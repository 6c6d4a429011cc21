"""GB/T 2260 administrative division codes (行政区划代码), from ``data/regions.csv``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from services.registry.domain.errors import InvalidRecord


@dataclass(frozen=True)
class Region:
    """One division: province (省), city (市) or county-level (县级) unit."""

    code: str
    name: str
    level: str
    parent: str


@cache
def regions() -> dict[str, Region]:
    """The shipped code table, loaded once."""
    path = resources.files("services.registry.data").joinpath("regions.csv")
    with path.open(encoding="utf-8") as f:
        return {row["code"]: Region(**row) for row in csv.DictReader(f)}


def require_region(code: str, *, county_level: bool = False) -> Region:
    """The division with this code; an unknown (or, if asked, non-county) code is invalid."""
    region = regions().get(code)
    if region is None:
        raise InvalidRecord(f"unknown region code {code!r} (GB/T 2260)")
    if county_level and region.level != "county":
        raise InvalidRecord(
            f"region {code} ({region.name}) is a {region.level}; a county-level code is needed"
        )
    return region
