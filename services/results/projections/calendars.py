"""The working calendar as the read models know it (the years the office loaded)."""

from __future__ import annotations

import asyncpg

from services.results.domain.calendar import WorkingCalendar, arrangement


async def calendar(conn: asyncpg.Connection) -> WorkingCalendar:
    """The working calendar with the years the office loaded (a handful of rows)."""
    rows = await conn.fetch("SELECT year, holidays, workdays FROM results.calendar_years")
    return WorkingCalendar(
        {r["year"]: arrangement(r["year"], r["holidays"], r["workdays"]) for r in rows}
    )
