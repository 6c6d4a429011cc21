"""The planner's read models: the registry's items (to plan with) and its own plans.

Both are built from streams, the planner's own included, the same way another service
would build them; the registry's tables are never read.
"""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent
from services.planner.domain.batches import batch_with_defaults

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items_view (
        item_id uuid PRIMARY KEY, code text UNIQUE NOT NULL, department text NOT NULL,
        name text NOT NULL, category text NOT NULL, ratio double precision NOT NULL,
        methods jsonb NOT NULL, legal_basis text NOT NULL, subject_kinds jsonb NOT NULL,
        published boolean NOT NULL DEFAULT false, version int NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.plans_view (
        plan_id uuid PRIMARY KEY, year int NOT NULL, title text NOT NULL, mode text NOT NULL,
        initiating_department text NOT NULL, participating_departments jsonb NOT NULL,
        items jsonb NOT NULL, batches jsonb NOT NULL, published_on date,
        created_at timestamptz NOT NULL, version int NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS plans_view_year ON {schema}.plans_view (year)",
]
# ItemChanged fields the planner keeps (the rest of an item does not matter to plans).
_ITEM_CHANGES = ("name", "category", "ratio", "methods", "legal_basis", "subject_kinds")


async def apply_registry(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Registry items and whether they are published (only those can be planned). The
    department register is kept by the shared ``register`` consumer
    (:func:`libs.common.departments.register_consumer`)."""
    d = ev.data
    if ev.name == "ItemRegistered":
        await conn.execute(
            """INSERT INTO planner.items_view (item_id, code, department, name, category,
               ratio, methods, legal_basis, subject_kinds, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (item_id) DO NOTHING""",
            ev.subject,
            d["code"],
            d["department"],
            d["name"],
            d["category"],
            d["ratio"],
            d["methods"],
            d["legal_basis"],
            d["subject_kinds"],
            ev.aggregate_version,
        )
    elif ev.name in ("ItemPublished", "ItemWithdrawn"):
        await conn.execute(
            "UPDATE planner.items_view SET published = $2, version = $3 WHERE item_id = $1",
            ev.subject,
            ev.name == "ItemPublished",
            ev.aggregate_version,
        )
    elif ev.name == "ItemChanged":
        changes = {k: v for k, v in d["changes"].items() if k in _ITEM_CHANGES}
        sets = "".join(f", {k} = ${n}" for n, k in enumerate(changes, start=3))
        await conn.execute(
            f"UPDATE planner.items_view SET version = $2{sets} WHERE item_id = $1",
            ev.subject,
            ev.aggregate_version,
            *changes.values(),
        )


async def apply_own(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """The planner's own plans, for listing and reading."""
    d = ev.data
    if ev.name == "PlanCreated":
        await conn.execute(
            """INSERT INTO planner.plans_view (plan_id, year, title, mode,
               initiating_department, participating_departments, items, batches, created_at,
               version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
               ON CONFLICT (plan_id) DO NOTHING""",
            ev.subject,
            d["year"],
            d["title"],
            d["mode"],
            d["initiating_department"],
            d["participating_departments"],
            d["items"],
            [batch_with_defaults(b) for b in d["batches"]],
            ev.time,
            ev.aggregate_version,
        )
    elif ev.name == "PlanPublished":
        await conn.execute(
            """UPDATE planner.plans_view SET published_on = $2::text::date, version = $3
               WHERE plan_id = $1""",
            ev.subject,
            d["published_on"],
            ev.aggregate_version,
        )
