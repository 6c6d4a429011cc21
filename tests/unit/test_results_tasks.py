"""Inspection tasks (检查任务) as pure domain: the report's rules, review, publication's two
clocks, follow-up transitions, credit notices, and the case file's offline check."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from typing import Any

import pytest

from services.results import casefile
from services.results.domain.calendar import WorkingCalendar
from services.results.domain.credit import notices_for
from services.results.domain.errors import InvalidResult, NotReviewer, TaskStateError
from services.results.domain.forms import form_for
from services.results.domain.review import authorise_review
from services.results.domain.task import InspectionTask

TODAY = date(2026, 11, 20)  # a Friday; 20 working days on is 2026-12-18
CAL = WorkingCalendar()
ITEM = {
    "code": "SAMR-R1",
    "name": "食品经营许可检查",
    "methods": ["on_site", "online"],
    "sub_items": [{"code": "A", "name": "许可证在有效期内"}],
    "check_form": [{"code": "P1", "text": "经营场所与许可一致"}],
}


def _task() -> InspectionTask:
    return InspectionTask(
        draw_id="d",
        subject_id="s",
        batch_id="b",
        plan_id="p",
        subject_identifier="91420200MA4K000001",
        subject_name="黄石某商贸有限公司",
        implementing_department="SAMR",
        initiating_department="SAMR",
        group=[{"inspector_id": "lead", "department": "SAMR", "role": "leader"}],
        forms=[form_for(ITEM)],
        ends_on="2026-11-30",
        due_on="2026-12-28",
        dispatched_on="2026-11-01",
    )


def _report(category: str = "no_problem", failing: int = 0, **extra: Any) -> dict[str, Any]:
    points = [
        {
            "point": "base:A",
            "state": "not_conforming" if failing else "conforming",
            "method": "online",
            "finding": "许可证过期" if failing else "",
        },
        {"point": "form:P1", "state": "conforming", "method": "on_site"},
    ]
    return {
        "inspected_from": "2026-11-19",
        "inspected_to": "2026-11-20",
        "category": category,
        "items": [{"item_code": "SAMR-R1", "methods": ["on_site", "online"], "points": points}],
        "notice": {"given": True, "way": "phone", "on": "2026-11-18"},
        "signature": {"signed": True, "signatory": "王法人"},
        **extra,
    }


def test_the_form_is_the_items_sub_items_and_its_own_check_points() -> None:
    assert [p["point"] for p in form_for(ITEM)["points"]] == ["base:A", "form:P1"]
    assert [p["point"] for p in form_for({"code": "X", "name": "x"})["points"]] == ["base:X"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"category": "no_problem", "failing": 1}, "contradicts"),
        ({"category": "problem_corrected"}, "at least one point"),
        ({"category": "problem_pending", "failing": 1}, "pending_kind"),
        ({"category": "refused"}, "第十八条"),
        ({"notice": None}, "advance notice"),
        ({"notice": {"given": False}}, "legal ground"),
        ({"notice": {"given": True, "way": "phone", "on": "2026-11-20"}}, "after the inspection"),
        ({"signature": None}, "signed"),
        ({"signature": {"signed": False, "refusal_reason": "拒签"}}, "witness"),
        ({"inspected_to": "2026-11-21"}, "future"),
        ({"evidence": ["a" * 64]}, "not attached"),
    ],
)
def test_a_report_that_breaks_a_rule_is_refused(change: dict[str, Any], words: str) -> None:
    failing = change.pop("failing", 0)
    category = change.pop("category", "no_problem")
    with pytest.raises(InvalidResult, match=words):
        _task().record(_report(category, failing, **change), TODAY)


def test_every_point_is_recorded_by_one_of_the_items_methods() -> None:
    body = _report()
    body["items"][0]["points"].pop()
    with pytest.raises(InvalidResult, match="every check point"):
        _task().record(body, TODAY)
    body = _report()
    body["items"][0]["points"][1]["method"] = "sampling"
    with pytest.raises(InvalidResult, match="not a method used"):
        _task().record(body, TODAY)
    body = _report()
    body["items"][0]["methods"] = ["sampling"]
    with pytest.raises(InvalidResult, match="not the item's"):
        _task().record(body, TODAY)


def test_a_subject_gone_from_its_address_needs_no_points_and_no_signature() -> None:
    task = _task()
    task.record(_report("unreachable", items=[], notice=None, signature=None), TODAY)
    assert task.state == "inspected"


def test_reviewers_are_of_the_department_and_outside_the_group() -> None:
    authorise_review(sub="rev", dept="SAMR", roles=["reviewer"], department="SAMR", group={"lead"})
    for sub, dept, roles in (
        ("lead", "SAMR", ["reviewer"]),
        ("rev", "TAX", ["reviewer"]),
        ("rev", "SAMR", ["operator"]),
    ):
        with pytest.raises(NotReviewer):
            authorise_review(sub=sub, dept=dept, roles=roles, department="SAMR", group={"lead"})


def test_a_clean_result_is_published_on_approval_due_twenty_working_days_after_the_visit() -> None:
    task = _task()
    task.record(_report(), TODAY)
    with pytest.raises(TaskStateError):
        task.approve(TODAY, CAL)
    task.submit(TODAY, date(2026, 12, 28))
    assert task.late is False
    task.approve(TODAY, CAL)
    assert task.state == "published"
    assert task.published is not None and task.published["publication_due"] == "2026-12-18"
    (notice,) = notices_for(task, list(task.collect_events()))
    assert notice["kind"] == "result" and notice["severity"] == "none"


def test_a_problem_waits_for_its_decision_and_counts_from_it() -> None:
    task = _task()
    task.record(_report("problem_corrected", failing=1), TODAY)
    task.submit(TODAY, None)
    task.approve(TODAY, CAL)
    assert task.state == "reviewed" and task.published is None
    later = date(2026, 11, 27)
    task.order_correction(date(2026, 11, 25), date(2026, 12, 10), "责改1号", [], later, CAL)
    assert task.state == "published" and task.published is not None
    assert task.published["decided_on"] == "2026-11-25"
    assert task.published["publication_due"] == "2026-12-23"  # 20 working days from 11-25


def test_follow_up_goes_order_reinspection_outcome_and_no_other_way() -> None:
    task = _task()
    task.record(_report("problem_pending", failing=1, pending_kind="correction_ordered"), TODAY)
    task.submit(TODAY, None)
    with pytest.raises(TaskStateError):
        task.reinspect(TODAY, True, "", [], TODAY)
    task.order_correction(TODAY, date(2026, 12, 1), "", [], TODAY, CAL)
    with pytest.raises(TaskStateError):
        task.order_correction(TODAY, date(2026, 12, 1), "", [], TODAY, CAL)
    with pytest.raises(TaskStateError, match="re-inspection"):
        task.close_follow_up("referred", TODAY, "", "", [], TODAY, CAL)
    assert task.follow_up.overdue(date(2026, 12, 2)) and not task.follow_up.overdue(TODAY)
    task.reinspect(TODAY, False, "仍未改正", [], TODAY)
    with pytest.raises(InvalidResult, match="corrected closes"):
        task.close_follow_up("corrected", TODAY, "", "", [], TODAY, CAL)
    with pytest.raises(InvalidResult, match="receiving_department"):
        task.close_follow_up("transferred", TODAY, "", "", [], TODAY, CAL)
    task.close_follow_up("transferred", TODAY, "黄石市应急管理局", "", [], TODAY, CAL)
    events = list(task.collect_events())
    kinds = [n["kind"] for n in notices_for(task, events)]
    assert kinds == ["follow_up"]
    with pytest.raises(TaskStateError):
        task.close_follow_up("referred", TODAY, "", "", [], TODAY, CAL)


def test_a_clean_result_has_no_follow_up() -> None:
    task = _task()
    task.record(_report(), TODAY)
    task.submit(TODAY, None)
    with pytest.raises(InvalidResult, match="no follow-up"):
        task.order_correction(TODAY, date(2026, 12, 1), "", [], TODAY, CAL)


def test_a_refusal_publishes_a_non_cooperation_notice_too() -> None:
    task = _task()
    refusal = {"case": "withheld_materials", "description": "拒绝提供会计资料"}
    task.record(_report("refused", items=[], non_cooperation=refusal), TODAY)
    task.submit(TODAY, None)
    task.approve(TODAY, CAL)
    notices = notices_for(task, list(task.collect_events()))
    assert [(n["kind"], n["severity"]) for n in notices] == [
        ("result", "serious"),
        ("non_cooperation", "serious"),
    ]


def test_a_correction_is_reviewed_and_published_as_the_next_edition() -> None:
    task = _task()
    task.record(_report(), TODAY)
    task.submit(TODAY, None)
    task.approve(TODAY, CAL)
    with pytest.raises(InvalidResult, match="changes nothing"):
        task.propose_correction(_report(), "无", TODAY)
    changed = _report(summary="补记")
    task.propose_correction(changed, "补记现场情况", TODAY)
    assert task.published is not None and task.published["edition"] == 1
    task.review_correction(True, "", TODAY, CAL)
    assert task.published["edition"] == 2 and task.corrections[0]["reason"] == "补记现场情况"


def _case(states: list[bytes], files: dict[str, bytes]) -> bytes:
    stored = [
        (n, f"x:T.{'EvidenceAttached' if b'sha256' in s else 'E'}", s)
        for n, s in enumerate(states, 1)
    ]
    blobs = {hashlib.sha256(b).hexdigest(): ("image/png", b) for b in files.values()}
    return casefile.build({"id": "t"}, stored, blobs, {})


def _chain(bodies: list[dict[str, Any]]) -> list[bytes]:
    out, prev = [], "0" * 64
    for body in bodies:
        state = json.dumps({**body, "meta": {"prev_hash": prev}}).encode()
        out.append(state)
        prev = hashlib.sha256(state).hexdigest()
    return out


def test_a_case_file_verifies_and_each_kind_of_forgery_is_found() -> None:
    photo = b"\x89PNG\r\n\x1a\nphoto"
    sha = hashlib.sha256(photo).hexdigest()
    states = _chain([{"a": 1}, {"sha256": sha}, {"b": 2}])
    good = _case(states, {"p": photo})
    assert casefile.verify(good)[0] == []

    def rewrite(data: bytes, change: Any) -> bytes:
        src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for name in src.namelist():
                dst.writestr(name, change(name, src.read(name)))
        return out.getvalue()

    changed_event = rewrite(good, lambda n, b: b.replace(b'"b": 2', b'"b": 3'))
    assert any("SHA-256 differs" in p for p in casefile.verify(changed_event)[0])
    # Re-chained and re-listed by a forger: the head no longer matches the one on record.
    forged = _case(_chain([{"a": 1}, {"sha256": sha}, {"b": 3}]), {"p": photo})
    head = casefile.verify(forged)[1]["chain_head"]
    assert head != casefile.verify(good)[1]["chain_head"]
    dropped = _case([states[0], states[2]], {"p": photo})
    assert any("chain is broken" in p for p in casefile.verify(dropped)[0])
    missing = _case(states, {})
    assert any("attached by an event but absent" in p for p in casefile.verify(missing)[0])
    assert casefile.verify(b"not a zip")[0][0].startswith("not a case file")
