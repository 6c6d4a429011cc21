"""HTTP API of proposals (部门拟发起的年度联合抽查计划), their deadline, merge suggestions, and
the office's compiling of plans and of the annual plan (年度部门联合抽查计划)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request

from libs.common.auth import Principal
from libs.common.problems import Problem
from libs.common.service import run_command
from libs.common.text import Code
from services.planner.api.answers import PlanView
from services.planner.api.deps import (
    App,
    Counts,
    Filer,
    Office,
    Overseer,
    Pool,
    ProposalReader,
    Reader,
)
from services.planner.api.models import (
    AnnualPublishIn,
    CompileIn,
    DeadlineIn,
    ProposalChanges,
    ProposalIn,
    WithdrawalIn,
)
from services.planner.api.plans import overrides, plan_view
from services.planner.api.proposal_answers import (
    AnnualPlan,
    AnnualPublished,
    Deadline,
    ProposalAmended,
    ProposalPage,
    ProposalView,
    Suggestions,
)
from services.planner.domain.proposals import Proposal

router = APIRouter(prefix="/v1", tags=["proposals"])
Region = Path(pattern=r"^[0-9]{6}$", description="GB/T 2260 code of the region, e.g. 420200")
Year = Path(ge=2000, le=2100)


def _proposal_view(p: Proposal) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "version": p.version,
        "year": p.year,
        "region": p.region,
        "department": p.department,
        "status": p.status,
        **p.content(),
        "late_reason": p.late_reason,
        "plan_id": p.plan_id,
        "plan_number": p.plan_number,
    }


def _may_change(who: Principal, proposal: Proposal) -> None:
    if not who.may_act_for(proposal.department):
        raise Problem(403, "Forbidden", "only the proposing department or the office changes it")


@router.post(
    "/proposals",
    status_code=201,
    response_model=ProposalView,
    summary="File a proposal (department)",
)
async def file_proposal(body: ProposalIn, request: Request, who: Filer, app: App) -> Any:
    """报送 — a department files the joint inspection it proposes to initiate in a year:
    its own published items, the subjects (a pool filter), methods among its items', the
    proposed timing and ratios, the departments it would like with it. After the office's
    deadline (GET /v1/proposal-deadlines/…) a proposal needs ``late_reason`` (409, rule
    ``proposal_deadline``, without one)."""
    if not who.may_act_for(body.department):
        raise Problem(403, "Forbidden", "a department files its own proposals")
    fields = body.model_dump(mode="json")
    proposal = await run_command(request, who, lambda: app.file_proposal(**fields))
    return _proposal_view(proposal)


@router.patch(
    "/proposals/{proposal_id}",
    response_model=ProposalAmended,
    summary="Amend a proposal (department)",
)
async def amend_proposal(
    proposal_id: UUID, body: ProposalChanges, request: Request, who: Filer, app: App
) -> Any:
    """修改 — change some fields of an open proposal (409 ``proposal_closed`` once merged
    or withdrawn; ``proposal_deadline`` after the deadline without ``late_reason``)."""
    _may_change(who, await asyncio.to_thread(app.get_proposal, proposal_id))
    changes = body.model_dump(mode="json", exclude_none=True)
    proposal, changed = await run_command(
        request, who, lambda: app.amend_proposal(proposal_id, **changes)
    )
    return {**_proposal_view(proposal), "changed": sorted(changed)}


@router.post(
    "/proposals/{proposal_id}/withdraw",
    response_model=ProposalView,
    summary="Withdraw a proposal (department)",
)
async def withdraw_proposal(
    proposal_id: UUID, body: WithdrawalIn, request: Request, who: Filer, app: App
) -> Any:
    """撤回 — withdraw an open proposal, with the reason."""
    _may_change(who, await asyncio.to_thread(app.get_proposal, proposal_id))
    proposal = await run_command(
        request,
        who,
        lambda: app.withdraw_proposal(
            proposal_id, reason=body.reason, late_reason=body.late_reason
        ),
    )
    return _proposal_view(proposal)


@router.get(
    "/proposals",
    response_model=ProposalPage,
    summary="The year's proposals with their status (keyset pagination)",
)
async def list_proposals(
    who: ProposalReader,
    db: Pool,
    year: int = Query(ge=2000, le=2100),
    region: str | None = Query(None, pattern=r"^[0-9]{6}$"),
    department: Code | None = None,
    status: Literal["filed", "withdrawn", "merged"] | None = None,
    after: UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The office and auditors see every proposal; a department, its own."""
    if not {"office", "auditor"} & who.roles:
        if department not in (None, who.dept):
            raise Problem(403, "Forbidden", "a department sees its own proposals")
        department = who.dept
    rows = await db.fetch(
        """SELECT * FROM planner.proposals_view
           WHERE year = $1 AND ($2::text IS NULL OR region = $2)
             AND ($3::text IS NULL OR department = $3) AND ($4::text IS NULL OR status = $4)
             AND ($5::uuid IS NULL OR proposal_id > $5)
           ORDER BY proposal_id LIMIT $6""",
        year,
        region,
        department,
        status,
        after,
        limit,
    )
    items = [{"id": str(r["proposal_id"]), **dict(r)} for r in rows]
    for item in items:
        del item["proposal_id"]
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}


