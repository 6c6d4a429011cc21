"""Results domain: working-day deadlines and append-only corrections."""

from __future__ import annotations

from datetime import date

import pytest

from services.results.domain.deadlines import add_working_days, result_due_on
from services.results.domain.errors import InvalidResult
from services.results.domain.record import InspectionRecord

ASSIGNMENT = {
    "draw_id": "d1",
    "batch_id": "b1",
    "plan_id": "p1",
    "subject_id": "s1",
    "identifier": "91420202MA4K00000X",
    "name": "黄石市某某商贸有限公司",
    "items": [{"code": "SAMR-1"}, {"code": "TAX-1"}],
    "due_on": "2026-10-28",
}


def test_national_day_holiday_is_not_a_working_day() -> None:
    # 2026: 10月1日至7日放假调休; 10月10日（周六）上班
    assert add_working_days(date(2026, 9, 30), 1).due_on == date(2026, 10, 8)
    assert add_working_days(date(2026, 9, 30), 3).due_on == date(2026, 10, 10)


def test_twenty_working_days_inside_the_official_calendar_are_final() -> None:
    deadline = result_due_on(date(2026, 3, 2))
    assert deadline == type(deadline)(date(2026, 3, 30), False)


def test_deadline_past_the_calendar_is_counted_on_weekdays_and_marked_provisional() -> None:
    deadline = result_due_on(date(2026, 12, 31))
    assert deadline.provisional
    assert deadline.due_on == date(2027, 1, 28)


def _record(**overrides: object) -> InspectionRecord:
    fields: dict = {
        "assignment": ASSIGNMENT,
        "inspected_on": date(2026, 10, 20),
        "today": date(2026, 10, 21),
        "outcome": "no_problem",
        "findings": [{"item_code": "SAMR-1", "outcome": "no_problem", "note": ""}],
        "department": "SAMR",
    }
    fields.update(overrides)
    return InspectionRecord.record(**fields)


def test_result_after_the_deadline_is_marked_late() -> None:
    assert not _record().late
    assert _record(today=date(2026, 10, 29)).late


def test_inspection_date_in_the_future_is_rejected() -> None:
    with pytest.raises(InvalidResult, match="future"):
        _record(inspected_on=date(2026, 10, 22))


def test_findings_for_items_outside_the_inspection_are_rejected() -> None:
    with pytest.raises(InvalidResult, match="EPB-9"):
        _record(findings=[{"item_code": "EPB-9", "outcome": "no_problem", "note": ""}])


def test_unknown_outcome_is_rejected() -> None:
    with pytest.raises(InvalidResult, match="unknown outcome"):
        _record(outcome="fine")


def test_correction_is_appended_and_keeps_the_original() -> None:
    record = _record()
    record.correct(
        outcome="problem_pending", findings=[], reason="复核发现问题", item_codes={"SAMR-1"}
    )
    events = record.collect_events()
    assert [type(e).__name__ for e in events] == ["ResultRecorded", "ResultCorrected"]
    assert record.outcome == "problem_pending"
    assert record.corrections == [
        {"from": "no_problem", "to": "problem_pending", "reason": "复核发现问题"}
    ]


def test_correction_needs_a_reason() -> None:
    with pytest.raises(InvalidResult, match="reason"):
        _record().correct(outcome="no_problem", findings=[], reason=" ", item_codes=set())
