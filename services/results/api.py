"""HTTP API of the results service: assignments (drawn subjects with their deadlines), and the
records of before inspection tasks existed (read only; results now go through tasks and
review, task_api.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from libs.common.auth import Principal, require_roles
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from services.results.answers import AssignmentPage, ChainCheck, RecordPage, RecordView
from services.results.application import ResultsApplication
from services.results.domain.access import may_read_record
from services.results.domain.record import InspectionRecord

router = APIRouter(prefix="/v1", tags=["results"])
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[ResultsApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


def _view(record: InspectionRecord) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "version": record.version,
        **{k: v for k, v in vars(record).items() if not k.startswith("_")},
    }


def _readable(who: Principal, initiating_department: str | None, inspectors: Any) -> bool:
    return may_read_record(
        sub=who.sub,
        dept=who.dept,
        roles=who.roles,
        initiating_department=initiating_department,
        inspectors=inspectors or [],
    )


@router.get("/results", response_model=RecordPage, summary="Records (keyset pagination)")
async def list_results(
    who: Reader,
    db: Pool,
    draw_id: UUID | None = None,
    late: bool | None = None,
    after: UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """Records as they stand: latest outcome and findings (with notes), number of
    corrections; only the records the caller may read (see domain/access.py), so a page
    may hold fewer than ``limit`` and still have a ``next``."""
    rows = await db.fetch(
        """SELECT r.*, a.initiating_department AS scope_department,
                  a.inspectors AS scope_inspectors
           FROM results.records r
           LEFT JOIN results.assignments a USING (draw_id, subject_id)
           WHERE ($1::uuid IS NULL OR r.draw_id = $1) AND ($2::boolean IS NULL OR r.late = $2)
             AND ($3::uuid IS NULL OR r.record_id > $3)
           ORDER BY r.record_id LIMIT $4""",
        draw_id,
        late,
        after,
        limit,
    )
    items = [
        {"id": str(r["record_id"]), **{k: v for k, v in r.items() if not k.startswith("scope_")}}
        for r in rows
        if _readable(who, r["scope_department"], r["scope_inspectors"])
    ]
    last = str(rows[-1]["record_id"]) if len(rows) == limit else None
    return {"items": items, "next": last}


@router.get(
    "/results/{record_id}",
    response_model=RecordView,
    summary="One record with its corrections",
)
async def get_result(record_id: UUID, request: Request, who: Reader, app: App, db: Pool) -> Any:
    """The record from its events, with every correction (from, to, reason); 403 for a
    caller outside the inspection (see domain/access.py)."""
    record = await run_command(request, who, app.get_record, record_id)
    scope = await db.fetchrow(
        "SELECT initiating_department, inspectors FROM results.assignments "
        "WHERE draw_id = $1 AND subject_id = $2",
        UUID(record.draw_id),
        UUID(record.subject_id),
    )
    if not _readable(
        who,
        scope["initiating_department"] if scope else None,
        scope["inspectors"] if scope else [],
    ):
        raise Problem(
            403,
            "Forbidden",
            "a record is read by its inspection group, the departments taking part, the "
            "office and the auditors",
        )
    return _view(record)


@router.get(
    "/results/{record_id}/verification",
    response_model=ChainCheck,
    summary="Check the record's hash chain",
)
async def verify_result(record_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """Recompute the SHA-256 chain of the record's events; list any break."""
    problems = await run_command(request, who, app.verify_record, record_id)
    return {"id": str(record_id), "intact": not problems, "problems": problems}


@router.get(
    "/assignments",
    response_model=AssignmentPage,
    summary="Drawn subjects with their result deadlines",
)
async def list_assignments(
    who: Reader,
    db: Pool,
    draw_id: UUID | None = None,
    recorded: bool | None = Query(None, description="only with (true) or without a result"),
    overdue: bool | None = Query(
        None, description="only those the deadline watch found overdue (true) or not"
    ),
    after: str | None = Query(
        None, max_length=80, description="cursor: the `next` of the previous page"
    ),
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """Assignments with ``due_on`` (20 working days after the batch ends) and
    ``due_on_provisional`` (counted over a year not published yet: counted again when the
    office loads it, GET /v1/calendar/{year}); ``overdue_on``: the day the deadline watch
    found the result missing past ``due_on`` (逾期, the task counts as not done)."""
    after_draw, after_subject = _cursor(after)
    rows = await db.fetch(
        """SELECT * FROM results.assignments
           WHERE ($1::uuid IS NULL OR draw_id = $1)
             AND ($2::boolean IS NULL OR (record_id IS NOT NULL) = $2)
             AND ($3::uuid IS NULL OR (draw_id, subject_id) > ($3, $4::uuid))
             AND ($6::boolean IS NULL OR (overdue_on IS NOT NULL) = $6)
           ORDER BY draw_id, subject_id LIMIT $5""",
        draw_id,
        recorded,
        after_draw,
        after_subject,
        limit,
        overdue,
    )
    items = [dict(r) for r in rows]
    last = items[-1] if len(items) == limit else None
    return {"items": items, "next": f"{last['draw_id']}.{last['subject_id']}" if last else None}


def _cursor(after: str | None) -> tuple[UUID | None, UUID | None]:
    if after is None:
        return None, None
    try:
        draw, subject = after.split(".")
        return UUID(draw), UUID(subject)
    except ValueError as exc:
        raise Problem(422, "Invalid cursor", f"{after!r} is not a cursor from this list") from exc