@router.get(
    "/proposals/{proposal_id}",
    response_model=ProposalView,
    summary="One proposal as it stands",
)
async def get_proposal(proposal_id: UUID, who: ProposalReader, app: App) -> Any:
    """The proposal from its events (a department reads its own)."""
    proposal = await asyncio.to_thread(app.get_proposal, proposal_id)
    if not {"office", "auditor"} & who.roles and who.dept != proposal.department:
        raise Problem(403, "Forbidden", "a department reads its own proposals")
    return _proposal_view(proposal)


@router.put(
    "/proposal-deadlines/{region}/{year}",
    response_model=Deadline,
    summary="Set the deadline for proposals (office)",
)
async def set_deadline(
    body: DeadlineIn,
    request: Request,
    who: Office,
    app: App,
    region: str = Region,
    year: int = Year,
) -> Any:
    """报送截止日期 of a region's proposals for a year (default: the end of February)."""
    await run_command(request, who, app.set_deadline, region, year, body.deadline, body.reason)
    return {"region": region, "year": year, "deadline": body.deadline, "set_by": "office"}


@router.get(
    "/proposal-deadlines/{region}/{year}",
    response_model=Deadline,
    summary="The deadline for proposals",
)
async def get_deadline(who: Reader, app: App, region: str = Region, year: int = Year) -> Any:
    """The deadline in force and whether the office set it or it is the default."""
    deadline, source = await asyncio.to_thread(app.deadline, region, year)
    return {"region": region, "year": year, "deadline": deadline, "set_by": source}


@router.get(
    "/merge-suggestions",
    response_model=Suggestions,
    summary="Proposals worth merging (office, auditors)",
)
async def merge_suggestions(
    who: Overseer,
    app: App,
    count: Counts,
    year: int = Query(ge=2000, le=2100),
    region: str | None = Query(None, pattern=r"^[0-9]{6}$"),
) -> Any:
    """合并安排建议 — groups of open proposals whose subject scopes overlap and whose
    methods are close, with the reason, the overlap (region, kind, industry, tags, risk
    classes) and the number of subjects in it as the registry counts them."""
    found = await asyncio.to_thread(app.merge_suggestions, year, region, count)
    return {"year": year, "suggestions": found}


@router.post(
    "/plans/compile",
    status_code=201,
    response_model=PlanView,
    response_model_exclude_unset=True,
    summary="Compile a plan from proposals (office)",
)
async def compile_plan(body: CompileIn, request: Request, who: Office, app: App) -> Any:
    """合并安排 — merge proposals into one joint plan (or turn one into a department plan):
    the office chooses the initiating department among theirs; the items are the union of
    theirs; a proposal is merged once (409 ``proposal_closed``)."""
    fields = body.model_dump(mode="json", exclude={"proposal_ids"})
    ids = list(body.proposal_ids)
    plan = await run_command(request, who, lambda: app.compile_plan(proposal_ids=ids, **fields))
    return plan_view(plan)


@router.get(
    "/annual-plans/{region}/{year}",
    response_model=AnnualPlan,
    summary="The annual plan of a region",
)
async def annual_plan(who: Reader, app: App, region: str = Region, year: int = Year) -> Any:
    """年度部门联合抽查计划 — the plans compiled for the year and its publications."""
    annual = await asyncio.to_thread(app.annual_plan, region, year)
    if annual is None:
        raise Problem(404, "Not found", f"no plan has been numbered in {region} for {year}")
    return {
        "region": region,
        "year": year,
        "plans": annual.compiled,
        "publications": annual.publications,
    }


@router.post(
    "/annual-plans/{region}/{year}/publish",
    response_model=AnnualPublished,
    summary="Publish the annual plan (office)",
)
async def publish_annual(
    request: Request,
    who: Office,
    app: App,
    count: Counts,
    body: AnnualPublishIn | None = None,
    region: str = Region,
    year: int = Year,
) -> Any:
    """汇总公示 — publish together every compiled plan not yet published; refused as a
    whole (422 ``general_item_floor``) when one leaves a general item under its floor
    without an override."""
    given = {k: overrides(v) for k, v in body.floor_overrides.items()} if body else {}
    annual, plans = await run_command(
        request, who, lambda: app.publish_annual(region, year, count, given)
    )
    return {
        "region": region,
        "year": year,
        "published_on": date.fromisoformat(annual.publications[-1]["published_on"]),
        "plans": [{"id": str(p.id), "number": p.number, "title": p.title} for p in plans],
    }
