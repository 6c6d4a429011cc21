"""HTTP API of plans (抽查计划): file, publish, adjust and read them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request

from libs.common.problems import Problem
from libs.common.service import await_published, run_command
from libs.common.text import Code
from services.planner.api.answers import (
    CoverageView,
    ItemKnown,
    PlanAdjusted,
    PlanEditions,
    PlanPage,
    PlanPublished,
    PlanRow,
    PlanView,
)
from services.planner.api.deps import App, Counts, Draws, Filer, Office, Pool, Reader
from services.planner.api.models import AdjustmentIn, FloorOverride, PlanIn, PublishIn
from services.planner.domain.batches import batch_with_defaults
from services.planner.domain.plan import Plan

router = APIRouter(prefix="/v1", tags=["plans"])
log = logging.getLogger(__name__)


def plan_view(plan: Plan) -> dict[str, Any]:
    return {
        "id": str(plan.id),
        "version": plan.version,
        "year": plan.year,
        "title": plan.title,
        "mode": plan.mode,
        "programme": plan.programme,
        "number": plan.number,
        "region": plan.region,
        "content": plan.content,
        "proposals": plan.proposals,
        "edition": plan.edition,
        "initiating_department": plan.initiating_department,
        "participating_departments": plan.participating_departments,
        "items": plan.items,
        "batches": plan.batches,
        "published": plan.published,
        "published_on": plan.published_on,
    }


def _row_view(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    plan_id = out.pop("plan_id")
    out["batches"] = [batch_with_defaults(b) for b in out["batches"]]
    return {"id": str(plan_id), **out, "published": out["published_on"] is not None}


@router.post(
    "/plans",
    status_code=201,
    response_model=PlanView,
    response_model_exclude_unset=True,
    summary="File a plan (single-department or joint)",
)
async def create_plan(body: PlanIn, request: Request, who: Filer, app: App, db: Pool) -> Any:
    """File a plan with its batches; every item must be published in the registry."""
    if not who.may_act_for(body.initiating_department):
        raise Problem(
            403, "Forbidden", "only the initiating department or the office files this plan"
        )
    rows = await db.fetch(
        "SELECT * FROM planner.items_view WHERE code = ANY($1::text[])", body.item_codes
    )
    fields = body.model_dump(mode="json", exclude={"item_codes"})
    plan = await run_command(
        request,
        who,
        app.create_plan,
        item_codes=body.item_codes,
        catalogue={r["code"]: dict(r) for r in rows},
        **fields,
    )
    return plan_view(plan)


def overrides(entries: list[FloorOverride]) -> dict[str, str]:
    """Floor overrides by item code (an item named twice: 422)."""
    codes = [e.item_code for e in entries]
    if len(set(codes)) != len(codes):
        raise Problem(422, "Validation failed", "floor_overrides name an item more than once")
    return {e.item_code: e.reason for e in entries}


def _published_view(plan: Plan) -> dict[str, Any]:
    latest = plan.editions[-1]
    return {
        "id": str(plan.id),
        "number": plan.number,
        "published": True,
        "version": plan.version,
        "edition": plan.edition,
        "published_on": latest["published_on"],
        "floor_overrides": plan.floor_overrides,
        "coverage": latest["coverage"],
    }


@router.post(
    "/plans/{plan_id}/publish",
    response_model=PlanPublished,
    response_model_exclude_unset=True,
    summary="Publish a plan (joint-meeting office)",
)
async def publish_plan(
    plan_id: UUID,
    request: Request,
    who: Office,
    app: App,
    count: Counts,
    body: PublishIn | None = None,
) -> Any:
    """The office (联席会议办公室) publishes; the batches become drawable. Once only.

    Before it does, the planner works out (with the registry's counts) the share of each
    item's subjects the plan inspects: a general item under its floor (5 %, or its own
    higher ratio) refuses publication (422, rule ``general_item_floor``) unless
    ``floor_overrides`` records a reason for it. The computation and the overrides are
    published with the plan."""
    given = overrides(body.floor_overrides) if body else {}
    plan = await run_command(request, who, app.publish_plan, plan_id, count, given)
    return _published_view(plan)


@router.get(
    "/plans/{plan_id}/coverage",
    response_model=CoverageView,
    response_model_exclude_unset=True,
    summary="The share of each item's subjects a plan inspects",
)
async def plan_coverage(plan_id: UUID, who: Reader, app: App, count: Counts) -> Any:
    """抽查比例 computed as publication would: per item, the subjects of its kinds in the
    plan's region (from the registry), and per batch and credit-risk class the pool, the
    subjects drawn and the expected number of the item's subjects among them."""
    return await asyncio.to_thread(app.plan_coverage, plan_id, count)


