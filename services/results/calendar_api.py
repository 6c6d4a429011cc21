"""HTTP API of the working calendar (工作日历): the office loads a year as the State Council
published it; anyone asks for a deadline or a year (no token)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from libs.common.auth import Principal, require_roles
from libs.common.commands import Command
from libs.common.problems import Problem
from libs.common.service import application, run_command
from services.results.answers import CalendarYearLoaded, CalendarYearView, DeadlineView
from services.results.application import ResultsApplication
from services.results.domain.calendar import FIRST_YEAR, LAST_YEAR, MAX_WORKING_DAYS

router = APIRouter(prefix="/v1", tags=["calendar"])
Office = Annotated[Principal, Depends(require_roles("office"))]
App = Annotated[ResultsApplication, Depends(application)]
Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="the calendar year")]
Day = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class YearIn(Command):
    """A year as published (国务院办公厅关于…部分节假日安排的通知): every holiday, and the
    weekend days that are worked (调休上班)."""

    holidays: list[Day] = Field(max_length=366, description="放假日期, YYYY-MM-DD")
    workdays: list[Day] = Field(
        [], max_length=106, description="调休上班的周末日期, YYYY-MM-DD (Saturdays, Sundays)"
    )


def _year_view(year: int, source: str, holidays: list[Any], workdays: list[Any]) -> dict[str, Any]:
    return {
        "year": year,
        "source": source,
        "holidays": [str(d) for d in holidays],
        "workdays": [str(d) for d in workdays],
    }


@router.get(
    "/calendar/deadline",
    response_model=DeadlineView,
    summary="A deadline in working days (public)",
)
async def deadline(
    app: App,
    start: date = Query(alias="from", description="the day counting starts after"),
    working_days: int = Query(ge=0, le=MAX_WORKING_DAYS),
) -> dict[str, Any]:
    """``due_on``: the day ``working_days`` working days after ``from`` are complete;
    ``provisional``: it was counted over a year nobody has published yet (weekdays), and
    will be counted again when the office loads it."""
    if not date(2000, 1, 1) <= start <= date(2100, 12, 31):
        raise Problem(
            422,
            "Validation failed",
            "from must lie in 2000-01-01..2100-12-31",
            errors=[{"field": "from", "in": "query", "code": "out_of_range"}],
        )
    found = await asyncio.to_thread(app.deadline, start, working_days)
    return {"from": start, "working_days": working_days, **vars(found)}


@router.get(
    "/calendar/{year}",
    response_model=CalendarYearView,
    summary="A year's holidays and worked weekend days (public)",
)
async def get_year(year: Year, app: App) -> dict[str, Any]:
    """``source``: ``office`` (loaded), ``package`` (chinesecalendar) or ``weekdays``
    (unknown: no holiday known, deadlines over it provisional)."""
    calendar = await asyncio.to_thread(app.calendar, [year])
    return _year_view(year, *calendar.year(year))


@router.put(
    "/calendar/{year}",
    response_model=CalendarYearLoaded,
    summary="Load a year as published (office)",
)
async def load_year(year: Year, body: YearIn, request: Request, who: Office, app: App) -> Any:
    """Recorded as an event; a loaded year takes precedence over the package, and the
    deadlines counted over it are counted again. Loading it again replaces it."""
    found, changed = await run_command(
        request, who, app.load_calendar_year, year, body.holidays, body.workdays
    )
    return {**_year_view(year, "office", found.holidays, found.workdays), "changed": changed}
