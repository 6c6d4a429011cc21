"""Days as the public names them: in Beijing time (a list "as it stood on 1 March" is the
list at the end of that day there)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
FIRST_YEAR, LAST_YEAR = 2000, 2100


class InvalidDay(ValueError):
    """A day outside the years the record can hold."""


def end_of_day(day: date) -> datetime:
    """The moment a day ends in Beijing; :class:`InvalidDay` outside 2000–2100 (the day
    after 9999-12-31 does not exist)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidDay(f"a day lies in the years {FIRST_YEAR} to {LAST_YEAR}")
    return datetime.combine(day + timedelta(days=1), time(), BEIJING)
