"""The registry's read model of the department register 部门名录 (for listing).

Writes never decide from this table: they read the Department aggregates from the event
store (``RegistryApplication.departments_active``), so the table's lag cannot let an
unknown department through or refuse one registered a moment ago.
"""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

COLUMNS = ("name", "level", "region_code", "parent", "active")
DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.departments_view (
        code text PRIMARY KEY, id uuid UNIQUE NOT NULL, name text NOT NULL,
        level text NOT NULL, region_code text NOT NULL, parent text NOT NULL,
        active boolean NOT NULL, version int NOT NULL)""",
]


async def apply(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Apply one Department event; applying one again changes nothing."""
    d = ev.data
    if ev.name == "DepartmentRegistered":
        await conn.execute(
            """INSERT INTO registry.departments_view
               (code, id, name, level, region_code, parent, active, version)
               VALUES ($1, $2, $3, $4, $5, $6, true, $7) ON CONFLICT (code) DO NOTHING""",
            d["code"],
            ev.subject,
            d["name"],
            d["level"],
            d["region_code"],
            d.get("parent", ""),
            ev.aggregate_version,
        )
    elif ev.name == "DepartmentChanged":
        changes = {k: v for k, v in d["changes"].items() if k in COLUMNS}
        sets = "".join(f", {k} = ${n}" for n, k in enumerate(changes, start=3))
        await conn.execute(
            f"UPDATE registry.departments_view SET version = $2{sets} "
            "WHERE id = $1 AND version < $2",
            ev.subject,
            ev.aggregate_version,
            *changes.values(),
        )
