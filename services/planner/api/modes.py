"""HTTP API of the modes of joint inspection (联查模式) the office keeps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from libs.common.service import run_command
from services.planner.api.answers import Mode
from services.planner.api.deps import App, Office, Pool, Reader
from services.planner.api.models import ModeIn

router = APIRouter(prefix="/v1", tags=["plans"])


def _mode_view(code: str, name: str, needs_programme: bool) -> dict[str, Any]:
    return {"code": code, "name": name, "needs_programme": needs_programme}


@router.post(
    "/plan-modes",
    status_code=201,
    response_model=Mode,
    summary="Add a mode of joint inspection (office)",
)
async def define_mode(body: ModeIn, request: Request, who: Office, app: App) -> Any:
    """The office adds a mode (联查模式) plans may follow; a code is defined once (409)."""
    mode = await run_command(request, who, lambda: app.define_mode(**body.model_dump()))
    return _mode_view(mode.code, mode.name, mode.needs_programme)


@router.get(
    "/plan-modes",
    response_model=list[Mode],
    summary="The modes of joint inspection plans may follow",
)
async def list_modes(who: Reader, db: Pool) -> Any:
    """Every mode the office keeps, by code (the three of the seeds included)."""
    rows = await db.fetch(
        "SELECT code, name, needs_programme FROM planner.modes_view ORDER BY code"
    )
    return [_mode_view(r["code"], r["name"], r["needs_programme"]) for r in rows]
