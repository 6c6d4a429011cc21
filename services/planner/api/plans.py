"""HTTP API of the planner: file, publish and read plans (抽查计划)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from libs.common.auth import Principal, require_roles
from libs.common.commands import Command, Part
from libs.common.departments import department_writer
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from libs.common.text import Code, Identifier, Name, line
from services.planner.application import PlannerApplication
from services.planner.domain.batches import MAX_FULL_LIST, batch_with_defaults
from services.planner.domain.plan import Plan

router = APIRouter(prefix="/v1", tags=["plans"])
# An operator of a department outside the register (部门名录) writes nothing (403).
Filer = Annotated[Principal, Depends(department_writer("operator", "office"))]
Office = Annotated[Principal, Depends(require_roles("office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[PlannerApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]
RiskClass = Literal["A", "B", "C", "D"]
SubjectStatus = Literal["operating", "deregistered", "revoked", "moved_out", "cancelled"]
SubjectFlag = Literal["abnormal_operation", "serious_violation"]
TagCode = Code
RegionPrefix = Annotated[str, Field(pattern=r"^[0-9]{2,6}$")]
IndustryCode = Annotated[str, Field(pattern=r"^[A-Z][0-9]{0,2}$")]
# Region prefixes of one pool: a province's counties (Hubei has 103) with room to spare.
MAX_POOL_REGIONS = 300
# GB/T 4754 has 97 divisions; a pool naming every one of them is the widest there is.
MAX_POOL_INDUSTRIES = 120
# Tags of one pool (标签): a handful in practice.
MAX_POOL_TAGS = 100
# Batches of one plan (批次): a weekly batch all year is 52; a daily one would be 366.
MAX_BATCHES = 400
# Items of one plan: a comprehensive joint plan (综合大联查) of many departments.
MAX_PLAN_ITEMS = 100
# Departments taking part in a joint plan: every member of a joint-meeting (联席会议).
MAX_PARTICIPANTS = 100
# Subjects drawn by count from one risk class: the largest pools have about a million.
MAX_COUNT = 10_000_000
# Inspectors in one group (检查组): two at least, a handful in practice.
MAX_GROUP_SIZE = 20
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class PoolFilter(Part):
    """抽查对象范围 — which subjects a batch draws from; an empty list restricts nothing
    (except ``statuses``, where empty means operating subjects only)."""

    region_prefixes: list[RegionPrefix] = Field(
        default_factory=list,
        max_length=MAX_POOL_REGIONS,
        description="区域: GB/T 2260 prefixes, e.g. 42 or 4202",
    )
    kinds: list[Literal["for_profit", "non_profit", "non_market"]] = Field(
        default_factory=list,
        max_length=3,
        description="主体类型: 营利性 for_profit, 非营利性 non_profit, 非市场主体 non_market",
    )
    industries: list[IndustryCode] = Field(
        default_factory=list,
        max_length=MAX_POOL_INDUSTRIES,
        description="行业: GB/T 4754 sections or divisions, e.g. F52",
    )
    risk_classes: list[RiskClass] = Field(
        default_factory=list, max_length=4, description="信用风险分类: only these classes are drawn"
    )
    tags: list[TagCode] = Field(
        default_factory=list,
        max_length=MAX_POOL_TAGS,
        description="标签: codes of the tag dictionary (标签字库); a subject qualifies if it "
        "has any of them",
    )
    statuses: list[SubjectStatus] = Field(
        default_factory=list,
        max_length=5,
        description="登记状态: 存续 operating, 注销 deregistered, 吊销 revoked, 迁出 moved_out, "
        "撤销 cancelled; empty means operating (存续) subjects only",
    )
    flags: list[SubjectFlag] = Field(
        default_factory=list,
        max_length=2,
        description="名录: 经营异常名录 abnormal_operation, 严重违法失信名单 serious_violation; "
        "a subject qualifies if it is on any of them",
    )


class BatchIn(Part):
    """批次 — one round of drawing and inspecting within the plan year."""

    name: Annotated[str, line(100, min_length=1)]
    pool: PoolFilter = Field(default_factory=PoolFilter)
    ratios: dict[RiskClass, Share] = Field(
        default_factory=dict,
        description="抽查比例: share per credit-risk class; defaults A 0.01, B 0.03, C 0.10, "
        "D 0.20",
    )
    counts: dict[RiskClass, Annotated[int, Field(ge=0, le=MAX_COUNT)]] = Field(
        default_factory=dict,
        description='抽查数量: fixed number of subjects per credit-risk class, e.g. {"D": 5}; '
        "a class given here is drawn by count instead of by ratio",
    )
    full_list: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_FULL_LIST,
        description="全覆盖/重点检查对象: identifiers (USCC 统一社会信用代码, or PREFIX-local-id "
        "of non-market subjects) inspected at 100 %, each once; always included, outside the "
        "random strata; at most 20 000 in all the batches of a plan",
    )
    directed: bool = Field(False, description="定向抽查 (true) or 不定向抽查 (false)")
    complaint_referral: bool = Field(
        False,
        description="投诉举报、转办交办: subjects already inspected this year for the same "
        "general item are not excluded",
    )
    cross_jurisdiction: bool = Field(
        False,
        description="所所交叉: no inspector from the unit that routinely supervises the subject "
        "(日常监管单位)",
    )
    avoid_previous_inspectors: bool = Field(
        True, description="回避上次检查人员: nobody who inspected the same subject last time"
    )
    min_group_size: int = Field(
        2,
        ge=2,
        le=MAX_GROUP_SIZE,
        description="检查组人数: at least this many inspectors on each subject",
    )
    starts_on: date
    ends_on: date


class PlanIn(Command):
    """抽查计划 to file: a department's own plan, or a joint plan (联合抽查计划)."""

    # The full lists travel in PlanCreated: 20 000 USCCs are about 420 kB (see MAX_FULL_LIST);
    # with the items' names the plan copies it stays under NATS's 1 MiB.
    max_bytes = 512 * 1024

    year: int = Field(ge=2000, le=2100)
    title: Name
    mode: Literal["comprehensive", "risk_based", "special"] = Field(
        description="综合大联查 comprehensive, 风险分类联查 risk_based, 专项整治联查 special"
    )
    initiating_department: Code
    participating_departments: list[Code] = Field([], max_length=MAX_PARTICIPANTS)
    item_codes: list[Code] = Field(
        min_length=1, max_length=MAX_PLAN_ITEMS, description="codes of published items"
    )
    batches: list[BatchIn] = Field(min_length=1, max_length=MAX_BATCHES)


