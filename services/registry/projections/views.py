"""The registry's own read models, built from its own stream (same path as other services)."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent
from services.registry.domain.items import CHANGEABLE as ITEM_FIELDS

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items_view (
        code text PRIMARY KEY, id uuid UNIQUE NOT NULL, department text NOT NULL,
        name text NOT NULL, sub_items jsonb NOT NULL, legal_basis text NOT NULL,
        subject_kinds jsonb NOT NULL, content text NOT NULL, methods jsonb NOT NULL,
        category text NOT NULL, ratio double precision NOT NULL,
        frequency_per_year int NOT NULL, inspector_requirements text NOT NULL,
        internet_plus_code text NOT NULL, check_form jsonb NOT NULL,
        published boolean NOT NULL DEFAULT false, version int NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.subjects_view (
        id uuid PRIMARY KEY, identifier text UNIQUE NOT NULL, kind text NOT NULL,
        name text NOT NULL, region_code text NOT NULL, industry text NOT NULL,
        risk_class text NOT NULL, status text NOT NULL, departments jsonb NOT NULL,
        version int NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS subjects_view_region ON {schema}.subjects_view (region_code)",
    """CREATE TABLE IF NOT EXISTS {schema}.inspectors_view (
        id uuid PRIMARY KEY, department text NOT NULL, certificate_no text NOT NULL,
        name text NOT NULL, level text NOT NULL, region_code text NOT NULL,
        categories jsonb NOT NULL, status text NOT NULL, version int NOT NULL)""",
]


async def apply(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Apply one registry event to the registry's read models."""
    d = ev.data
    if ev.name == "ItemRegistered":
        columns = ["code", "id", "version", *ITEM_FIELDS, "department"]
        values = [d["code"], ev.subject, ev.aggregate_version, *(d[f] for f in ITEM_FIELDS)]
        values.append(d["department"])
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO registry.items_view ({', '.join(columns)}) VALUES ({placeholders}) "
            "ON CONFLICT (code) DO NOTHING",
            *values,
        )
    elif ev.name == "ItemChanged":
        changes = {k: v for k, v in d["changes"].items() if k in ITEM_FIELDS}
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
        await conn.execute(
            f"UPDATE registry.items_view SET version = $2, {assignments} WHERE id = $1",
            ev.subject,
            ev.aggregate_version,
            *changes.values(),
        )
    elif ev.name in ("ItemPublished", "ItemWithdrawn"):
        await conn.execute(
            "UPDATE registry.items_view SET published = $3, version = $2 WHERE id = $1",
            ev.subject,
            ev.aggregate_version,
            ev.name == "ItemPublished",
        )
    elif ev.name == "SubjectRegistered":
        await conn.execute(
            """INSERT INTO registry.subjects_view (id, identifier, kind, name, region_code,
               industry, risk_class, status, departments, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (id) DO NOTHING""",
            ev.subject,
            d["identifier"],
            d["kind"],
            d["name"],
            d["region_code"],
            d["industry"],
            d["risk_class"],
            d["status"],
            d["departments"],
            ev.aggregate_version,
        )
    elif ev.name == "InspectorRegistered":
        await conn.execute(
            """INSERT INTO registry.inspectors_view (id, department, certificate_no, name, level,
               region_code, categories, status, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (id) DO NOTHING""",
            ev.subject,
            d["department"],
            d["certificate_no"],
            d["name"],
            d["level"],
            d["region_code"],
            d["categories"],
            d["status"],
            ev.aggregate_version,
        )
