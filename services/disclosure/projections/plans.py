"""Plans as disclosed (抽查计划): each published edition with the reason of its adjustment,
the ratio computation and the floor overrides, and the modes' names (the office keeps the
list of modes; the planner's stream carries it)."""

from __future__ import annotations

from typing import Any

import asyncpg

from libs.common.envelope import InboundEvent
from services.disclosure.domain.plans import public_changes, public_coverage, public_overrides

DDL = [
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS number text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS programme text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS content jsonb NOT NULL DEFAULT '{{}}'",
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS edition int NOT NULL DEFAULT 0",
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS floor_overrides jsonb NOT NULL "
    "DEFAULT '[]'",
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS coverage jsonb NOT NULL DEFAULT '[]'",
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS adjusted_at timestamptz",
    # 批次顺序: the announced drawing and, once drawn, the order (planner batch_order.py).
    "ALTER TABLE {schema}.plans ADD COLUMN IF NOT EXISTS batch_order jsonb",
    """CREATE TABLE IF NOT EXISTS {schema}.plan_modes (
        code text PRIMARY KEY, name text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.plan_versions (
        plan_id uuid NOT NULL, edition int NOT NULL, published_at timestamptz NOT NULL,
        reason text NOT NULL, approved_by text NOT NULL, changes jsonb NOT NULL,
        floor_overrides jsonb NOT NULL, coverage jsonb NOT NULL, plan jsonb NOT NULL,
        PRIMARY KEY (plan_id, edition))""",
]
# What an edition says, as stored in plan_versions.plan.
SNAPSHOT = (
    "title",
    "mode",
    "programme",
    "content",
    "initiating_department",
    "participating_departments",
    "items",
    "batches",
)


async def _version(
    conn: asyncpg.Connection,
    ev: InboundEvent,
    edition: int,
    reason: str,
    approved_by: str,
    changes: list[dict[str, Any]],
) -> None:
    row = await conn.fetchrow(
        f"SELECT {', '.join(SNAPSHOT)}, floor_overrides, coverage FROM disclosure.plans "
        "WHERE plan_id = $1",
        ev.subject,
    )
    if row is None:
        return
    await conn.execute(
        """INSERT INTO disclosure.plan_versions (plan_id, edition, published_at, reason,
           approved_by, changes, floor_overrides, coverage, plan)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING""",
        ev.subject,
        edition,
        ev.time,
        reason,
        approved_by,
        changes,
        row["floor_overrides"],
        row["coverage"],
        {k: row[k] for k in SNAPSHOT},
    )


async def apply_plan(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Plan events: kept from creation, shown once published, each edition kept."""
    d = ev.data
    if ev.name == "PlanModeDefined":
        await conn.execute(
            "INSERT INTO disclosure.plan_modes (code, name) VALUES ($1, $2) "
            "ON CONFLICT (code) DO NOTHING",
            d["code"],
            d["name"],
        )
    elif ev.name == "PlanCreated":
        await conn.execute(
            """INSERT INTO disclosure.plans (plan_id, year, title, mode, initiating_department,
               participating_departments, items, batches, number, programme, content)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (plan_id) DO NOTHING""",
            ev.subject,
            d["year"],
            d["title"],
            d["mode"],
            d["initiating_department"],
            d["participating_departments"],
            d["items"],
            d["batches"],
            d.get("number", ""),
            d.get("programme", ""),
            d.get("content") or {},
        )
    elif ev.name == "PlanPublished":
        done = await conn.execute(
            """UPDATE disclosure.plans SET published_at = $2, edition = 1,
               floor_overrides = $3, coverage = $4 WHERE plan_id = $1 AND edition = 0""",
            ev.subject,
            ev.time,
            public_overrides(d.get("floor_overrides") or {}),
            public_coverage(d.get("coverage") or {}),
        )
        if done != "UPDATE 0":
            await _version(conn, ev, 1, "", "", [])
    elif ev.name == "BatchOrderAnnounced":
        await conn.execute(
            "UPDATE disclosure.plans SET batch_order = $2 WHERE plan_id = $1 "
            "AND batch_order IS NULL",
            ev.subject,
            {**d["announcement"], "announcement_hash": d["announcement_hash"]},
        )
    elif ev.name == "BatchOrderDrawn":
        await conn.execute(
            "UPDATE disclosure.plans SET batch_order = batch_order || $2::jsonb WHERE plan_id = $1",
            ev.subject,
            {"numbers": d["numbers"], "order": d["order"], "drawn_at": d["drawn_at"]},
        )
    elif ev.name == "PlanAdjusted":
        done = await conn.execute(
            """UPDATE disclosure.plans SET title = $2, programme = $3, content = $4,
               participating_departments = $5, items = $6, batches = $7, edition = $8,
               floor_overrides = $9, coverage = $10, adjusted_at = $11
               WHERE plan_id = $1 AND edition < $8""",
            ev.subject,
            d["title"],
            d["programme"],
            d["content"],
            d["participating_departments"],
            d["items"],
            d["batches"],
            d["edition"],
            public_overrides(d["floor_overrides"]),
            public_coverage(d["coverage"]),
            ev.time,
        )
        if done != "UPDATE 0":
            await _version(
                conn, ev, d["edition"], d["reason"], d["approved_by"], public_changes(d["changes"])
            )
