"""Results domain rules: working-day deadlines, who records, findings, corrections. No I/O."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.results.domain.assignment import Assignment
from services.results.domain.calendar import Deadline
from services.results.domain.deadlines import (
    add_working_days,
    is_working_day,
    result_deadline,
    result_due_on,
)
from services.results.domain.errors import InvalidResult, NotInGroup
from services.results.domain.record import InspectionRecord, record_id
from services.results.domain.review import authorise_entry

DRAW, SUBJECT = str(uuid.uuid4()), str(uuid.uuid4())
ASSIGNMENT = Assignment.from_fields(
    {
        "draw_id": DRAW,
        "subject_id": SUBJECT,
        "batch_id": str(uuid.uuid4()),
        "plan_id": str(uuid.uuid4()),
        "identifier": "91420202MA4K00000X",
        "name": "黄石市某某商贸有限公司",
        "initiating_department": "SAMR",
        "items": [{"code": "SAMR-1"}, {"code": "TAX-1"}],
        "inspectors": [
            {"inspector_id": "insp-leader", "department": "SAMR", "role": "leader"},
            {"inspector_id": "insp-member", "department": "TAX", "role": "member"},
        ],
        "ends_on": "2026-09-30",
        "due_on": "2026-11-03",
    }
)


# -- 工作日 deadlines on the real 2026 calendar ------------------------------------------


def test_national_day_holiday_and_its_makeup_saturday() -> None:
    # 2026 国庆节、中秋节: 10月1日至7日放假; 9月20日（周日）、10月10日（周六）上班
    assert not is_working_day(date(2026, 10, 1))
    assert not is_working_day(date(2026, 10, 7))
    assert is_working_day(date(2026, 9, 20))
    assert is_working_day(date(2026, 10, 10))
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_result_deadline_is_twenty_working_days_after_the_batch_ends() -> None:
    assert result_due_on(date(2026, 3, 2)) == date(2026, 3, 30)  # four plain weeks
    # Over 国庆: 10月8日 is the first working day after 9月30日.
    assert result_due_on(date(2026, 9, 30)) == date(2026, 11, 3)
    # Over 中秋 (9月25日) and 国庆, with both makeup days worked.
    assert result_due_on(date(2026, 9, 18)) == date(2026, 10, 22)


def test_spring_festival_pushes_the_deadline_back() -> None:
    # 2026 春节: 2月15日至23日放假; 2月14日、2月28日（周六）上班
    assert not is_working_day(date(2026, 2, 23))
    assert is_working_day(date(2026, 2, 28))
    assert result_due_on(date(2026, 2, 13)) == date(2026, 3, 19)


@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 12, 3)))
def test_deadline_is_the_twentieth_official_working_day_after_the_end(ends_on: date) -> None:
    due_on = result_due_on(ends_on)
    # The package's own list of working days is the independent oracle.
    counted = chinese_calendar.get_workdays(ends_on + timedelta(days=1), due_on)
    assert len(counted) == 20 and counted[-1] == due_on


def test_deadline_beyond_the_holiday_calendar_is_provisional() -> None:
    assert result_deadline(date(2026, 12, 3)) == Deadline(date(2026, 12, 31), False)
    # A year no package knows (2099): weekdays, marked provisional.
    assert result_deadline(date(2098, 12, 31)) == Deadline(date(2099, 1, 28), True)
    assert result_deadline(date(2003, 11, 3)).provisional


# -- who records ------------------------------------------------------------------------


def _enter(sub: str, dept: str, roles: set[str]) -> None:
    # The implementing department is the group leader's, the initiating one here.
    authorise_entry(
        sub=sub, dept=dept, roles=roles, department="SAMR", group=ASSIGNMENT.inspector_ids
    )


def test_inspector_of_the_group_may_record() -> None:
    _enter("insp-member", "TAX", {"inspector"})


def test_inspector_outside_the_group_may_not_record() -> None:
    with pytest.raises(NotInGroup, match="not in the inspection group"):
        _enter("insp-other", "SAMR", {"inspector"})


def test_group_member_id_without_inspector_role_is_not_enough() -> None:
    with pytest.raises(NotInGroup):
        _enter("insp-leader", "TAX", {"auditor"})


def test_operator_of_the_implementing_department_or_the_office_may_record() -> None:
    _enter("op-1", "SAMR", {"operator"})
    _enter("office-1", "OFFICE", {"office"})
    with pytest.raises(NotInGroup):
        _enter("op-2", "TAX", {"operator"})


# -- ResultRecorded ---------------------------------------------------------------------


def _record(**overrides: Any) -> InspectionRecord:
    fields: dict[str, Any] = {
        "assignment": ASSIGNMENT,
        "inspected_on": date(2026, 10, 20),
        "today": date(2026, 10, 21),
        "outcome": "no_problem",
        "findings": [{"item_code": "SAMR-1", "outcome": "no_problem", "note": ""}],
        "department": "SAMR",
    }
    fields.update(overrides)
    return InspectionRecord.record(**fields)


def test_result_recorded_carries_the_contract_fields() -> None:
    record = _record()
    (event,) = record.collect_events()
    assert type(event).__name__ == "ResultRecorded"
    assert record.id == record_id(DRAW, SUBJECT)
    assert (record.draw_id, record.subject_id) == (DRAW, SUBJECT)
    assert record.subject_identifier == "91420202MA4K00000X"
    assert record.due_on == "2026-11-03" and record.late is False
    assert record.recorded_by_department == "SAMR"


def test_a_subject_has_one_record_id_per_draw() -> None:
    assert record_id(DRAW, SUBJECT) == _record().id
    assert record_id(str(uuid.uuid4()), SUBJECT) != record_id(DRAW, SUBJECT)


def test_result_after_the_deadline_is_marked_late() -> None:
    assert not _record(today=date(2026, 11, 3)).late
    assert _record(today=date(2026, 11, 4)).late


def test_result_with_unknown_deadline_is_recorded_without_late_flag() -> None:
    undated = Assignment.from_fields({**vars(ASSIGNMENT), "due_on": None})
    record = _record(assignment=undated, today=date(2027, 3, 1))
    assert record.due_on is None and record.late is False


def test_inspection_date_in_the_future_is_rejected() -> None:
    with pytest.raises(InvalidResult, match="future"):
        _record(inspected_on=date(2026, 10, 22))


def test_findings_for_items_outside_the_inspection_are_rejected() -> None:
    with pytest.raises(InvalidResult, match="EPB-9"):
        _record(findings=[{"item_code": "EPB-9", "outcome": "no_problem", "note": ""}])


def test_an_item_has_at_most_one_finding() -> None:
    twice = [{"item_code": "TAX-1", "outcome": "no_problem", "note": ""}] * 2
    with pytest.raises(InvalidResult, match="more than once"):
        _record(findings=twice)


def test_unknown_outcome_is_rejected() -> None:
    with pytest.raises(InvalidResult, match="unknown outcome"):
        _record(outcome="fine")
    with pytest.raises(InvalidResult, match=r"findings\[0\]"):
        _record(findings=[{"item_code": "TAX-1", "outcome": "fine", "note": ""}])


def test_no_problem_outcome_cannot_have_problem_findings() -> None:
    findings = [{"item_code": "TAX-1", "outcome": "problem_pending", "note": "账实不符"}]
    with pytest.raises(InvalidResult, match="contradicts"):
        _record(findings=findings)
    assert _record(outcome="problem_pending", findings=findings).findings == findings


# -- ResultCorrected --------------------------------------------------------------------


def test_correction_is_appended_and_keeps_the_original() -> None:
    record = _record()
    record.correct(
        assignment=ASSIGNMENT, outcome="problem_pending", findings=[], reason="复核发现问题"
    )
    events = record.collect_events()
    assert [type(e).__name__ for e in events] == ["ResultRecorded", "ResultCorrected"]
    assert vars(events[0])["outcome"] == "no_problem"
    assert record.outcome == "problem_pending" and record.version == 2
    assert record.corrections == [
        {"from": "no_problem", "to": "problem_pending", "reason": "复核发现问题"}
    ]


def test_correction_needs_a_reason() -> None:
    with pytest.raises(InvalidResult, match="reason"):
        _record().correct(assignment=ASSIGNMENT, outcome="closed", findings=[], reason=" ")


def test_correction_that_changes_nothing_is_rejected() -> None:
    record = _record()
    with pytest.raises(InvalidResult, match="changes neither"):
        record.correct(
            assignment=ASSIGNMENT, outcome=record.outcome, findings=record.findings, reason="x"
        )


def test_correction_follows_the_same_findings_rules() -> None:
    with pytest.raises(InvalidResult, match="EPB-9"):
        _record().correct(
            assignment=ASSIGNMENT,
            outcome="problem_pending",
            findings=[{"item_code": "EPB-9", "outcome": "problem_pending", "note": ""}],
            reason="补充",
        )
