"""HTTP API of the entropy sources 公开随机源: the office registers, everyone signed in reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, field_validator

from libs.common.auth import Principal, require_roles
from libs.common.commands import Command, Instant
from libs.common.paging import DEFAULT_LIMIT, Limit, Offset, page
from libs.common.service import application, pool, run_command
from libs.common.text import line
from services.draw.answers import Drawing, SourceNumbers, SourceView
from services.draw.application import DrawApplication
from services.draw.domain.errors import InvalidDraw
from services.draw.domain.sources import EntropySource, check_issue, check_scheduled
from services.draw.protocol.entropy import (
    MAX_GROUPS,
    MAX_VALUE,
    EntropyError,
    EntropyFormat,
    canonical_text,
    parse_numbers,
)

router = APIRouter(prefix="/v1", tags=["entropy sources"])
Office = Annotated[Principal, Depends(require_roles("office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[DrawApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]
SourceCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$",
        description="Lower-case letters, digits and hyphens, e.g. 'cwl-ssq'.",
    ),
]


class GroupSpec(Command):
    """One group of a source's numbers: ``count`` whole numbers from ``low`` to ``high``;
    ``ordered`` false for a set (published ascending, no repeats), true for a sequence."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,16}$")]
    count: int = Field(ge=1, le=64)
    low: int = Field(ge=0, le=MAX_VALUE)
    high: int = Field(ge=1, le=MAX_VALUE)
    ordered: bool = False


class Schedule(Command):
    """When the source draws, in Beijing time: ISO weekdays (1 Monday … 7 Sunday), HH:MM."""

    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(min_length=1, max_length=7)
    time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class SourceRequest(Command):
    """A source of public entropy (公开随机源)."""

    code: SourceCode
    name: Annotated[str, line(100, min_length=2)] = Field(description="e.g. 中国福利彩票双色球")
    publisher: Annotated[str, line(200, min_length=2)] = Field(
        description="Who publishes the numbers, e.g. 中国福利彩票发行管理中心"
    )
    groups: list[GroupSpec] = Field(min_length=1, max_length=MAX_GROUPS)
    schedule: Schedule | None = Field(
        default=None,
        description="The source's regular drawings; none for an on-site drawing (现场摇号) "
        "held when each announcement says.",
    )

    @field_validator("groups")
    @classmethod
    def _readable(cls, groups: list[GroupSpec]) -> list[GroupSpec]:
        EntropyFormat.from_json({"groups": [g.model_dump() for g in groups]})
        return groups


def _view(source: EntropySource) -> dict[str, Any]:
    return {
        "code": source.code,
        "name": source.name,
        "publisher": source.publisher,
        "format": source.format,
        "schedule": source.schedule,
        "registered_at": source.created_on.isoformat(),
    }


@router.post(
    "/entropy-sources",
    status_code=201,
    response_model=SourceView,
    summary="Register a source of public entropy (office)",
)
async def register(body: SourceRequest, request: Request, who: Office, app: App) -> Any:
    """The office registers a lottery or an on-site drawing whose numbers may complete a
    draw's seed; a code is registered once (409)."""
    source = await run_command(
        request,
        who,
        app.register_source,
        code=body.code,
        name=body.name,
        publisher=body.publisher,
        format={"groups": [g.model_dump() for g in body.groups]},
        schedule=body.schedule.model_dump() if body.schedule else None,
    )
    return _view(source)


@router.get(
    "/entropy-sources/{code}", response_model=SourceView, summary="One source of public entropy"
)
async def get_source(code: SourceCode, request: Request, who: Reader, app: App) -> Any:
    """The source as registered (404 if unknown)."""
    return _view(await run_command(request, who, app.get_source, code))


@router.get(
    "/entropy-sources",
    response_model=list[SourceView],
    summary="The registered sources of public entropy (limit, offset)",
)
async def list_sources(
    who: Reader,
    db: Pool,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """By code, from the draw's read model."""
    rows = await db.fetch(
        """SELECT code, name, publisher, format, schedule, registered_at
           FROM draw.entropy_sources ORDER BY code LIMIT $1 OFFSET $2""",
        limit + 1,
        offset,
    )
    return [
        dict(r, registered_at=r["registered_at"].isoformat())
        for r in page(rows, request, response, offset=offset, limit=limit)
    ]


class DrawingIn(Command):
    """A drawing of the source, as an announcement names it."""

    issue: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,24}$")]
    scheduled_at: Instant


class NumbersIn(Command):
    """A drawing's numbers as published."""

    numbers: Annotated[str, line(300, min_length=1)]


@router.post(
    "/entropy-sources/{code}/drawings/check",
    response_model=Drawing,
    summary="Check a drawing as an announcement would (for other services' draws)",
)
async def check_drawing(
    code: SourceCode, body: DrawingIn, request: Request, who: Reader, app: App, db: Pool
) -> Any:
    """The same checks an announcement makes (a time of the source's schedule, far enough
    ahead, its issue in step with the issues named before): the planner's batch order draws
    on the same public randomness as the draws (422 when the drawing does not qualify)."""
    source = await run_command(request, who, app.announceable_source, code)
    named = [
        (r["issue"], r["scheduled_at"])
        for r in await db.fetch(
            "SELECT issue, scheduled_at FROM draw.source_issues WHERE source = $1", code
        )
    ]
    now = datetime.now(UTC)
    scheduled_at = body.scheduled_at.astimezone(UTC)
    check_scheduled(source, scheduled_at, now, timedelta(seconds=app.lead_seconds))
    check_issue(source, body.issue, scheduled_at, named)
    return source.spec(body.issue, scheduled_at)


@router.post(
    "/entropy-sources/{code}/numbers",
    response_model=SourceNumbers,
    summary="Read a drawing's numbers",
)
async def read_numbers(
    code: SourceCode, body: NumbersIn, request: Request, who: Reader, app: App
) -> Any:
    """The numbers in the source's format and canonical text (422 if they do not fit it:
    too many, out of range, a set not in ascending order)."""
    source = await run_command(request, who, app.get_source, code)
    fmt = EntropyFormat.from_json(source.format)
    try:
        numbers = parse_numbers(fmt, body.numbers)
    except EntropyError as exc:
        raise InvalidDraw(f"{source.name}: {exc}") from exc
    return {"source": code, "numbers": canonical_text(fmt, numbers)}
