"""报送 over HTTP: a period's results as one file for the national system, its SHA-256
recorded as an event before the file is handed out (role office or auditor)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from libs.common.auth import Principal, require_roles
from libs.common.service import application, run_command
from services.disclosure.answers import ExportView
from services.disclosure.application import DisclosureApplication

router = APIRouter(prefix="/v1", tags=["exports"])
Exporter = Annotated[Principal, Depends(require_roles("office", "auditor"))]
App = Annotated[DisclosureApplication, Depends(application)]
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class ExportIn(BaseModel):
    """The period (by 公示日期, both days included) and the file's format."""

    model_config = ConfigDict(extra="forbid")

    period_from: date = Field(description="first day of the period (公示日期)")
    period_to: date = Field(description="last day, at most 366 days after the first")
    format: Literal["xlsx", "csv"] = "xlsx"


@router.post(
    "/exports",
    summary="Export a period's results for the national system 报送",
    response_class=FileResponse,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
async def export(body: ExportIn, request: Request, who: Exporter, app: App) -> FileResponse:
    """The results published in the period, in the national system's columns (抽查计划编号,
    抽查计划名称, 任务编号, 任务名称, 抽查类型, 检查机关, 统一社会信用代码, 企业名称, 检查完成日期,
    检查结果, 备注, 公示日期). The file's SHA-256 is recorded (``ExportRecorded``) before it
    is sent; ``X-Export-Id`` and ``X-Content-SHA256`` name the record and the hash. Cells a
    spreadsheet would take as a formula start with an apostrophe."""
    record, path = await run_command(
        request, who, app.export_results, body.period_from, body.period_to, body.format
    )
    return FileResponse(
        path,
        media_type=MEDIA[body.format],
        filename=record.file_name,
        headers={"X-Export-Id": str(record.id), "X-Content-SHA256": record.sha256},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get(
    "/exports/{export_id}", response_model=ExportView, summary="One export's record 报送记录"
)
async def export_record(
    export_id: UUID, request: Request, who: Exporter, app: App
) -> dict[str, Any]:
    """What was sent: the period, the format, how many rows, the file's SHA-256 and size,
    when and (in the event) by whom. Hash a file again to prove it is the one sent."""
    found = await run_command(request, who, app.get_export, export_id)
    return found.view()
