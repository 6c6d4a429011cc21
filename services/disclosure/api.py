"""Public API (一公开): no token needed, only disclosed fields.

Every answer is built by the allow-lists of ``domain/public.py``: a column or event field
that is not listed there never leaves this service (docs/api.md lists them in words).
Lists are paginated by keyset (``limit``, ``after``, ``Link: rel="next"``); ``offset`` is
still read for readers written before.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response

from libs.common.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    Offset,
    decode_cursor,
    keyset_page,
    page,
)
from libs.common.problems import Problem
from libs.common.service import pool
from libs.common.text import Code
from services.disclosure.answers import (
    ItemVersions,
    PlanEditions,
    PublicDraw,
    PublicItem,
    PublicPlan,
)
from services.disclosure.domain.days import InvalidDay, end_of_day
from services.disclosure.domain.public import (
    MODE_TEXT,
    OVERDUE_AFTER,
    public_draw,
)
from services.disclosure.links import proof_url
from services.disclosure.public_sql import fetch_items

router = APIRouter(prefix="/v1/public", tags=["public"])


def _paged(
    rows: list[Any],
    request: Request,
    response: Response,
    offset: int,
    limit: int,
    after: str | None,
    key: tuple[str, ...],
) -> list[Any]:
    """Keyset pages (the Link names the next page by its first row's key), or the offset
    pages of before for a reader still asking by offset."""
    if offset and not after:
        return page(rows, request, response, offset=offset, limit=limit)
    return keyset_page(rows, request, response, limit=limit, key=lambda r: [r[k] for k in key])


Pool = Annotated[asyncpg.Pool, Depends(pool)]


@router.get(
    "/items",
    response_model=list[PublicItem],
    summary="Published random-inspection item list 随机抽查事项清单",
    responses={422: {"description": "a day outside 2000–2100, a forged cursor"}},
)
async def items(
    request: Request,
    response: Response,
    db: Pool,
    department: Code | None = None,
    on: date | None = Query(
        None,
        description="the list as it stood at the end of this day (Beijing time); "
        "published_at is then when the version shown took effect",
    ),
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    after: Cursor = None,
) -> list[dict[str, Any]]:
    """Every published item, by department and code: as it stands, or as it stood on a
    day."""
    try:
        until = end_of_day(on) if on is not None else None
    except InvalidDay as exc:
        raise Problem(422, "Invalid day", f"on: {exc}") from exc
    rows = await fetch_items(
        db,
        department=department,
        until=until,
        limit=limit + 1,
        offset=offset,
        after=decode_cursor(after, (str, str, UUID)) if after else None,
    )
    shown = _paged(rows, request, response, offset, limit, after, ("department", "code", "item_id"))
    return [{k: v for k, v in r.items() if k != "item_id"} for r in shown]


@router.get(
    "/items/{department}/{code}/versions",
    response_model=ItemVersions,
    summary="Every version of a published item 抽查事项的历次版本",
    responses={404: {"description": "no item of that department and code was ever published"}},
)
async def item_versions(department: Code, code: Code, db: Pool) -> dict[str, Any]:
    """The item from its first publication on: each version with when it took effect, its
    terms, and whether it was published then (a withdrawal is a version too)."""
    rows = await db.fetch(
        """SELECT version, at, name, category, ratio, methods, legal_basis, published
             FROM disclosure.item_versions v
            WHERE department = $1 AND code = $2 AND version >= (
                  SELECT min(version) FROM disclosure.item_versions f
                   WHERE f.item_id = v.item_id AND f.published)
            ORDER BY item_id, version""",
        department,
        code,
    )
    if not rows:
        raise Problem(404, "Not found", f"no published item {department}/{code}")
    return {"department": department, "code": code, "versions": [dict(r) for r in rows]}


@router.get(
    "/plans",
    response_model=list[PublicPlan],
    response_model_exclude_unset=True,
    summary="Published plans 抽查计划",
)
async def plans(
    request: Request,
    response: Response,
    db: Pool,
    year: int | None = Query(None, ge=2000, le=2100),
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    after: Cursor = None,
) -> list[dict[str, Any]]:
    """Published plans as they stand (their latest edition), with their numbers, batches
    (each with its task number), items, the share of each item's subjects they inspect and
    the floor overrides the office recorded."""
    rows = await db.fetch(
        """SELECT p.plan_id, p.number, p.year, p.title, p.mode, m.name AS mode_name,
                  p.programme, p.content, p.initiating_department, p.participating_departments,
                  p.items, p.batches, p.edition, p.floor_overrides, p.coverage,
                  p.batch_order, p.published_at, p.adjusted_at
           FROM disclosure.plans p LEFT JOIN disclosure.plan_modes m ON m.code = p.mode
           WHERE p.published_at IS NOT NULL
             AND ($1::int IS NULL OR p.year = $1)
             AND ($4::timestamptz IS NULL OR (p.published_at, p.plan_id) > ($4, $5::uuid))
           ORDER BY p.published_at, p.plan_id
           LIMIT $2 OFFSET $3""",
        year,
        limit + 1,
        offset,
        *(decode_cursor(after, (datetime.fromisoformat, UUID)) if after else [None, None]),
    )
    shown = _paged(rows, request, response, offset, limit, after, ("published_at", "plan_id"))
    out = []
    for row in shown:
        plan = dict(row)
        name = plan.pop("mode_name")
        out.append({**plan, "mode_text": name or MODE_TEXT.get(plan["mode"], plan["mode"])})
    return out


@router.get(
    "/plans/{plan_id}/versions",
    response_model=PlanEditions,
    response_model_exclude_unset=True,
    summary="Every published edition of a plan, with the reason of each adjustment",
)
async def plan_versions(plan_id: UUID, db: Pool) -> dict[str, Any]:
    """调整后的年度抽查计划要及时向社会公开: edition 1 as first published, then each
    adjustment with its reason, who approved it, what changed and the plan as it then
    stood."""
    rows = await db.fetch(
        """SELECT edition, published_at, reason, approved_by, changes, floor_overrides,
                  coverage, plan
           FROM disclosure.plan_versions WHERE plan_id = $1 ORDER BY edition""",
        plan_id,
    )
    if not rows:
        raise Problem(404, "Not found", f"no published plan {plan_id}")
    return {"plan_id": str(plan_id), "editions": [dict(r) for r in rows]}


# A draw's state as public_draw names it (domain.public.draw_status), in SQL ($5: seconds
# after its entropy was due that an unexecuted draw becomes overdue).
STATUS_SQL = """(CASE WHEN executed_at IS NOT NULL THEN 'executed'
        WHEN voided_at IS NOT NULL THEN 'voided'
        WHEN entropy_not_before IS NOT NULL AND entropy_not_before::timestamptz
             + make_interval(secs => $5) < now() THEN 'overdue'
        ELSE 'announced' END)"""


@router.get(
    "/draws",
    response_model=list[PublicDraw],
    summary="Announced and executed draws 抽取公告与结果",
)
async def draws(
    request: Request,
    response: Response,
    db: Pool,
    plan_id: UUID | None = None,
    status: Literal["announced", "executed", "voided", "overdue"] | None = Query(
        None,
        description="only draws in this state; overdue: announced, neither executed nor "
        "voided a day after its entropy was due (逾期未抽取)",
    ),
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    after: Cursor = None,
) -> list[dict[str, Any]]:
    """Draws from their announcement on: pool hash, commitment and entropy source first,
    then secret, entropy, seed and the drawn subjects, so anyone can verify them.
    Replacements (递补) show the code of their reason only."""
    rows = await db.fetch(
        f"""SELECT * FROM disclosure.public_draws
            WHERE ($1::uuid IS NULL OR plan_id = $1) AND ($2::text IS NULL OR {STATUS_SQL} = $2)
              AND ($6::timestamptz IS NULL OR (announced_at, draw_id) > ($6, $7::uuid))
            ORDER BY announced_at, draw_id LIMIT $3 OFFSET $4""",
        plan_id,
        status,
        limit + 1,
        offset,
        OVERDUE_AFTER.total_seconds(),
        *(decode_cursor(after, (datetime.fromisoformat, UUID)) if after else [None, None]),
    )
    shown = _paged(rows, request, response, offset, limit, after, ("announced_at", "draw_id"))
    return [{**public_draw(r), "proof_url": proof_url(r["draw_id"])} for r in shown]


@router.get("/draws/{draw_id}", response_model=PublicDraw, summary="One draw")
async def draw(draw_id: UUID, db: Pool) -> dict[str, Any]:
    """One draw, as disclosed."""
    row = await db.fetchrow("SELECT * FROM disclosure.public_draws WHERE draw_id = $1", draw_id)
    if row is None:
        raise Problem(404, "Not found", f"no disclosed draw {draw_id}")
    return {**public_draw(row), "proof_url": proof_url(row["draw_id"])}
