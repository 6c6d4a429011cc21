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
from services.planner.api.answers import PlanOrder
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

    numbers: Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[0-9 ,|]+$")]


def _order_view(plan: Any) -> dict[str, Any]:
    return {"id": str(plan.id), "number": plan.number, "batch_order": plan.batch_order}


@router.post(
    "/plans/{plan_id}/batch-order",
    status_code=201,
    response_model=PlanOrder,
    response_model_exclude_unset=True,
    summary="Announce the drawing that orders a plan's batches (office)",
)
async def announce_batch_order(
    plan_id: UUID, body: BatchOrderIn, request: Request, who: Office, app: App, draws: Draws
) -> Any:
    """004: 抽查比例高的，可以通过随机抽取的方式确定检查批次顺序. The office names a public
    drawing ahead of time (a source the draw service keeps, its issue and time, checked by
    the draw service as its own announcements are); the order follows from its numbers,
    read in the source's format (protocol ssj-batch-order-1, docs/api.md)."""
    scheduled: datetime = body.scheduled_at
    spec = await asyncio.to_thread(
        draws.check_drawing, body.source, body.issue, scheduled.isoformat()
    )
    plan = await run_command(
        request,
        who,
        lambda: app.announce_batch_order(
            plan_id, source=spec, issue=body.issue, scheduled_at=scheduled
        ),
    )
    return _order_view(plan)


@router.post(
    "/plans/{plan_id}/batch-order/draw",
    response_model=PlanOrder,
    response_model_exclude_unset=True,
    summary="Order a plan's batches by the drawing (office)",
)
async def draw_batch_order(
    plan_id: UUID, body: NumbersIn, request: Request, who: Office, app: App, draws: Draws
) -> Any:
    """After the drawing: its numbers give the order, which anyone can recompute."""
    order = (await asyncio.to_thread(app.get_plan, plan_id)).batch_order
    numbers = body.numbers
    if order is not None:  # read in the source's own format (the draw service knows it)
        numbers = await asyncio.to_thread(draws.read_numbers, order["source"], body.numbers)
    plan = await run_command(request, who, app.draw_batch_order, plan_id, numbers)
    return _order_view(plan)
