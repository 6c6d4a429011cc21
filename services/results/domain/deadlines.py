"""Working-day deadlines (工作日) on the Chinese holiday calendar (``chinesecalendar``).

The State Council publishes each year's holiday arrangement late in the year before, so
the calendar package can lag behind. For a year it does not cover yet, Monday to Friday
count as working days and the deadline is marked *provisional*; it is never silently
presented as final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

RESULT_DEADLINE_WORKING_DAYS = 20  # results within 20 working days of the inspection's end


@dataclass(frozen=True)
class Deadline:
    """A due date, and whether part of it was counted without the official calendar."""

    due_on: date
    provisional: bool


def is_working_day(day: date) -> tuple[bool, bool]:
    """(working day?, known from the official calendar?) — 调休 weekends count as work."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_working_days(start: date, days: int) -> Deadline:
    """The date ``days`` working days after ``start``."""
    current = start
    remaining = days
    provisional = False
    while remaining > 0:
        current += timedelta(days=1)
        working, official = is_working_day(current)
        provisional = provisional or not official
        if working:
            remaining -= 1
    return Deadline(current, provisional)


def result_due_on(batch_ends_on: date) -> Deadline:
    """Last day to record results of a batch ending on ``batch_ends_on``."""
    return add_working_days(batch_ends_on, RESULT_DEADLINE_WORKING_DAYS)
