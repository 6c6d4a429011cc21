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
from eventsourcing.application import Application

from services.results import casefile, caseverify
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
    "methods": ["on_site", "online", "other_department"],
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


def _reviewed(report: dict[str, Any]) -> InspectionTask:
    """A task whose ``report`` was recorded, submitted and approved by review."""
    task = _task()
    task.record(report, TODAY, "lead")
    task.submit(TODAY, None, "lead")
    task.approve(TODAY, CAL)
    return task


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
        _task().record(_report(category, failing, **change), TODAY, "lead")


def test_every_point_is_recorded_by_one_of_the_items_methods() -> None:
    body = _report()
    body["items"][0]["points"].pop()
    with pytest.raises(InvalidResult, match="every check point"):
        _task().record(body, TODAY, "lead")
    body = _report()
    body["items"][0]["points"][1]["method"] = "sampling"
    with pytest.raises(InvalidResult, match="not a method used"):
        _task().record(body, TODAY, "lead")
    body = _report()
    body["items"][0]["methods"] = ["sampling"]
    with pytest.raises(InvalidResult, match="not the item's"):
        _task().record(body, TODAY, "lead")


def test_a_subject_gone_from_its_address_needs_no_points_and_no_signature() -> None:
    task = _task()
    task.record(_report("unreachable", items=[], notice=None, signature=None), TODAY, "lead")
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
    task.record(_report(), TODAY, "lead")
    with pytest.raises(TaskStateError):
        task.approve(TODAY, CAL)
    task.submit(TODAY, date(2026, 12, 28), "lead")
    assert task.late is False
    task.approve(TODAY, CAL)
    assert task.state == "published"
    assert task.published is not None and task.published["publication_due"] == "2026-12-18"
    (notice,) = notices_for(task, list(task.collect_events()))
    assert notice["kind"] == "result" and notice["severity"] == "none"


def test_a_problem_waits_for_its_decision_and_counts_from_it() -> None:
    task = _reviewed(_report("problem_corrected", failing=1))
    assert task.state == "reviewed" and task.published is None
    later = date(2026, 11, 27)
    task.order_correction(date(2026, 11, 25), date(2026, 12, 10), "责改1号", [], later, CAL)
    assert task.state == "published" and task.published is not None
    assert task.published["decided_on"] == "2026-11-25"
    assert task.published["publication_due"] == "2026-12-23"  # 20 working days from 11-25


def test_follow_up_goes_order_reinspection_outcome_and_no_other_way() -> None:
    task = _task()
    task.record(
        _report("problem_pending", failing=1, pending_kind="correction_ordered"), TODAY, "lead"
    )
    task.submit(TODAY, None, "lead")
    with pytest.raises(TaskStateError, match="after review"):
        task.order_correction(TODAY, date(2026, 12, 1), "", [], TODAY, CAL)
    task.approve(TODAY, CAL)
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
    # The order published the reviewed problem; the closure is the follow-up's own fact.
    assert kinds == ["result", "follow_up"]
    with pytest.raises(TaskStateError):
        task.close_follow_up("referred", TODAY, "", "", [], TODAY, CAL)


def test_a_clean_result_has_no_follow_up() -> None:
    task = _reviewed(_report())
    with pytest.raises(InvalidResult, match="no follow-up"):
        task.order_correction(TODAY, date(2026, 12, 1), "", [], TODAY, CAL)


def test_a_refusal_publishes_a_non_cooperation_notice_too() -> None:
    task = _task()
    refusal = {"case": "withheld_materials", "description": "拒绝提供会计资料"}
    task.record(_report("refused", items=[], non_cooperation=refusal), TODAY, "lead")
    task.submit(TODAY, None, "lead")
    task.approve(TODAY, CAL)
    notices = notices_for(task, list(task.collect_events()))
    assert [(n["kind"], n["severity"]) for n in notices] == [
        ("result", "serious"),
        ("non_cooperation", "serious"),
    ]


def test_a_refusal_corrected_away_withdraws_its_non_cooperation_fact() -> None:
    """Found by an adversarial review: the credit platform kept the refusal for good."""
    task = _task()
    refusal = {"case": "withheld_materials", "description": "拒绝提供会计资料"}
    task.record(_report("refused", items=[], non_cooperation=refusal), TODAY, "lead")
    task.submit(TODAY, None, "lead")
    task.approve(TODAY, CAL)
    task.collect_events()
    task.propose_correction(_report(), "当时已提供资料", TODAY, "lead")
    task.review_correction(True, "", TODAY, CAL)
    notices = notices_for(task, list(task.collect_events()))
    assert [(n["kind"], n["edition"], n["category"]) for n in notices] == [
        ("result", 2, "no_problem"),
        ("non_cooperation", 2, "withdrawn"),
    ]
    assert notices[1]["severity"] == "none" and notices[1]["decided_on"] == TODAY.isoformat()


