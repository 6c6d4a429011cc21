"""The working calendar's commands and questions (domain/calendar.py): commands of
:class:`~services.results.application.ResultsApplication`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import date

from libs.common.eventstore import EventStoreApp
from services.results.domain.calendar import (
    CalendarYear,
    Deadline,
    WorkingCalendar,
    arrangement,
    calendar_id,
)

# 366 working days reach into the second year after the start at most.
YEARS_AHEAD = 2
# Loaded years are read again after this many seconds: a load at another replica is seen
# within it (this replica's own loads at once). Every review and decision counts a deadline.
CALENDAR_TTL = 10.0


class CalendarCommands(EventStoreApp):
    """Load a year as published; count working days over the loaded years."""

    def load_calendar_year(
        self, year: int, holidays: Sequence[str], workdays: Sequence[str]
    ) -> tuple[CalendarYear, bool]:
        """Load (or load again) a year; returns it and whether anything was recorded."""
        checked = arrangement(year, holidays, workdays)
        days = sorted(str(d) for d in checked.holidays), sorted(str(d) for d in checked.workdays)
        key = calendar_id(year)
        if key in self.repository:
            found: CalendarYear = self.repository.get(key)
            changed = found.replace(*days)
        else:
            found, changed = CalendarYear(year=year, holidays=days[0], workdays=days[1]), True
        if changed:
            self.save(found)
            self.__dict__.get("_calendars", {}).clear()
        return found, changed

    _calendars: dict[tuple[int, ...], tuple[float, WorkingCalendar]]

    def calendar(self, years: Iterable[int]) -> WorkingCalendar:
        """The calendar with every loaded year among ``years`` (cached briefly)."""
        key = tuple(years)
        cache = self.__dict__.setdefault("_calendars", {})
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CALENDAR_TTL:
            return hit[1]
        found = self._load_calendar(key)
        cache[key] = (time.monotonic(), found)
        return found

    def _load_calendar(self, years: Iterable[int]) -> WorkingCalendar:
        loaded = {}
        for year in years:
            key = calendar_id(year)
            if key in self.repository:
                found: CalendarYear = self.repository.get(key)
                loaded[year] = found.arrangement()
        return WorkingCalendar(loaded)

    def deadline(self, start: date, working_days: int) -> Deadline:
        """The day ``working_days`` working days after ``start`` are complete."""
        years = range(start.year, min(start.year + YEARS_AHEAD, 9999) + 1)
        return self.calendar(years).add_working_days(start, working_days)