@router.get(
    "/plans/{plan_id}/versions",
    response_model=PlanEditions,
    response_model_exclude_unset=True,
    summary="Every published edition of a plan",
)
async def plan_versions(plan_id: UUID, who: Reader, app: App) -> Any:
    """版本: edition 1 is the first publication; each adjustment is the next, with its
    reason, who approved it, the diff, the ratio computation and the plan as it then stood."""
    plan = await asyncio.to_thread(app.get_plan, plan_id)
    return {"id": str(plan.id), "number": plan.number, "editions": plan.editions}


@router.post(
    "/plans/{plan_id}/adjustments",
    status_code=201,
    response_model=PlanAdjusted,
    response_model_exclude_unset=True,
    summary="Adjust a published plan",
)
async def adjust_plan(
    plan_id: UUID,
    body: AdjustmentIn,
    request: Request,
    who: Office,
    app: App,
    count: Counts,
    draws: Draws,
) -> Any:
    """调整 — the office changes a published plan, which is published again as its next
    edition. A drawn batch keeps its pool, ratios and items (409, rule
    ``drawn_batch_fixed``); its end date can be extended."""
    # Only what the caller sent changes: keys left out (of the content, of a batch, of its
    # programme) keep their value.
    changes = body.model_dump(
        mode="json", exclude={"reason", "approved_by", "floor_overrides"}, exclude_unset=True
    )
    plan = await run_command(
        request,
        who,
        app.adjust_plan,
        plan_id,
        reason=body.reason,
        approved_by=body.approved_by,
        changes=changes,
        count=count,
        drawn=draws,
        floor_overrides=overrides(body.floor_overrides),
    )
    # Answered once PlanAdjusted is on the stream: the draw service announces only after it
    # has applied what the stream holds, so no draw after this answer uses the old terms.
    if not await await_published(request):
        log.warning("plan %s adjusted; its event is not on the stream yet", plan_id)
    return {**_published_view(plan), "changes": plan.editions[-1]["changes"]}


@router.get(
    "/plans",
    response_model=PlanPage,
    response_model_exclude_unset=True,
    summary="List plans (keyset pagination)",
)
async def list_plans(
    who: Reader,
    db: Pool,
    year: int | None = Query(None, ge=2000, le=2100),
    department: Code | None = Query(None, description="initiating or participating"),
    published: bool | None = None,
    after: UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Plans from the read model, ordered by id."""
    rows = await db.fetch(
        """SELECT * FROM planner.plans_view
           WHERE ($1::int IS NULL OR year = $1)
             AND ($2::text IS NULL OR initiating_department = $2
                  OR participating_departments ? $2)
             AND ($3::boolean IS NULL OR (published_on IS NOT NULL) = $3)
             AND ($4::uuid IS NULL OR plan_id > $4)
           ORDER BY plan_id LIMIT $5""",
        year,
        department,
        published,
        after,
        limit,
    )
    items = [_row_view(r) for r in rows]
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}


@router.get(
    "/plans/{plan_id}",
    response_model=PlanRow,
    response_model_exclude_unset=True,
    summary="One plan",
)
async def get_plan(plan_id: UUID, who: Reader, db: Pool) -> Any:
    """The plan from the read model (404 until its event has been projected)."""
    row = await db.fetchrow("SELECT * FROM planner.plans_view WHERE plan_id = $1", plan_id)
    if row is None:
        raise Problem(404, "Not found", f"no plan {plan_id}")
    return _row_view(row)


@router.get(
    "/items",
    response_model=list[ItemKnown],
    summary="Registry items as the planner knows them",
)
async def list_items(
    who: Reader, db: Pool, published: bool | None = None, department: Code | None = None
) -> list[dict[str, Any]]:
    """The planner's copy of the item list (抽查事项清单); plans may use published items."""
    rows = await db.fetch(
        """SELECT code, department, name, category, ratio, methods, legal_basis,
                  subject_kinds, published
           FROM planner.items_view
           WHERE ($1::boolean IS NULL OR published = $1)
             AND ($2::text IS NULL OR department = $2)
           ORDER BY code""",
        published,
        department,
    )
    return [dict(r) for r in rows]
