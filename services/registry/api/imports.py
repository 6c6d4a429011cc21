"""HTTP API of bulk imports: send the file as the request body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from libs.common.answers import Answer
from libs.common.problems import Problem
from libs.common.service import run_command
from libs.common.text import line
from services.registry.api.deps import App, Writer
from services.registry.domain.writing import may_full_sync
from services.registry.imports.importer import Importer
from services.registry.imports.reader import UnreadableFile

router = APIRouter(prefix="/v1", tags=["imports"])
MAX_BYTES = 200 * 1024 * 1024


class RowErrorView(Answer):
    """One problem in one cell (row numbers as in the file)."""

    row: int
    column: str
    code: str
    message: str


class ImportReportView(Answer):
    """What an import did, row by row (``format=csv``: the errors alone, as CSV)."""

    kind: str
    rows_total: int
    rows_applied: int
    events_written: int
    rejected: bool
    missing_marked: int = Field(description="full sync: subjects absent from the file, marked")
    missing_skipped: str = Field(description="full sync: why nobody was marked, if so")
    errors: list[RowErrorView] = Field(description="the first errors (the list is capped)")
    errors_total: int = Field(description="every error found")


@router.post(
    "/imports/{kind}",
    summary="Import subjects or inspectors from CSV or XLSX",
    # The route answers a JSONResponse: the model is declared, never applied.
    response_model=ImportReportView,
    responses={
        200: {
            "description": "applied",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        422: {
            "description": "rejected, with its report (an unreadable file: a problem)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ImportReportView"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
    },
)
async def import_file(
    kind: Literal["subjects", "inspectors"],
    request: Request,
    who: Writer,
    app: App,
    filename: Annotated[
        str,
        line(255, min_length=1),
        Query(description="original file name; .csv or .xlsx decides the format"),
    ],
    partial: bool = Query(False, description="apply the valid rows even if others are bad"),
    format: Literal["json", "csv"] = Query("json", description="report format"),
    mark_missing: Literal["deregistered", "revoked", "moved_out", "cancelled"] | None = Query(
        None,
        description="full sync: give every operating subject not in the file (within "
        "scope) this status, by an explicit status event; nothing is deleted",
    ),
    scope: str = Query(
        "",
        pattern=r"^[0-9]{0,6}$",
        description="full sync: region-code prefix it covers (required with mark_missing)",
    ),
) -> Any:
    """Validate every row (Chinese or English headers); apply all, the valid ones
    (``partial=true``), or nothing. The report lists errors by row and column. A
    department's rows must be its own (else row errors ``department_forbidden``); a full
    sync is the office's alone (403) and names its scope (422)."""
    if mark_missing is not None:
        if not may_full_sync(who):
            raise Problem(
                403,
                "Forbidden",
                "a full sync (mark_missing) is the office's alone (联席会议办公室)",
            )
        if kind != "subjects":
            raise Problem(422, "Invalid request", "only a subject import can mark missing records")
        if not scope:
            raise Problem(
                422,
                "Invalid request",
                "a full sync names its scope, the region-code prefix it covers "
                "(an empty scope would cover every region)",
                errors=[{"field": "scope", "in": "query", "code": "required"}],
            )
    data = await request.body()
    if not data:
        raise Problem(400, "Empty file", "send the file as the request body")
    if len(data) > MAX_BYTES:
        raise Problem(413, "File too large", f"at most {MAX_BYTES // 1024 // 1024} MB per import")
    try:
        report = await run_command(
            request,
            who,
            Importer(app).run,
            kind,
            data,
            filename,
            partial=partial,
            mark_missing=mark_missing,
            scope=scope,
            by=who,
        )
    except UnreadableFile as exc:
        raise Problem(422, "Unreadable file", str(exc)) from exc
    status = 422 if report.rejected else 200
    if format == "csv":
        return Response(
            report.errors_csv(),
            status_code=status,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{kind}-import-report.csv"'},
        )
    return JSONResponse(report.as_dict(), status_code=status)
