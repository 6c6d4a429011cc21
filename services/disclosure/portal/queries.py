"""What the portal's pages read: the same read models and allow-lists as the public API
(domain/public.py, domain/national.py), shaped for a page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.disclosure.domain.public import MODE_TEXT, OUTCOME_TEXT, public_draw
from services.disclosure.public_sql import fetch_items

DRAW_STATUS_TEXT = {
    "announced": "已公告，待抽取",
    "executed": "已抽取",
    "voided": "已作废",
    "overdue": "逾期未抽取",
}
# As the registry's item list and the results service word them (a unit test keeps them
# equal; services do not import each other).
METHOD_TEXT = {
    "on_site": "实地核查",
    "documentary": "书面检查",
    "online": "网络检查",
    "sampling": "抽样检测",
    "expert": "委托专业机构检查",
    "other_department": "采用其他部门或专业机构的结论",
}
# A region's item list is hundreds of items: one page shows it whole.
ITEMS_SHOWN = 10_000
PLAN_COLUMNS = """p.plan_id, p.number, p.year, p.title, p.mode, m.name AS mode_name,
    p.initiating_department, p.participating_departments, p.items, p.batches, p.edition,
    p.published_at, p.adjusted_at"""


def _plan(row: asyncpg.Record) -> dict[str, Any]:
    plan = dict(row)
    plan["mode_text"] = plan.pop("mode_name") or MODE_TEXT.get(plan["mode"], plan["mode"])
    return plan


Before = tuple[datetime, UUID] | None  # the last row of the page before (keyset)


async def recent_plans(db: asyncpg.Pool, limit: int, before: Before = None) -> list[dict[str, Any]]:
    """Published plans, newest first; after ``before`` (its publication time and id)."""
    at, key = before or (None, None)
    rows = await db.fetch(
        f"""SELECT {PLAN_COLUMNS} FROM disclosure.plans p
            LEFT JOIN disclosure.plan_modes m ON m.code = p.mode
            WHERE p.published_at IS NOT NULL
              AND ($2::timestamptz IS NULL OR p.published_at < $2
                   OR (p.published_at = $2 AND p.plan_id > $3))
            ORDER BY p.published_at DESC, p.plan_id LIMIT $1""",
        limit,
        at,
        key,
    )
    return [_plan(r) for r in rows]


async def plan(db: asyncpg.Pool, plan_id: UUID) -> dict[str, Any] | None:
    """One published plan as it stands."""
    row = await db.fetchrow(
        f"""SELECT {PLAN_COLUMNS} FROM disclosure.plans p
            LEFT JOIN disclosure.plan_modes m ON m.code = p.mode
            WHERE p.plan_id = $1 AND p.published_at IS NOT NULL""",
        plan_id,
    )
    return _plan(row) if row else None


async def editions(db: asyncpg.Pool, plan_id: UUID) -> list[dict[str, Any]]:
    """Every published edition of a plan with the reason of its adjustment."""
    rows = await db.fetch(
        """SELECT edition, published_at, reason, approved_by, changes
           FROM disclosure.plan_versions WHERE plan_id = $1 ORDER BY edition""",
        plan_id,
    )
    return [dict(r) for r in rows]


def _draw(row: asyncpg.Record) -> dict[str, Any]:
    draw = public_draw(row)
    draw["status_text"] = DRAW_STATUS_TEXT[draw["status"]]
    # Times as the page shows them (the allow-listed values are ISO text or datetimes).
    draw["announced_at"] = row["announced_at"]
    draw["executed_at"] = row["executed_at"]
    return draw


async def draws(
    db: asyncpg.Pool,
    limit: int,
    plan_id: UUID | None = None,
    identifier: str | None = None,
    before: Before = None,
) -> list[dict[str, Any]]:
    """Disclosed draws, newest first: all, a plan's, or those that drew a subject; after
    ``before`` (its announcement time and id)."""
    at, key = before or (None, None)
    rows = await db.fetch(
        """SELECT * FROM disclosure.public_draws
           WHERE ($1::uuid IS NULL OR plan_id = $1)
             AND ($2::text IS NULL OR subjects @> jsonb_build_array(
                  jsonb_build_object('identifier', $2::text)))
             AND ($4::timestamptz IS NULL OR announced_at < $4
                  OR (announced_at = $4 AND draw_id > $5))
           ORDER BY announced_at DESC, draw_id LIMIT $3""",
        plan_id,
        identifier,
        limit,
        at,
        key,
    )
    return [_draw(r) for r in rows]


async def draw(db: asyncpg.Pool, draw_id: UUID) -> dict[str, Any] | None:
    """One disclosed draw."""
    row = await db.fetchrow("SELECT * FROM disclosure.public_draws WHERE draw_id = $1", draw_id)
    return _draw(row) if row else None


async def items(db: asyncpg.Pool, until: datetime | None = None) -> list[dict[str, Any]]:
    """The published item list, by department and code: as it stands, or as it stood just
    before ``until`` (the query of GET /v1/public/items)."""
    rows = await fetch_items(db, until=until, limit=ITEMS_SHOWN)
    shown = []
    for row in rows:
        item = dict(row)
        item["methods_text"] = "、".join(METHOD_TEXT.get(m, m) for m in item["methods"] or [])
        shown.append(item)
    return shown


async def statistics(db: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """Published results counted by outcome and by 检查机关."""
    outcomes = await db.fetch(
        "SELECT outcome, count(*) AS count FROM disclosure.results GROUP BY outcome "
        "ORDER BY count DESC, outcome"
    )
    departments = await db.fetch(
        """SELECT coalesce(nullif(d.name, ''), r.department) AS authority, count(*) AS count,
                  count(*) FILTER (WHERE r.outcome IN ('problem_corrected', 'problem_pending'))
                      AS problems,
                  count(*) FILTER (WHERE r.late) AS late
           FROM disclosure.results r
           LEFT JOIN disclosure.departments_view d ON d.code = r.department
           GROUP BY 1 ORDER BY count DESC, 1"""
    )
    return {
        "by_outcome": [
            {"text": OUTCOME_TEXT.get(r["outcome"], r["outcome"]), "count": r["count"]}
            for r in outcomes
        ],
        "by_department": [dict(r) for r in departments],
    }