def test_a_correction_is_reviewed_and_published_as_the_next_edition() -> None:
    task = _reviewed(_report())
    with pytest.raises(InvalidResult, match="changes nothing"):
        task.propose_correction(_report(), "无", TODAY, "lead")
    changed = _report(summary="补记")
    task.propose_correction(changed, "补记现场情况", TODAY, "lead")
    assert task.published is not None and task.published["edition"] == 1
    task.review_correction(True, "", TODAY, CAL)
    assert task.published["edition"] == 2 and task.corrections[0]["reason"] == "补记现场情况"


def _stored(task: InspectionTask, chain_from: str = "0" * 64) -> list[tuple[int, str, bytes]]:
    """The task's events as the store holds them: JSON state with ``meta.prev_hash``."""
    mapper = Application().mapper
    out, prev = [], chain_from
    for event in task.collect_events():
        stored = mapper.to_stored_event(event)
        body = json.loads(stored.state)
        state = json.dumps({**body, "meta": {"prev_hash": prev}}).encode()
        out.append((stored.originator_version, stored.topic, state))
        prev = hashlib.sha256(state).hexdigest()
    return out


def _case_of(
    task: InspectionTask, stored: list[tuple[int, str, bytes]], files: dict[str, bytes]
) -> bytes:
    from services.results.task_api import task_view  # the record the service writes

    record = {**task_view(task), "version": len(stored)}
    blobs = {hashlib.sha256(b).hexdigest(): ("image/png", b) for b in files.values()}
    return casefile.build(record, stored, blobs, task.files)


def _rewrite(data: bytes, change: Any) -> bytes:
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, change(name, src.read(name)))
    return out.getvalue()


def _edit_json(data: bytes, member: str, change: Any, *, ensure_ascii: bool = True) -> bytes:
    """The case file with its JSON ``member`` changed in place by ``change``."""

    def edit(name: str, body: bytes) -> bytes:
        if name != member:
            return body
        value = json.loads(body)
        change(value)
        return json.dumps(value, ensure_ascii=ensure_ascii).encode()

    return _rewrite(data, edit)


def _manifest(data: bytes, change: Any) -> bytes:
    return _edit_json(data, "manifest.json", change)


def test_a_case_file_verifies_and_each_kind_of_forgery_is_found() -> None:
    photo = b"\x89PNG\r\n\x1a\nphoto"
    sha = hashlib.sha256(photo).hexdigest()
    task = _task()
    task.attach(sha, "现场.png", "image/png", len(photo), "evidence")
    task.record(_report(evidence=[sha]), TODAY, "lead")
    stored = _stored(task)
    good = _case_of(task, stored, {"p": photo})
    problems, summary = caseverify.verify(good)
    assert problems == [] and summary["task_id"] == str(task.id) and summary["files"] == 1

    def found(data: bytes, words: str) -> None:
        problems = caseverify.verify(data)[0]
        assert any(words in p for p in problems), problems

    found(_rewrite(good, lambda n, b: b.replace(b"lead", b"xxxx")), "SHA-256 differs")
    found(_case_of(task, [stored[0], stored[2]], {"p": photo}), "chain is broken")
    found(_case_of(task, stored, {}), "attached by an event but absent")
    found(caseverify.verify(b"not a zip")[0] and b"not a zip", "not a case file")

    def relabel(m: dict[str, Any]) -> None:
        m["events"][1]["topic"] = m["events"][1]["topic"].replace("EvidenceAttached", "X")

    found(_manifest(good, relabel), "topic forged")

    def rename(m: dict[str, Any]) -> None:
        m["files"][0]["name"] = "别的.png"

    found(_manifest(good, rename), "name differs from its event")

    def other_task(m: dict[str, Any]) -> None:
        m["task_id"] = "00000000-0000-0000-0000-000000000000"

    found(_manifest(good, other_task), "not the events' task")

    def new_record(name: str, body: bytes) -> bytes:
        return body.replace(b'"no_problem"', b'"refused"') if name == "record.json" else body

    forged = _rewrite(good, new_record)
    sha_of = hashlib.sha256(zipfile.ZipFile(io.BytesIO(forged)).read("record.json")).hexdigest()

    def relist(m: dict[str, Any]) -> None:
        for d in m["documents"]:
            if d["path"] == "record.json":
                d["sha256"] = sha_of

    found(_manifest(forged, relist), "record.json: its report")
    twice = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(twice, "w") as dst:
        dst.writestr("events/000002.json", b"{}")
        with pytest.warns(UserWarning, match="Duplicate name"):
            for name in src.namelist():
                dst.writestr(name, src.read(name))
    found(twice.getvalue(), "stored twice")


