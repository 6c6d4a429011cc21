"""The registry's own read models, built from its own stream (same path as other services)."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items_view (
        code text PRIMARY KEY, id uuid NOT NULL, department text NOT NULL, name text NOT NULL,
        category text NOT NULL, ratio double precision NOT NULL, methods jsonb NOT NULL,
        legal_basis text NOT NULL, subject_kinds jsonb NOT NULL,
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
        await conn.execute(
            """INSERT INTO registry.items_view (code, id, department, name, category, ratio,
               methods, legal_basis, subject_kinds, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (code) DO NOTHING""",
            d["code"],
            ev.subject,
            d["department"],
            d["name"],
            d["category"],
            d["ratio"],
            d["methods"],
            d["legal_basis"],
            d["subject_kinds"],
            ev.aggregate_version,
        )
    elif ev.name == "ItemPublished":
        await conn.execute(
            "UPDATE registry.items_view SET published = true, version = $2 WHERE id = $1",
            ev.subject,
            ev.aggregate_version,
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
