"""Working-day deadlines (工作日) on the official calendar (domain/calendar.py).

Results are due 20 working days after the inspection's end (002: otherwise the task counts
as not done). Counted over a year nobody has published yet, a deadline is provisional and
is counted again when the office loads the year.
"""

from __future__ import annotations

from datetime import date

from services.results.domain.calendar import Deadline, WorkingCalendar

RESULT_DEADLINE_WORKING_DAYS = 20  # results within 20 working days of the inspection's end
PACKAGE = WorkingCalendar()  # the package alone, for callers without loaded years


def is_working_day(day: date, calendar: WorkingCalendar = PACKAGE) -> bool:
    """工作日 — a working day by the calendar (a 调休 Saturday is one)."""
    return calendar.is_working_day(day)[0]


def add_working_days(start: date, days: int, calendar: WorkingCalendar = PACKAGE) -> date:
    """The day on which ``days`` working days after ``start`` are complete."""
    return calendar.add_working_days(start, days).due_on


def result_deadline(ends_on: date, calendar: WorkingCalendar = PACKAGE) -> Deadline:
    """结果录入期限 — last day to record the result of a batch ending on ``ends_on``."""
    return calendar.add_working_days(ends_on, RESULT_DEADLINE_WORKING_DAYS)


def result_due_on(ends_on: date, calendar: WorkingCalendar = PACKAGE) -> date:
    """:func:`result_deadline`'s date."""
    return result_deadline(ends_on, calendar).due_on
