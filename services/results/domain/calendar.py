"""工作日历 — working days on the official calendar, and the years the office loads.

The State Council publishes each year's holidays and 调休 (weekend days that are worked)
late in the year before; the ``chinesecalendar`` package follows later still. So a year
comes from, in this order: the arrangement the office loaded (``PUT /v1/calendar/{year}``,
exactly as published: the holidays, and the weekend days that are worked), the package, or,
while neither knows it, plain weekdays — a deadline counted over such a year is
*provisional* and is counted again when the year is loaded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from eventsourcing.domain import Aggregate, event

from services.results.domain.errors import InvalidCalendar

NAMESPACE = uuid.UUID("6e1f0c4a-9d2b-4b8e-a7c3-5f1d2e8b9a04")
MAX_WORKING_DAYS = 366
# The years an office may load: a year outside them is a typing error, and PostgreSQL's
# dates (the read models) must hold every day of it.
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class YearArrangement:
    """One year's holidays (放假) and worked weekend days (调休上班)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]


def arrangement(year: int, holidays: Iterable[str], workdays: Iterable[str]) -> YearArrangement:
    """A year as published, checked: dates of that year, each once, none in both lists, and
    every worked day a Saturday or Sunday (a weekday is a working day already)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidCalendar(f"{year} is not a year from {FIRST_YEAR} to {LAST_YEAR}")
    days: dict[str, list[date]] = {}
    for name, values in (("holidays", holidays), ("workdays", workdays)):
        parsed = []
        for text in values:
            try:
                day = date.fromisoformat(str(text))
            except ValueError as exc:
                raise InvalidCalendar(f"{name}: {text!r} is not a YYYY-MM-DD date") from exc
            if day.year != year:
                raise InvalidCalendar(f"{name}: {day} is not in {year}")
            parsed.append(day)
        if len(set(parsed)) != len(parsed):
            raise InvalidCalendar(f"{name}: a date is listed twice")
        days[name] = parsed
    both = sorted(set(days["holidays"]) & set(days["workdays"]))
    if both:
        raise InvalidCalendar(f"dates both holidays and worked days: {[str(d) for d in both]}")
    weekdays = [str(d) for d in days["workdays"] if d.weekday() < 5]
    if weekdays:
        raise InvalidCalendar(
            f"workdays are the weekend days worked (调休上班); {weekdays} are weekdays"
        )
    return YearArrangement(year, frozenset(days["holidays"]), frozenset(days["workdays"]))


@lru_cache(maxsize=8192)
def _package_workday(day: date) -> bool | None:
    """chinesecalendar's verdict on a day, None for a year it does not know. Cached: a
    deadline walks 20-odd days and every review counts one (the package's own check of
    each date cost a twentieth of the results service's CPU)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class Deadline:
    """A due date, and whether a year it was counted over is not known yet."""

    due_on: date
    provisional: bool


class WorkingCalendar:
    """Working days from the loaded years, else the package, else weekdays (provisional)."""

    def __init__(self, loaded: Mapping[int, YearArrangement] | None = None) -> None:
        self.loaded = dict(loaded or {})

    def source(self, year: int) -> str:
        """``office`` (loaded), ``package`` (chinesecalendar) or ``weekdays`` (unknown)."""
        if year in self.loaded:
            return "office"
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return "weekdays"
        return "package"

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(working day, provisional) for ``day``."""
        known = self.loaded.get(day.year)
        if known is not None:
            if day in known.holidays:
                return False, False
            return day in known.workdays or day.weekday() < 5, False
        package = _package_workday(day)
        if package is None:
            return day.weekday() < 5, True
        return package, False

    def add_working_days(self, start: date, days: int) -> Deadline:
        """The day on which ``days`` working days after ``start`` are complete."""
        if not 0 <= days <= MAX_WORKING_DAYS:
            raise InvalidCalendar(f"working days must lie in 0..{MAX_WORKING_DAYS}")
        current, remaining, provisional = start, days, False
        while remaining > 0:
            current += timedelta(days=1)
            working, guessed = self.is_working_day(current)
            provisional = provisional or guessed
            remaining -= working
        return Deadline(current, provisional)

    def year(self, year: int) -> tuple[str, list[date], list[date]]:
        """A year as this calendar has it: its source, holidays on weekdays and worked
        weekend days (for ``weekdays``: none known)."""
        known = self.loaded.get(year)
        if known is not None:
            return "office", sorted(known.holidays), sorted(known.workdays)
        source = self.source(year)
        if source == "weekdays":
            return source, [], []
        days = [date(year, 1, 1) + timedelta(n) for n in range(366)]
        days = [d for d in days if d.year == year]
        holidays = [d for d in days if d.weekday() < 5 and not chinese_calendar.is_workday(d)]
        workdays = [d for d in days if d.weekday() >= 5 and chinese_calendar.is_workday(d)]
        return source, holidays, workdays


def calendar_id(year: int) -> uuid.UUID:
    """Id of the loaded arrangement of one year."""
    return uuid.uuid5(NAMESPACE, f"calendar-year:{year}")


class CalendarYear(Aggregate):
    """A year's arrangement as the office loaded it (国务院办公厅关于…部分节假日安排的通知);
    loading it again replaces it (each load is an event)."""

    @staticmethod
    def create_id(year: int, **_: object) -> uuid.UUID:
        return calendar_id(year)

    @event("CalendarYearLoaded")
    def __init__(self, year: int, holidays: list[str], workdays: list[str]) -> None:
        self.year = year
        self.holidays = holidays
        self.workdays = workdays

    def replace(self, holidays: list[str], workdays: list[str]) -> bool:
        """Load the year again; False when nothing differs (no event)."""
        if sorted(holidays) == sorted(self.holidays) and sorted(workdays) == sorted(self.workdays):
            return False
        self._replaced(year=self.year, holidays=holidays, workdays=workdays)
        return True

    @event("CalendarYearReplaced")
    def _replaced(self, year: int, holidays: list[str], workdays: list[str]) -> None:
        self.holidays = holidays
        self.workdays = workdays

    def arrangement(self) -> YearArrangement:
        """The year as a :class:`YearArrangement`."""
        return arrangement(self.year, self.holidays, self.workdays)
