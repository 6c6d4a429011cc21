"""The working calendar: loaded years first, then chinesecalendar, then weekdays marked
provisional; a year as the State Council publishes it, checked. No I/O."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.results.domain.calendar import (
    CalendarYear,
    Deadline,
    WorkingCalendar,
    arrangement,
)
from services.results.domain.errors import InvalidCalendar

# 2027 as an office might load it (a made-up arrangement: 元旦 1-3 January, 春节 5-11
# February with Sunday 14 February worked).
HOLIDAYS_2027 = ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10"]
WORKDAYS_2027 = ["2027-02-14"]


def test_an_unknown_year_counts_weekdays_and_says_so() -> None:
    calendar = WorkingCalendar()  # no package will know 2099 and 2100 for a long time
    assert calendar.source(2099) == "weekdays" and calendar.source(2026) == "package"
    due = calendar.add_working_days(date(2099, 12, 30), 3)
    assert due == Deadline(date(2100, 1, 4), True)  # Thu 31 Dec, Fri 1 Jan, Mon 4 Jan
    assert calendar.add_working_days(date(2026, 12, 1), 3) == Deadline(date(2026, 12, 4), False)


def test_a_loaded_year_takes_precedence_and_makes_the_deadline_firm() -> None:
    loaded = {
        2099: arrangement(2099, [], []),
        2100: arrangement(2100, ["2100-01-01", "2100-01-08"], ["2100-01-09"]),
    }
    calendar = WorkingCalendar(loaded)
    assert calendar.source(2100) == "office"
    # Thu 31 Dec, then 1 January a holiday: Mon 4, Tue 5 January.
    assert calendar.add_working_days(date(2099, 12, 30), 3) == Deadline(date(2100, 1, 5), False)
    assert calendar.is_working_day(date(2100, 1, 9)) == (True, False)  # 调休 Saturday
    assert calendar.is_working_day(date(2100, 1, 8)) == (False, False)
    source, holidays, workdays = calendar.year(2100)
    assert source == "office" and workdays == [date(2100, 1, 9)] and len(holidays) == 2


def test_the_package_year_is_shown_as_published() -> None:
    source, holidays, workdays = WorkingCalendar().year(2026)
    assert source == "package"
    assert date(2026, 10, 1) in holidays and date(2026, 2, 28) in workdays
    assert all(d.weekday() < 5 for d in holidays) and all(d.weekday() >= 5 for d in workdays)


@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 11, 1)), st.integers(0, 40))
def test_loading_a_year_as_the_package_has_it_changes_no_deadline(start: date, n: int) -> None:
    _, holidays, workdays = WorkingCalendar().year(start.year)
    loaded = WorkingCalendar(
        {start.year: arrangement(start.year, map(str, holidays), map(str, workdays))}
    )
    assert loaded.add_working_days(start, n) == WorkingCalendar().add_working_days(start, n)


@pytest.mark.parametrize(
    ("holidays", "workdays", "message"),
    [
        (["2027-13-01"], [], "not a YYYY-MM-DD"),
        (["2028-01-01"], [], "not in 2027"),
        (["2027-01-01", "2027-01-01"], [], "twice"),
        (["2027-02-14"], ["2027-02-14"], "both"),
        ([], ["2027-02-15"], "weekdays"),
    ],
)
def test_a_year_that_is_not_as_published_is_refused(
    holidays: list[str], workdays: list[str], message: str
) -> None:
    with pytest.raises(InvalidCalendar, match=message):
        arrangement(2027, holidays, workdays)


@pytest.mark.parametrize("year", [0, 1999, 2101, 9999])
def test_a_year_outside_the_loadable_years_is_refused(year: int) -> None:
    with pytest.raises(InvalidCalendar, match="not a year from 2000 to 2100"):
        arrangement(year, [], [])


def test_working_days_are_bounded() -> None:
    with pytest.raises(InvalidCalendar):
        WorkingCalendar().add_working_days(date(2026, 1, 1), 367)


def test_a_year_loaded_again_is_an_event_only_when_it_differs() -> None:
    year = CalendarYear(year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027)
    assert not year.replace(list(reversed(HOLIDAYS_2027)), WORKDAYS_2027)
    assert year.replace([*HOLIDAYS_2027, "2027-10-01"], WORKDAYS_2027)
    names = [type(e).__name__ for e in year.collect_events()]
    assert names == ["CalendarYearLoaded", "CalendarYearReplaced"]


def test_the_package_is_the_oracle_for_known_years() -> None:
    start = date(2026, 9, 30)
    due = WorkingCalendar().add_working_days(start, 5)
    assert chinese_calendar.get_workdays(start + timedelta(days=1), due.due_on)[-1] == due.due_on
