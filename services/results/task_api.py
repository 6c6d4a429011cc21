"""HTTP API of inspection tasks (检查任务): list and read, record the visit, submit, review,
correct. Parses, authorises and calls the application; the rules are in the domain."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Depends, Query, Request

from libs.common.auth import Principal, require_roles
from libs.common.departments import department_writer
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from libs.common.text import Code
from services.results.answers import ChainCheck, TaskPage, TaskView
from services.results.application import ResultsApplication, today_in_china
from services.results.domain.access import may_read_record
from services.results.domain.assignment import CurrentGroup
from services.results.domain.task import InspectionTask
from services.results.task_models import CorrectionIn, ReportIn, ReviewIn, SubmissionIn

router = APIRouter(prefix="/v1", tags=["tasks"])
# Times a task command is run when its save meets a concurrent write of the same task.
CONFLICT_ATTEMPTS = 3
# Writers' departments must be in the register (部门名录), else 403.
Recorder = Annotated[Principal, Depends(department_writer("inspector", "operator", "office"))]
Reviewer = Annotated[Principal, Depends(department_writer("reviewer"))]
Reader = Annotated[
    Principal, Depends(require_roles("operator", "office", "inspector", "auditor", "reviewer"))
]
App = Annotated[ResultsApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]
State = Literal[
    "dispatched", "inspected", "submitted", "returned", "reviewed", "published", "withdrawn"
]


async def task_assignment(db: asyncpg.Pool, task: UUID) -> CurrentGroup:
    """The task's group as the draw has it now (after any 递补) and its result deadline;
    404 for an unknown task, 409 for a subject replaced after the draw. Only these columns:
    the items' check forms travel in the task itself, and decoding them again for every
    command was a few percent of a write's CPU."""
    row = await db.fetchrow(
        "SELECT inspectors, due_on, replaced_by FROM results.assignments WHERE task_id = $1",
        task,
    )
    if row is None:
        raise Problem(404, "Not found", f"no inspection task {task}")
    if row["replaced_by"] is not None:
        raise Problem(
            409, "Subject replaced", f"the subject was replaced (递补) by {row['replaced_by']}"
        )
    return CurrentGroup.from_fields(row)


def readable(who: Principal, implementing: str, initiating: str, members: Any) -> bool:
    """The group, the departments taking part, the implementing department's reviewers, the
    office and the auditors (domain/access.py)."""
    if "reviewer" in who.roles and who.dept == implementing:
        return True
    return may_read_record(
        sub=who.sub,
        dept=who.dept,
        roles=who.roles,
        initiating_department=initiating,
        inspectors=[*(members or []), {"department": implementing}],
    )


async def task_command(
    request: Request, who: Principal, db: asyncpg.Pool, command: Any, task: UUID, **fields: Any
) -> dict[str, Any]:
    """Run one task command as ``who``: with the task's assignment (the group as the draw
    has it now) and China's calendar day; the task as its readers see it."""
    assignment = await task_assignment(db, task)
    # A task is written by the service's own background work too (the deadline watch's
    # recount after a calendar year is loaded, the dispatcher's withdrawal). A command that
    # meets such a write between loading the task and saving it stored nothing, and is run
    # again on the task as it now stands (whose rules then judge it), rather than answering
    # the caller 409 for work nobody asked to see; a conflict that persists is answered.
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            found = await run_command(
                request,
                who,
                command,
                task,
                assignment=assignment,
                actor=who.actor,
                today=today_in_china(),
                **fields,
            )
            break
        except IntegrityError:
            if attempt == CONFLICT_ATTEMPTS:
                raise
    return task_view(found)


def task_view(task: InspectionTask) -> dict[str, Any]:
    """A task as its readers see it: everything, the internal notes included."""
    return {
        "id": str(task.id),
        "version": task.version,
        **{k: v for k, v in vars(task).items() if not k.startswith("_") and k != "follow_up"},
        "follow_up": vars(task.follow_up),
    }


async def read_task(
    request: Request, who: Principal, app: ResultsApplication, db: asyncpg.Pool, task: UUID
) -> Any:
    """The task, for its readers only (403 otherwise): the group as the draw has it now
    (after any 递补), not as it was dispatched."""
    found = await run_command(request, who, app.get_task, task)
    members = await db.fetchval(
        "SELECT inspectors FROM results.assignments WHERE task_id = $1", task
    )
    if not readable(
        who, found.implementing_department, found.initiating_department, members or found.group
    ):
        raise Problem(
            403,
            "Forbidden",
            "a task is read by its group, the departments taking part, the implementing "
            "department's reviewers, the office and the auditors",
        )
    return found