def _plan_view(plan: Plan) -> dict[str, Any]:
    return {
        "id": str(plan.id),
        "version": plan.version,
        "year": plan.year,
        "title": plan.title,
        "mode": plan.mode,
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


@router.post("/plans", status_code=201, summary="File a plan (single-department or joint)")
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
    return _plan_view(plan)


@router.post("/plans/{plan_id}/publish", summary="Publish a plan (joint-meeting office)")
async def publish_plan(plan_id: UUID, request: Request, who: Office, app: App) -> Any:
    """The office (联席会议办公室) publishes; the batches become drawable. Once only."""
    plan = await run_command(request, who, app.publish_plan, plan_id)
    return {"id": str(plan.id), "published": True, "version": plan.version}


@router.get("/plans", summary="List plans (keyset pagination)")
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


@router.get("/plans/{plan_id}", summary="One plan")
async def get_plan(plan_id: UUID, who: Reader, db: Pool) -> Any:
    """The plan from the read model (404 until its event has been projected)."""
    row = await db.fetchrow("SELECT * FROM planner.plans_view WHERE plan_id = $1", plan_id)
    if row is None:
        raise Problem(404, "Not found", f"no plan {plan_id}")
    return _row_view(row)


@router.get("/items", summary="Registry items as the planner knows them")
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
