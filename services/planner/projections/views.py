"""The planner's read models: registry items (to plan with) and its own plans."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items (
        item_id uuid PRIMARY KEY, code text UNIQUE NOT NULL, department text NOT NULL,
        name text NOT NULL, category text NOT NULL, ratio double precision NOT NULL,
        published boolean NOT NULL DEFAULT false)""",
    """CREATE TABLE IF NOT EXISTS {schema}.plans (
        plan_id uuid PRIMARY KEY, year int NOT NULL, title text NOT NULL, mode text NOT NULL,
        initiating_department text NOT NULL, participating_departments jsonb NOT NULL,
        items jsonb NOT NULL, batches jsonb NOT NULL, published_on date,
        created_at timestamptz NOT NULL, version int NOT NULL)""",
]


async def apply_registry(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Items and whether they are published."""
    d = ev.data
    if ev.name == "ItemRegistered":
        await conn.execute(
            """INSERT INTO planner.items (item_id, code, department, name, category, ratio)
               VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (item_id) DO NOTHING""",
            ev.subject,
            d["code"],
            d["department"],
            d["name"],
            d["category"],
            d["ratio"],
        )
    elif ev.name in ("ItemPublished", "ItemWithdrawn"):
        await conn.execute(
            "UPDATE planner.items SET published = $2 WHERE item_id = $1",
            ev.subject,
            ev.name == "ItemPublished",
        )
    elif ev.name == "ItemChanged":
        changes = d["changes"]
        await conn.execute(
            """UPDATE planner.items SET name = coalesce($2, name),
               category = coalesce($3, category), ratio = coalesce($4, ratio)
               WHERE item_id = $1""",
            ev.subject,
            changes.get("name"),
            changes.get("category"),
            changes.get("ratio"),
        )


async def apply_own(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """The planner's own plans, for listing."""
    d = ev.data
    if ev.name == "PlanCreated":
        await conn.execute(
            """INSERT INTO planner.plans (plan_id, year, title, mode, initiating_department,
               participating_departments, items, batches, created_at, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (plan_id) DO NOTHING""",
            ev.subject,
            d["year"],
            d["title"],
            d["mode"],
            d["initiating_department"],
            d["participating_departments"],
            d["items"],
            d["batches"],
            ev.time,
            ev.aggregate_version,
        )
    elif ev.name == "PlanPublished":
        await conn.execute(
            """UPDATE planner.plans SET published_on = $2::text::date, version = $3
               WHERE plan_id = $1""",
            ev.subject,
            d["published_on"],
            ev.aggregate_version,
        )
