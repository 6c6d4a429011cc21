"""The planner's read models: the registry's items (to plan with) and its own plans.

Both are built from streams, the planner's own included, the same way another service
would build them; the registry's tables are never read.
"""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent
from services.planner.domain.batches import batch_with_defaults
from services.planner.projections.proposals import DDL as PROPOSALS_DDL
from services.planner.projections.proposals import apply_proposal

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
    # The work programme (工作方案) a 专项整治 plan carries out; "" for plans before it.
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS programme text NOT NULL DEFAULT ''",
    # 联查模式: the modes of joint inspection the office keeps (domain/modes.py).
    """CREATE TABLE IF NOT EXISTS {schema}.modes_view (
        code text PRIMARY KEY, name text NOT NULL, needs_programme boolean NOT NULL,
        defined_at timestamptz NOT NULL)""",
    # 抽查计划编号, region, content (000), the proposals merged, the published edition.
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS number text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS region text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS content jsonb NOT NULL "
    "DEFAULT '{{}}'",
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS proposals jsonb NOT NULL "
    "DEFAULT '[]'",
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS edition int NOT NULL DEFAULT 0",
    "ALTER TABLE {schema}.plans_view ADD COLUMN IF NOT EXISTS floor_overrides jsonb NOT NULL "
    "DEFAULT '{{}}'",
    # Batches a draw has been announced for (the draw stream): they no longer change.
    """CREATE TABLE IF NOT EXISTS {schema}.drawn_batches (
        batch_id text PRIMARY KEY, plan_id uuid NOT NULL, draw_id uuid NOT NULL,
        announced_at timestamptz NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS drawn_batches_plan ON {schema}.drawn_batches (plan_id)",
    *PROPOSALS_DDL,
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
    """The planner's own plans and modes, for listing and reading."""
    d = ev.data
    if ev.name == "PlanModeDefined":
        await conn.execute(
            """INSERT INTO planner.modes_view (code, name, needs_programme, defined_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING""",
            d["code"],
            d["name"],
            d["needs_programme"],
            ev.time,
        )
    elif ev.name.startswith("Proposal"):
        await apply_proposal(conn, ev)
    elif ev.name == "PlanCreated":
        await conn.execute(
            """INSERT INTO planner.plans_view (plan_id, year, title, mode,
               initiating_department, participating_departments, items, batches, created_at,
               version, programme, number, region, content, proposals)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
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
            d.get("programme", ""),
            d.get("number", ""),
            d.get("region", ""),
            d.get("content") or {},
            d.get("proposals") or [],
        )
    elif ev.name == "PlanPublished":
        await conn.execute(
            """UPDATE planner.plans_view SET published_on = $2::text::date, version = $3,
               edition = 1, floor_overrides = $4 WHERE plan_id = $1 AND version < $3""",
            ev.subject,
            d["published_on"],
            ev.aggregate_version,
            d.get("floor_overrides") or {},
        )
    elif ev.name == "PlanAdjusted":
        await conn.execute(
            """UPDATE planner.plans_view SET title = $2, programme = $3, content = $4,
               participating_departments = $5, items = $6, batches = $7, edition = $8,
               floor_overrides = $9, version = $10 WHERE plan_id = $1 AND version < $10""",
            ev.subject,
            d["title"],
            d["programme"],
            d["content"],
            d["participating_departments"],
            d["items"],
            d["batches"],
            d["edition"],
            d["floor_overrides"],
            ev.aggregate_version,
        )


async def apply_draw(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Batches drawn: an announced draw fixes its batch (adjustments may only extend it)."""
    if ev.name == "DrawAnnounced":
        await conn.execute(
            """INSERT INTO planner.drawn_batches (batch_id, plan_id, draw_id, announced_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT (batch_id) DO NOTHING""",
            ev.data["batch_id"],
            ev.data["plan_id"],
            ev.subject,
            ev.time,
        )