def test_the_verifier_knows_every_task_event_and_the_task_namespace() -> None:
    from libs.common.catalogue import catalogue
    from services.results.domain import task as task_module

    fields = {
        e.type.split(".")[2]: set(e.fields) for e in catalogue() if "inspectiontask" in e.subject
    }
    assert fields == {k: set(v) for k, v in caseverify.EVENT_FIELDS.items()}
    assert caseverify.TASK_NAMESPACE == task_module.NAMESPACE


def test_nobody_reviews_a_result_they_entered() -> None:
    task = _task()
    task.record(_report(), TODAY, "op-clerk")
    task.submit(TODAY, None, "op-boss")
    assert task.entrants == {"op-clerk", "op-boss"}
    for sub in task.entrants:
        with pytest.raises(NotReviewer, match="entered"):
            authorise_review(
                sub=sub,
                dept="SAMR",
                roles=["reviewer", "operator"],
                department="SAMR",
                group={"lead"},
                entrants=task.entrants,
            )


def test_a_correction_under_follow_up_keeps_its_problem_and_its_dates() -> None:
    task = _reviewed(_report("problem_corrected", failing=1))
    task.order_correction(TODAY, date(2026, 12, 1), "", [], TODAY, CAL)
    with pytest.raises(InvalidResult, match="keeps its problem"):
        task.propose_correction(_report(), "改为未发现问题", TODAY, "lead")
    later = _report("problem_corrected", failing=1, summary="补记")
    task.propose_correction(later, "补记", TODAY, "lead")  # same dates: accepted


def test_dates_have_bounds() -> None:
    with pytest.raises(InvalidResult, match="before 2025-01-01"):
        _task().record(_report(inspected_from="0001-01-01"), TODAY, "lead")
    with pytest.raises(InvalidResult, match="days before the visit"):
        far = {"given": True, "way": "phone", "on": "2026-01-01"}
        _task().record(_report(notice=far), TODAY, "lead")
    body = _report()
    body["items"][0]["methods"].append("other_department")
    reuse = {"issuer_kind": "department", "issuer": "某局", "document_no": "1号"}
    for issued, sha, words in (
        ("9999-12-31", None, "issued by the inspection's end"),
        ("2026-11-01", "b" * 64, "not attached"),
    ):
        body["items"][0]["reuse"] = {**reuse, "issued_on": issued, "sha256": sha}
        with pytest.raises(InvalidResult, match=words):
            _task().record(body, TODAY, "lead")


def test_a_refusal_is_one_credit_fact_across_editions() -> None:
    task = _task()
    refusal = {"case": "denied_entry", "description": "拒绝进入"}
    task.record(_report("refused", items=[], non_cooperation=refusal), TODAY, "lead")
    task.submit(TODAY, None, "lead")
    task.approve(TODAY, CAL)
    task.collect_events()
    task.propose_correction(
        _report("refused", items=[], non_cooperation=refusal, summary="补记"), "补记", TODAY, "lead"
    )
    task.review_correction(True, "", TODAY, CAL)
    kinds = [n["kind"] for n in notices_for(task, list(task.collect_events()))]
    assert kinds == ["result"]


def _next_year_task(ends_on: str) -> InspectionTask:
    task = _task()
    task.ends_on = ends_on
    task.due_on = CAL.add_working_days(date.fromisoformat(ends_on), 20).due_on.isoformat()
    return task


def test_a_deadline_into_a_year_then_loaded_is_counted_again_once() -> None:
    from services.results.domain.calendar import arrangement

    task = _next_year_task("2098-12-20")  # years nobody knows: counted on weekdays
    assert task.due_on == "2099-01-16"
    assert CAL.add_working_days(date(2098, 12, 20), 20).provisional
    years = {
        2098: arrangement(2098, [], []),
        2099: arrangement(2099, ["2099-01-01", "2099-01-02"], []),
    }
    loaded = WorkingCalendar(years)
    assert task.recount(2099, loaded)
    assert task.due_on == "2099-01-20"  # Thursday 1 and Friday 2 January are holidays
    assert task.recounted == {
        "year": 2099,
        "due_on": "2099-01-20",
        "due_on_provisional": False,
        "publication_due": None,  # not submitted yet: counted when it is
        "publication_due_provisional": None,
    }
    assert not task.recount(2099, loaded)  # counted already: nothing new to record
    names = [type(e).__name__ for e in task.collect_events()]
    assert names.count("DeadlinesRecounted") == 1


