"""HTTP API of the planner."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from libs.common.auth import Principal, require_roles
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from services.planner.application import PlannerApplication
from services.planner.domain.plan import Plan

router = APIRouter(prefix="/v1", tags=["planner"])
Filer = Annotated[Principal, Depends(require_roles("operator", "office"))]
Office = Annotated[Principal, Depends(require_roles("office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[PlannerApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


class PoolFilter(BaseModel):
    """Which subjects a batch draws from; an empty list means no restriction."""

    region_prefixes: list[Annotated[str, Field(pattern=r"^\d{2,6}$")]] = []
    kinds: list[Literal["for_profit", "non_profit", "non_market"]] = []
    industries: list[str] = []
    risk_classes: list[Literal["A", "B", "C", "D"]] = []


class BatchIn(BaseModel):
    """批次 — one round of drawing and inspecting."""

    name: str = Field(min_length=1, max_length=100)
    pool: PoolFilter = PoolFilter()
    ratios: dict[Literal["A", "B", "C", "D"], float] = Field(
        default_factory=dict, description="override of the default A 1 %, B 3 %, C 10 %, D 20 %"
    )
    directed: bool = Field(False, description="定向 (true) or 不定向 (false)")
    starts_on: date
    ends_on: date


class PlanIn(BaseModel):
    """抽查计划 to file."""

    year: int = Field(ge=2015, le=2100)
    title: str = Field(min_length=1, max_length=200)
    mode: Literal["comprehensive", "risk_based", "special"]
    initiating_department: str = Field(min_length=1, max_length=64)
    participating_departments: list[str] = []
    item_codes: list[str] = Field(min_length=1)
    batches: list[BatchIn] = Field(min_length=1)


def _view(plan: Plan) -> dict[str, Any]:
    return {
        "id": str(plan.id),
        "version": plan.version,
        **{k: v for k, v in vars(plan).items() if not k.startswith("_")},
    }


@router.post("/plans", status_code=201, summary="File a plan (single or joint)")
async def create_plan(body: PlanIn, request: Request, who: Filer, app: App, db: Pool) -> Any:
    """File a plan with its batches; every item must be published in the registry."""
    if not who.may_act_for(body.initiating_department):
        raise Problem(403, "Forbidden", "only the initiating department or the office may file")
    rows = await db.fetch("SELECT * FROM planner.items WHERE code = ANY ($1)", body.item_codes)
    known = {r["code"]: dict(r) for r in rows}
    unknown = [c for c in body.item_codes if c not in known]
    if unknown:
        raise Problem(422, "Unknown items", f"items not in the registry: {unknown}")
    fields = body.model_dump(mode="json", exclude={"item_codes"})
    fields["items"] = [known[c] for c in body.item_codes]
    plan = await run_command(request, who, app.create_plan, **fields)
    return _view(plan)


@router.post("/plans/{plan_id}/publish", summary="Publish a plan (office)")
async def publish_plan(plan_id: UUID, request: Request, who: Office, app: App) -> Any:
    """The joint-meeting office publishes; the batches become drawable."""
    plan = await run_command(request, who, app.publish_plan, plan_id, date.today())
    return _view(plan)


@router.get("/plans", summary="List plans")
async def list_plans(who: Reader, db: Pool, year: int | None = None) -> list[dict[str, Any]]:
    """Plans from the read model, newest first."""
    rows = await db.fetch(
        "SELECT * FROM planner.plans WHERE ($1::int IS NULL OR year = $1) ORDER BY created_at DESC",
        year,
    )
    return [dict(r) for r in rows]


@router.get("/plans/{plan_id}", summary="One plan")
async def get_plan(plan_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """The plan as it stands now."""
    return _view(await run_command(request, who, app.get_plan, plan_id))