@router.get("/tasks", response_model=TaskPage, summary="Inspection tasks (keyset pagination)")
async def list_tasks(
    who: Reader,
    db: Pool,
    draw_id: UUID | None = None,
    state: State | None = None,
    department: Code | None = Query(None, description="implementing department"),
    follow_up: Literal["none", "ordered", "reinspected", "closed"] | None = None,
    overdue: Literal["publication", "follow_up"] | None = Query(
        None, description="only tasks the deadline watch found past that deadline"
    ),
    after: UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """Tasks as they stand (state, category, deadlines, follow-up); only those the caller
    may read, so a page may hold fewer than ``limit`` and still have a ``next``."""
    rows = await db.fetch(
        """SELECT t.*, a.inspectors AS current_inspectors
           FROM results.tasks t LEFT JOIN results.assignments a ON a.task_id = t.task_id
           WHERE ($1::uuid IS NULL OR t.draw_id = $1) AND ($2::text IS NULL OR t.state = $2)
             AND ($3::text IS NULL OR t.implementing_department = $3)
             AND ($4::text IS NULL OR t.follow_up = $4)
             AND ($5::text IS NULL
                  OR ($5 = 'publication' AND t.publication_overdue_on IS NOT NULL)
                  OR ($5 = 'follow_up' AND t.follow_up_overdue_on IS NOT NULL))
             AND ($6::uuid IS NULL OR t.task_id > $6)
           ORDER BY t.task_id LIMIT $7""",
        draw_id,
        state,
        department,
        follow_up,
        overdue,
        after,
        limit,
    )
    items = []
    for r in rows:
        row = dict(r)
        # The group as the draw has it now (after any 递补), not as it was dispatched.
        row["inspectors"] = row.pop("current_inspectors") or row["inspectors"]
        if readable(
            who, row["implementing_department"], row["initiating_department"], row["inspectors"]
        ):
            items.append({"id": str(row["task_id"]), **row})
    return {"items": items, "next": str(rows[-1]["task_id"]) if len(rows) == limit else None}


@router.get(
    "/tasks/{task}",
    response_model=TaskView,
    summary="One task with its report, review and follow-up",
)
async def get_task(task: UUID, request: Request, who: Reader, app: App, db: Pool) -> Any:
    """Everything of the task, notes included: for its readers only (403 otherwise)."""
    return task_view(await read_task(request, who, app, db, task))


@router.post(
    "/tasks/{task}/inspection", response_model=TaskView, summary="Record the visit (检查记录表)"
)
async def record_inspection(
    task: UUID, body: ReportIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """By the group (or an operator of the implementing department) while the result is
    theirs (dispatched, inspected or returned); recording again replaces the draft."""
    return await task_command(
        request,
        who,
        db,
        app.record_inspection,
        task,
        report=body.model_dump(),
    )


@router.post(
    "/tasks/{task}/submission",
    response_model=TaskView,
    summary="Submit the result for review (提交)",
)
async def submit(
    task: UUID, body: SubmissionIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """With ``report``: recorded and submitted at once. Late (``late: true``) after the
    entry deadline of 20 working days from the batch's end (002)."""
    if body.report is not None:
        return await task_command(
            request,
            who,
            db,
            app.record_inspection,
            task,
            report=body.report.model_dump(),
            submit=True,
        )
    return await task_command(request, who, db, app.submit, task)


@router.post(
    "/tasks/{task}/review",
    response_model=TaskView,
    summary="Approve or return a result or correction (审核)",
)
async def review(
    task: UUID, body: ReviewIn, request: Request, who: Reviewer, app: App, db: Pool
) -> Any:
    """By a reviewer of the implementing department who is not of the group (403). An
    approved result is published at once, or, with problems, on its handling decision."""
    return await task_command(
        request,
        who,
        db,
        app.review,
        task,
        approve=body.decision == "approve",
        reason=body.reason,
    )


@router.post(
    "/tasks/{task}/corrections",
    response_model=TaskView,
    summary="Propose a correction of a published result",
)
async def correct(
    task: UUID, body: CorrectionIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """更正: reviewed like the result; the published edition stands until it is approved,
    and every edition stays on the task's stream."""
    return await task_command(
        request,
        who,
        db,
        app.propose_correction,
        task,
        report=body.report.model_dump(),
        reason=body.reason,
    )


@router.get(
    "/tasks/{task}/verification",
    response_model=ChainCheck,
    summary="Check the task's hash chain",
)
async def verify(task: UUID, request: Request, who: Reader, app: App, db: Pool) -> Any:
    """Recompute the SHA-256 chain of the task's events; list any break."""
    await read_task(request, who, app, db, task)
    problems = await run_command(request, who, app.verify_task, task)
    return {"id": str(task), "intact": not problems, "problems": problems}
