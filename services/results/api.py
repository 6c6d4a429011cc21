"""HTTP API of the results service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from libs.common.auth import Principal, require_roles
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from services.results.application import ResultsApplication
from services.results.domain.record import InspectionRecord

router = APIRouter(prefix="/v1", tags=["results"])
Recorder = Annotated[Principal, Depends(require_roles("inspector", "operator", "office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[ResultsApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


class Finding(BaseModel):
    """The result for one item of the inspection."""

    item_code: str
    outcome: str
    note: str = Field("", max_length=2000)


class ResultIn(BaseModel):
    """检查结果 of one drawn subject."""

    draw_id: UUID
    subject_id: UUID
    inspected_on: date
    outcome: str = Field(description="no_problem, problem_corrected, problem_pending, …")
    findings: list[Finding] = []


class CorrectionIn(BaseModel):
    """A correction: appended, never overwriting."""

    outcome: str
    findings: list[Finding] = []
    reason: str = Field(min_length=1, max_length=2000)


async def _assignment(db: asyncpg.Pool, draw_id: UUID, subject_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT * FROM results.assignments WHERE draw_id = $1 AND subject_id = $2",
        draw_id,
        subject_id,
    )
    if row is None:
        raise Problem(404, "Not assigned", f"subject {subject_id} was not drawn in {draw_id}")
    return dict(row)


def _authorise(who: Principal, assignment: dict[str, Any]) -> None:
    in_group = any(i["inspector_id"] == who.sub for i in assignment["inspectors"])
    is_operator = bool(who.roles & {"operator", "office"}) and who.may_act_for(
        assignment["initiating_department"]
    )
    if not (("inspector" in who.roles and in_group) or is_operator):
        raise Problem(403, "Forbidden", "only the subject's inspection group records its result")


def _view(record: InspectionRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "version": record.version,
        **{k: v for k, v in vars(record).items() if not k.startswith("_")},
    }


@router.post("/results", status_code=201, summary="Record the result of a drawn subject")
async def record_result(body: ResultIn, request: Request, who: Recorder, app: App, db: Pool) -> Any:
    """Only for a drawn subject, by its group (or its department's operator), once."""
    assignment = await _assignment(db, body.draw_id, body.subject_id)
    _authorise(who, assignment)
    record = await run_command(
        request,
        who,
        app.record_result,
        assignment=assignment,
        inspected_on=body.inspected_on,
        outcome=body.outcome,
        findings=[f.model_dump() for f in body.findings],
        department=who.dept,
    )
    return _view(record)


@router.post("/results/{record_id}/corrections", summary="Append a correction")
async def correct_result(
    record_id: UUID, body: CorrectionIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """The corrected values become current; the original stays in the stream."""
    record = await run_command(request, who, app.get_record, record_id)
    assignment = await _assignment(db, UUID(record.draw_id), UUID(record.subject_id))
    _authorise(who, assignment)
    record = await run_command(
        request,
        who,
        app.correct_result,
        record_id,
        {i["code"] for i in assignment["items"]},
        outcome=body.outcome,
        findings=[f.model_dump() for f in body.findings],
        reason=body.reason,
    )
    return _view(record)


@router.get("/results", summary="Records of a draw")
async def list_results(who: Reader, db: Pool, draw_id: UUID) -> list[dict[str, Any]]:
    """Records of one draw from the read model."""
    rows = await db.fetch(
        "SELECT * FROM results.records WHERE draw_id = $1 ORDER BY subject_identifier", draw_id
    )
    return [dict(r) for r in rows]


@router.get("/results/{record_id}", summary="One record with its corrections")
async def get_result(record_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """The record as it stands, with every correction (from, to, reason)."""
    return _view(await run_command(request, who, app.get_record, record_id))


@router.get("/assignments", summary="Drawn subjects awaiting results, with deadlines")
async def list_assignments(who: Reader, db: Pool, draw_id: UUID) -> list[dict[str, Any]]:
    """Assignments of one draw, with the result deadline (due_on)."""
    rows = await db.fetch(
        "SELECT * FROM results.assignments WHERE draw_id = $1 ORDER BY identifier", draw_id
    )
    return [dict(r) for r in rows]