def test_a_deadline_the_calendar_already_gave_is_not_recorded_again() -> None:
    """Found by a second review: a task's first recount always recorded an event, even
    with the calendar its deadline was counted on (every open task of a reloaded year)."""
    task = _task()
    assert task.due_on == CAL.add_working_days(date(2026, 11, 30), 20).due_on.isoformat()
    assert not task.recount(2026, CAL)
    task.record(_report(), TODAY, "lead")
    task.submit(TODAY, date(2026, 12, 28), "lead")
    counted = CAL.add_working_days(TODAY, 20).due_on.isoformat()
    assert not task.recount(2026, CAL, counted)  # as the watch has it already
    assert task.recount(2026, CAL, "2026-12-31")  # the watch's day is not the calendar's
    assert not task.recount(2026, CAL, "2026-12-31")  # recorded: asked again, nothing


def test_a_submitted_results_publication_deadline_is_counted_again_a_published_one_kept() -> None:
    from services.results.domain.calendar import arrangement

    task = _task()
    task.record(_report(), TODAY, "lead")
    task.submit(TODAY, date(2026, 12, 28), "lead")
    loaded = WorkingCalendar({2026: arrangement(2026, ["2026-12-01"], [])})
    assert task.recount(2026, loaded)
    assert task.recounted is not None
    # From the visit's end (Friday 20 November), one more day for the holiday of 1 December.
    assert task.recounted["publication_due"] == "2026-12-21"
    assert task.recounted["publication_due_provisional"] is False
    task.approve(TODAY, loaded)
    assert task.state == "published"
    assert not task.recount(2026, WorkingCalendar())  # published with its deadline


def _resealed_record(data: bytes, change: Any) -> bytes:
    """record.json changed, and the (unsigned) manifest made to list its new hash."""
    forged = _edit_json(data, "record.json", change, ensure_ascii=False)
    sha = hashlib.sha256(zipfile.ZipFile(io.BytesIO(forged)).read("record.json")).hexdigest()

    def relist(m: dict[str, Any]) -> None:
        for d in m["documents"]:
            if d["path"] == "record.json":
                d["sha256"] = sha

    return _manifest(forged, relist)


def _referred_and_corrected() -> InspectionTask:
    """Referred to the judiciary (移送), then a correction approved as edition 2."""
    task = _reviewed(_report("problem_pending", failing=1, pending_kind="referred"))
    task.close_follow_up("referred", TODAY, "", "移送〔2026〕3号", [], TODAY, CAL)
    changed = _report("problem_pending", failing=1, pending_kind="referred", summary="更正")
    task.propose_correction(changed, "笔误", TODAY, "lead")
    task.review_correction(True, "", TODAY, CAL)
    return task


