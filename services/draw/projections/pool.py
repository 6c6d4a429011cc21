"""The draw service's own copy of what it needs from the registry and the planner.

Subjects and inspectors come from registry events, batches from planner events; the draw
never reads another service's tables.
"""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

_POOL_FIELDS = ("name", "region_code", "industry")

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.pool_subjects (
        subject_id uuid PRIMARY KEY, identifier text NOT NULL, name text NOT NULL,
        kind text NOT NULL, region_code text NOT NULL, industry text NOT NULL,
        risk_class text NOT NULL, status text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS pool_subjects_region ON {schema}.pool_subjects (region_code)",
    """CREATE TABLE IF NOT EXISTS {schema}.pool_inspectors (
        inspector_id uuid PRIMARY KEY, name text NOT NULL, department text NOT NULL,
        region_code text NOT NULL, categories jsonb NOT NULL, status text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.conflicts (
        inspector_id uuid NOT NULL, subject_id uuid NOT NULL, active boolean NOT NULL,
        PRIMARY KEY (inspector_id, subject_id))""",
    """CREATE TABLE IF NOT EXISTS {schema}.batches (
        batch_id text PRIMARY KEY, plan_id uuid NOT NULL, year int NOT NULL,
        name text NOT NULL, initiating_department text NOT NULL,
        participating_departments jsonb NOT NULL, items jsonb NOT NULL, pool jsonb NOT NULL,
        ratios jsonb NOT NULL, directed boolean NOT NULL, starts_on date NOT NULL,
        ends_on date NOT NULL, published boolean NOT NULL DEFAULT false)""",
]


async def apply_registry(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Subjects and inspectors, as the pool needs them."""
    d = ev.data
    if ev.name == "SubjectRegistered":
        await conn.execute(
            """INSERT INTO draw.pool_subjects (subject_id, identifier, name, kind, region_code,
               industry, risk_class, status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
               ON CONFLICT (subject_id) DO NOTHING""",
            ev.subject,
            d["identifier"],
            d["name"],
            d["kind"],
            d["region_code"],
            d["industry"],
            d["risk_class"],
            d["status"],
        )
    elif ev.name == "SubjectChanged":
        changes = {k: v for k, v in d["changes"].items() if k in _POOL_FIELDS}
        if changes:
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
            await conn.execute(
                f"UPDATE draw.pool_subjects SET {sets} WHERE subject_id = $1",
                ev.subject,
                *changes.values(),
            )
    elif ev.name == "SubjectStatusChanged":
        await conn.execute(
            "UPDATE draw.pool_subjects SET status = $2 WHERE subject_id = $1",
            ev.subject,
            d["status"],
        )
    elif ev.name == "RiskClassChanged":
        await conn.execute(
            "UPDATE draw.pool_subjects SET risk_class = $2 WHERE subject_id = $1",
            ev.subject,
            d["risk_class"],
        )
    elif ev.name == "InspectorRegistered":
        await conn.execute(
            """INSERT INTO draw.pool_inspectors (inspector_id, name, department, region_code,
               categories, status) VALUES ($1,$2,$3,$4,$5,$6)
               ON CONFLICT (inspector_id) DO NOTHING""",
            ev.subject,
            d["name"],
            d["department"],
            d["region_code"],
            d["categories"],
            d["status"],
        )
    elif ev.name == "InspectorChanged":
        changes = {
            k: v for k, v in d["changes"].items() if k in ("name", "region_code", "categories")
        }
        if changes:
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
            await conn.execute(
                f"UPDATE draw.pool_inspectors SET {sets} WHERE inspector_id = $1",
                ev.subject,
                *changes.values(),
            )
    elif ev.name == "InspectorStatusChanged":
        await conn.execute(
            "UPDATE draw.pool_inspectors SET status = $2 WHERE inspector_id = $1",
            ev.subject,
            d["status"],
        )
    elif ev.name in ("ConflictDeclared", "ConflictLifted"):
        await conn.execute(
            """INSERT INTO draw.conflicts (inspector_id, subject_id, active)
               VALUES ($1, $2, $3) ON CONFLICT (inspector_id, subject_id)
               DO UPDATE SET active = EXCLUDED.active""",
            d["inspector_id"],
            d["subject_id"],
            ev.name == "ConflictDeclared",
        )


async def apply_planner(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Batches of plans; drawable once the plan is published."""
    d = ev.data
    if ev.name == "PlanCreated":
        for batch in d["batches"]:
            await conn.execute(
                """INSERT INTO draw.batches (batch_id, plan_id, year, name,
                   initiating_department, participating_departments, items, pool, ratios,
                   directed, starts_on, ends_on)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::text::date,$12::text::date)
                   ON CONFLICT (batch_id) DO NOTHING""",
                batch["batch_id"],
                ev.subject,
                d["year"],
                batch["name"],
                d["initiating_department"],
                d["participating_departments"],
                d["items"],
                batch["pool"],
                batch["ratios"],
                batch["directed"],
                batch["starts_on"],
                batch["ends_on"],
            )
    elif ev.name == "PlanPublished":
        await conn.execute(
            "UPDATE draw.batches SET published = true WHERE plan_id = $1", ev.subject
        )
