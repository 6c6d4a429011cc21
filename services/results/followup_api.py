"""HTTP API of a task's files and follow-up: upload evidence and documents (证据, 文书),
download them, 责令改正 → 复查 → outcome, and the case file (立卷归档)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from libs.common.auth import Principal
from libs.common.problems import Problem
from libs.common.service import run_command
from services.results import casefile, evidence
from services.results.answers import FileStored, TaskView
from services.results.domain.access import may_have_files
from services.results.domain.task import InspectionTask
from services.results.task_api import (
    App,
    Pool,
    Reader,
    Recorder,
    read_task,
    task_assignment,
    task_command,
    task_view,
)
from services.results.task_models import ClosureIn, OrderIn, ReinspectionIn, Sha256, Text

router = APIRouter(prefix="/v1", tags=["tasks"])
SPOOL_BYTES = 32 << 20  # a case file larger than this is written to a temporary file
MEDIA = sorted(evidence.MEDIA_TYPES)
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in MEDIA},
    }
}


@router.post(
    "/evidence",
    status_code=201,
    response_model=FileStored,
    summary="Upload a file of a task (证据 or 文书)",
    openapi_extra=UPLOAD_BODY,
    responses={413: {"description": "larger than the limit"}},
)
async def upload(
    request: Request,
    who: Recorder,
    app: App,
    db: Pool,
    task: UUID,
    name: Annotated[Text, Query(min_length=1, description="the file's name, as shown")],
    purpose: Literal["evidence", "document"] = "evidence",
) -> dict[str, Any]:
    """The body is the file (JPEG, PNG or PDF, at most 20 MiB, its type checked against
    its first bytes); stored once by its SHA-256 and named on the task, by its group."""
    assignment = await task_assignment(db, task)
    # The caller's rights first: nobody outside the task has a file read, checked or stored;
    # nor is a file stored for a task that cannot take it.
    await run_command(request, who, app.check_attach, task, assignment=assignment, actor=who.actor)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > evidence.MAX_FILE_BYTES:
        raise Problem(
            413, "Content too large", f"a file is at most {evidence.MAX_FILE_BYTES} bytes"
        )
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > evidence.MAX_FILE_BYTES:
            raise Problem(
                413, "Content too large", f"a file is at most {evidence.MAX_FILE_BYTES} bytes"
            )
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        sha256 = evidence.check_file(bytes(content), media_type)
    except evidence.FileRefused as exc:
        raise Problem(422, "File refused", str(exc)) from exc
    await evidence.store(db, bytes(content), media_type, who.sub)
    _, added = await run_command(
        request,
        who,
        app.attach_file,
        task,
        assignment=assignment,
        actor=who.actor,
        sha256=sha256,
        name=name,
        media_type=media_type,
        size=len(content),
        purpose=purpose,
    )
    return {"sha256": sha256, "size": len(content), "media_type": media_type, "added": added}


async def files_for(
    who: Principal, db: asyncpg.Pool, found: InspectionTask, *, auditors: bool
) -> None:
    """403 unless the caller may have the task's files (domain/access.py): the group as
    the draw has it now (after any 递补)."""
    members = await db.fetchval(
        "SELECT inspectors FROM results.assignments WHERE task_id = $1", found.id
    )
    if not may_have_files(
        sub=who.sub,
        dept=who.dept,
        roles=who.roles,
        implementing_department=found.implementing_department,
        group=members or found.group,
        auditors=auditors,
    ):
        readers = "the group, the implementing department's reviewers"
        raise Problem(
            403,
            "Forbidden",
            f"a task's files are for {readers}" + (" and the auditors" if auditors else ""),
        )


@router.get(
    "/tasks/{task}/files/{sha256}",
    summary="Download a file of a task",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA}}},
)
async def download(
    task: UUID, sha256: Sha256, request: Request, who: Reader, app: App, db: Pool
) -> Response:
    """For the group and the implementing department's reviewers; only files named on
    this task."""
    found = await read_task(request, who, app, db, task)
    await files_for(who, db, found, auditors=False)
    if sha256 not in found.files:
        raise Problem(404, "Not found", f"no file {sha256} on task {task}")
    stored = await evidence.fetch(db, sha256)
    if stored is None:
        raise Problem(404, "Not found", f"file {sha256} is not in the store")
    media_type, content = stored
    return Response(content, media_type=media_type, headers={"Cache-Control": "private"})


@router.post("/tasks/{task}/follow-up/order", response_model=TaskView, summary="责令限期改正")
async def order(
    task: UUID, body: OrderIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """The handling decision with the deadline; a result with problems becomes final for
    disclosure on this decision (published at once if already reviewed)."""
    return await task_command(
        request,
        who,
        db,
        app.order_correction,
        task,
        decided_on=body.decided_on,
        deadline=body.deadline,
        decision_no=body.decision_no,
        documents=body.documents,
    )


@router.post("/tasks/{task}/follow-up/reinspection", response_model=TaskView, summary="复查")
async def reinspection(
    task: UUID, body: ReinspectionIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """Whether the subject corrected by the deadline."""
    return await task_command(
        request,
        who,
        db,
        app.reinspect,
        task,
        on=body.reinspected_on,
        corrected=body.corrected,
        finding=body.finding,
        documents=body.documents,
    )


@router.post(
    "/tasks/{task}/follow-up/closure",
    response_model=TaskView,
    summary="Close the follow-up with its outcome",
)
async def closure(
    task: UUID, body: ClosureIn, request: Request, who: Recorder, app: App, db: Pool
) -> Any:
    """corrected, 立案查处 (case_filed), 移交 (transferred, naming the receiving department)
    or 移送司法机关 (referred); a credit event follows."""
    return await task_command(
        request,
        who,
        db,
        app.close_follow_up,
        task,
        outcome=body.outcome,
        decided_on=body.decided_on,
        receiving_department=body.receiving_department,
        decision_no=body.decision_no,
        documents=body.documents,
    )


@router.get(
    "/tasks/{task}/case-file",
    summary="The case file (立卷归档) as a ZIP",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
async def case_file(task: UUID, request: Request, who: Reader, app: App, db: Pool) -> Response:
    """The task's stored events, its check forms, every file and a manifest of their
    SHA-256 and the hash chain; ``ssj results verify-case FILE.zip`` checks it offline.
    For the group, the implementing department's reviewers and the auditors."""
    found = await read_task(request, who, app, db, task)
    await files_for(who, db, found, auditors=True)
    # The events up to the version read: one appended since (a file, a review, a recount)
    # would otherwise make the record and the events disagree in an honest file.
    stored = [
        e for e in await run_command(request, who, app.stored_events, task) if e[0] <= found.version
    ]
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed once streamed)
    writer = casefile.CaseWriter(spool)
    writer.add_events(stored)
    for sha256, named in sorted(found.files.items()):
        got = await evidence.fetch(db, sha256)
        if got is None:
            spool.close()
            raise Problem(503, "File missing", f"file {sha256} is named but not stored")
        await asyncio.to_thread(writer.add_file, got[0], got[1], named)
    writer.finish(task_view(found))
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := spool.read(1 << 20):
                yield chunk
        finally:
            spool.close()

    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{task}.zip"'},
    )