def test_record_json_says_what_the_events_say_or_the_case_file_fails() -> None:
    """Found by an adversarial review: record.json's publication, follow-up and subject
    could be rewritten (the manifest is not signed), and a CorrectionApproved relabelled
    ResultApproved (the topic is outside the hashed state) hid an approved correction."""
    task = _referred_and_corrected()
    good = _case_of(task, _stored(task), {})
    assert caseverify.verify(good)[0] == []
    for key, change in (
        ("follow_up", lambda r: r["follow_up"].update(outcome="corrected")),
        ("published", lambda r: r["published"].update(category="no_problem")),
        ("published", lambda r: r["published"].update(late=True)),
        ("subject_name", lambda r: r.update(subject_name="别的公司")),
        ("state", lambda r: r.update(state="reviewed")),
        ("due_on", lambda r: r.update(due_on="2027-01-29")),
        # Found by a second review: fields the first check left alone.
        ("follow_up", lambda r: r["follow_up"].update(closed_on="2026-01-01")),
        ("corrections", lambda r: r["corrections"][0].update(reason="别的理由")),
        ("reviewed_on", lambda r: r.update(reviewed_on="2026-01-01")),
        ("pending_correction", lambda r: r.update(pending_correction={"reason": "x"})),
        ("returns", lambda r: r.update(returns=[{"reason": "x", "returned_on": "2026-01-01"}])),
        ("recounted", lambda r: r.update(recounted={"year": 2027})),
        ("made_up", lambda r: r.update(made_up=1)),
    ):
        problems = caseverify.verify(_resealed_record(good, change))[0]
        assert problems == [f"record.json: its {key} is not what the events say"], problems

    def relabel(m: dict[str, Any]) -> None:
        (entry,) = [e for e in m["events"] if e["topic"].endswith(".CorrectionApproved")]
        entry["topic"] = entry["topic"].replace("CorrectionApproved", "ResultApproved")

    problems = caseverify.verify(_manifest(good, relabel))[0]
    assert any("ResultApproved without a submitted result" in p for p in problems), problems


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(events=7),
        lambda m: m.update(events=["events/000001.json"]),
        lambda m: m["events"][0].update(path=["a"]),
        lambda m: m.update(files={"a": 1}),
    ],
)
def test_a_hostile_case_file_is_unreadable_not_a_crash(change: Any, tmp_path: Any) -> None:
    task = _task()
    forged = _manifest(_case_of(task, _stored(task), {}), change)
    problems, summary = caseverify.verify(forged)
    assert summary.get("unreadable") is True and len(problems) == 1, problems
    path = tmp_path / "case.zip"
    path.write_bytes(forged)
    assert caseverify.main([str(path)]) == 2


def test_a_hostile_event_or_record_is_unreadable_not_a_crash() -> None:
    task = _task()
    good = _case_of(task, _stored(task), {})
    as_list = _rewrite(good, lambda n, b: b"[1]" if n == "record.json" else b)
    assert caseverify.verify(as_list)[0]  # a problem, not an exception


def test_honest_case_files_of_every_path_verify() -> None:
    """Returned and resubmitted with evidence; a correction returned, then one approved;
    re-inspected not corrected and filed as a case; recounted, then withdrawn."""
    from services.results.domain.calendar import arrangement

    photo = b"\x89PNG\r\n\x1a\nphoto"
    sha = hashlib.sha256(photo).hexdigest()
    first = _task()
    first.attach(sha, "现场.png", "image/png", len(photo), "evidence")
    first.record(_report(evidence=[sha]), TODAY, "lead")
    first.submit(TODAY, None, "lead")
    first.return_result("写清楚", TODAY)
    first.record(_report(evidence=[sha], summary="补充"), TODAY, "lead")
    first.submit(TODAY, None, "lead")
    first.approve(TODAY, CAL)
    first.propose_correction(_report(summary="更正一"), "笔误", TODAY, "lead")
    first.review_correction(False, "理由不足", TODAY, CAL)
    first.propose_correction(_report(summary="更正二"), "笔误", TODAY, "lead")
    first.review_correction(True, "", TODAY, CAL)
    second = _task()
    second.record(
        _report("problem_pending", failing=1, pending_kind="correction_ordered"), TODAY, "lead"
    )
    second.submit(TODAY, None, "lead")
    second.approve(TODAY, CAL)
    second.order_correction(TODAY, date(2026, 12, 20), "责改〔2026〕1号", [], TODAY, CAL)
    second.reinspect(TODAY, False, "未改", [], TODAY)
    second.close_follow_up("case_filed", TODAY, "", "立案〔2026〕2号", [], TODAY, CAL)
    third = _task()
    assert third.recount(2026, WorkingCalendar({2026: arrangement(2026, ["2026-12-01"], [])}))
    third.withdraw("other")
    for task, files in ((first, {"p": photo}), (second, {}), (third, {})):
        assert caseverify.verify(_case_of(task, _stored(task), files))[0] == []


def test_a_part_claiming_a_size_no_case_file_has_is_not_read(tmp_path: Any) -> None:
    """Found by a second review: every listed part was read whole (and as often as listed),
    so a zip bomb ran the verifier out of memory instead of being unreadable."""
    task = _task()
    good = _case_of(task, _stored(task), {})
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as src,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for name in src.namelist():
            if name == "record.json":
                with dst.open(name, "w", force_zip64=True) as out:
                    for _ in range(caseverify.MAX_PART // (1 << 20) + 1):
                        out.write(b" " * (1 << 20))  # 65 MiB of spaces, 65 KiB deflated
            else:
                dst.writestr(name, src.read(name))
    problems, summary = caseverify.verify(bomb.getvalue())
    assert summary.get("unreadable") is True and "larger than 64 MiB" in problems[0], problems
