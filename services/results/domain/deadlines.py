"""Working-day deadlines (工作日) on the official Chinese holiday calendar.

Holidays and 调休 (weekend days that are worked) come from the ``chinesecalendar``
package. The State Council publishes each year's arrangement late in the previous year
and the package follows later still; for a date it does not cover, counting stops with
:class:`CalendarNotCovered` instead of guessing, because a wrong deadline would mark
results late (or on time) wrongly in the public record.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from services.results.domain.errors import CalendarNotCovered

RESULT_DEADLINE_WORKING_DAYS = 20  # results within 20 working days of the inspection's end


def is_working_day(day: date) -> bool:
    """工作日 — a working day by the official calendar (a 调休 Saturday is one)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        version = getattr(chinese_calendar, "__version__", "?")
        raise CalendarNotCovered(
            f"chinesecalendar {version} has no holiday data for {day.year} ({exc}); "
            f"working days up to {day.isoformat()} cannot be counted until it is upgraded"
        ) from exc


def add_working_days(start: date, days: int) -> date:
    """The day on which ``days`` working days after ``start`` are complete."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def result_due_on(ends_on: date) -> date:
    """结果录入期限 — last day to record the result of a batch ending on ``ends_on``."""
    return add_working_days(ends_on, RESULT_DEADLINE_WORKING_DAYS)
