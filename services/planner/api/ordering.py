"""HTTP API of the random order of a plan's batches (批次顺序, domain/batch_order.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, Field

from libs.common.commands import Command
from libs.common.service import run_command
from services.planner.api.deps import App, Draws, Office

router = APIRouter(prefix="/v1", tags=["plans"])
SourceCode = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]


class BatchOrderIn(Command):
    """公告: the drawing whose numbers will order the batches."""

    source: SourceCode = Field(description="an entropy source the draw service keeps")
    issue: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,24}$")] = Field(description="期号")
    scheduled_at: AwareDatetime = Field(description="when the drawing takes place")


class NumbersIn(Command):
    """抽取: the drawing's numbers as published (digits separated by spaces or commas)."""

    numbers: Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[0-9 ,]+$")]


def _order_view(plan: Any) -> dict[str, Any]:
    return {"id": str(plan.id), "number": plan.number, "batch_order": plan.batch_order}


@router.post(
    "/plans/{plan_id}/batch-order",
    status_code=201,
    summary="Announce the drawing that orders a plan's batches (office)",
)
async def announce_batch_order(
    plan_id: UUID, body: BatchOrderIn, request: Request, who: Office, app: App, draws: Draws
) -> Any:
    """004: 抽查比例高的，可以通过随机抽取的方式确定检查批次顺序. The office names a public
    drawing ahead of time (a source the draw service keeps, its issue and time); the order
    follows from its numbers (protocol ssj-batch-order-1, docs/api.md)."""
    source = await asyncio.to_thread(draws.source, body.source)
    scheduled: datetime = body.scheduled_at
    plan = await run_command(
        request,
        who,
        lambda: app.announce_batch_order(
            plan_id, source=source, issue=body.issue, scheduled_at=scheduled
        ),
    )
    return _order_view(plan)


@router.post(
    "/plans/{plan_id}/batch-order/draw", summary="Order a plan's batches by the drawing (office)"
)
async def draw_batch_order(
    plan_id: UUID, body: NumbersIn, request: Request, who: Office, app: App
) -> Any:
    """After the drawing: its numbers give the order, which anyone can recompute."""
    plan = await run_command(request, who, app.draw_batch_order, plan_id, body.numbers)
    return _order_view(plan)
