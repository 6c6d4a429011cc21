"""检查任务 — one drawn subject's inspection, from dispatch to the public record.

dispatched → inspected → submitted → reviewed → published, each an event on the task's own
hash-chained stream; a returned result goes back to the group; a correction of a published
result is reviewed too and appended; a problem's follow-up (domain/followup.py) lives on the
same stream, so the case file is one stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.results.domain.calendar import WorkingCalendar
from services.results.domain.categories import PROBLEM_CATEGORIES
from services.results.domain.deadlines import result_deadline
from services.results.domain.errors import InvalidResult, TaskStateError
from services.results.domain.followup import FollowUp
from services.results.domain.inspection import check_report
from services.results.domain.publication import PUBLICATION_WORKING_DAYS, public_items

NAMESPACE = uuid.UUID("2f4b8d1e-7a3c-4e59-9b06-c81d5e3f7a12")
MAX_FILES = 200  # evidence and documents of one task
EDITABLE = ("dispatched", "inspected", "returned")


def task_id(draw_id: str, subject_id: str) -> uuid.UUID:
    """One task per drawn subject: a second dispatch names the same aggregate (conflict)."""
    return uuid.uuid5(NAMESPACE, f"task:{draw_id}:{subject_id}")


class InspectionTask(Aggregate):
    """检查任务 — a drawn subject's inspection, its result, review, publication, follow-up."""

    @staticmethod
    def create_id(draw_id: str, subject_id: str, **_: Any) -> uuid.UUID:
        return task_id(draw_id, subject_id)

    @event("TaskDispatched")
    def __init__(
        self,
        draw_id: str,
        subject_id: str,
        batch_id: str,
        plan_id: str,
        subject_identifier: str,
        subject_name: str,
        implementing_department: str,
        initiating_department: str,
        group: list[dict[str, Any]],
        forms: list[dict[str, Any]],
        ends_on: str,
        due_on: str | None,
        dispatched_on: str,
    ) -> None:
        self.draw_id, self.subject_id = draw_id, subject_id
        self.batch_id, self.plan_id = batch_id, plan_id
        self.subject_identifier, self.subject_name = subject_identifier, subject_name
        # 实施部门: the group leader's department, which enters, reviews and publishes.
        self.implementing_department = implementing_department
        self.initiating_department = initiating_department
        self.group, self.forms = group, forms
        self.ends_on, self.due_on, self.dispatched_on = ends_on, due_on, dispatched_on
        self.state = "dispatched"
        self.report: dict[str, Any] | None = None
        self.files: dict[str, dict[str, Any]] = {}
        self.submitted_on: str | None = None
        self.late = False
        self.returns: list[dict[str, Any]] = []
        self.reviewed_on: str | None = None
        self.published: dict[str, Any] | None = None
        self.pending_correction: dict[str, Any] | None = None
        self.corrections: list[dict[str, Any]] = []
        self.follow_up = FollowUp()
        # Who entered or changed the result: none of them reviews it (nobody approves their
        # own entry, whatever roles their token holds).
        self.entrants: set[str] = set()
        self.previous_case: str | None = None  # the refusal's case of the edition before
        self.recounted: dict[str, Any] | None = None  # the deadlines as last counted again

    # -- the visit and the result ------------------------------------------------------

    def _checked(self, report: Mapping[str, Any], today: date) -> dict[str, Any]:
        # An inspection of a plan's batch falls in the plan's year or the one before.
        earliest = date(max(1, date.fromisoformat(self.ends_on).year - 1), 1, 1)
        return check_report(report, self.forms, today=today, evidence=self.files, earliest=earliest)

    def record(self, report: Mapping[str, Any], today: date, by: str) -> None:
        """检查记录 — record (or record again) the visit while the result is with the group."""
        if self.state not in EDITABLE:
            raise TaskStateError(f"the task is {self.state}; the group records while it is theirs")
        self._recorded(report=self._checked(report, today), recorded_by=by)

    @event("InspectionRecorded")
    def _recorded(self, report: dict[str, Any], recorded_by: str) -> None:
        self.report = report
        self.state = "inspected"
        self.entrants.add(recorded_by)

    def check_room(self) -> None:
        """A task holds at most :data:`MAX_FILES` files."""
        if len(self.files) >= MAX_FILES:
            raise InvalidResult(f"a task holds at most {MAX_FILES} files")

    def attach(self, sha256: str, name: str, media_type: str, size: int, purpose: str) -> bool:
        """证据 or 文书: a stored file named on the task (False: attached already)."""
        if sha256 in self.files:
            return False
        self.check_room()
        self._attached(sha256=sha256, name=name, media_type=media_type, size=size, purpose=purpose)
        return True

    @event("EvidenceAttached")
    def _attached(self, sha256: str, name: str, media_type: str, size: int, purpose: str) -> None:
        self.files[sha256] = {
            "name": name,
            "media_type": media_type,
            "size": size,
            "purpose": purpose,
        }

    def submit(self, today: date, due_on: date | None, by: str) -> None:
        """提交 — the recorded result goes to review; late after the entry deadline (002),
        ``due_on`` as the calendar has it now (counted again when a year is loaded)."""
        if self.state != "inspected" or self.report is None:
            raise TaskStateError(f"the task is {self.state}; record the inspection, then submit")
        self._submitted(
            draw_id=self.draw_id,
            subject_id=self.subject_id,
            submitted_on=today.isoformat(),
            late=due_on is not None and today > due_on,
            submitted_by=by,
        )

    @event("ResultSubmitted")
    def _submitted(
        self, draw_id: str, subject_id: str, submitted_on: str, late: bool, submitted_by: str
    ) -> None:
        self.state, self.submitted_on, self.late = "submitted", submitted_on, late
        self.entrants.add(submitted_by)

    def withdraw(self, replaced_by: str) -> None:
        """撤回 — the subject was replaced after the draw (递补) before its result was on
        record; the replacement subject gets a task of its own."""
        if self.state not in EDITABLE:
            raise TaskStateError(
                f"the task is {self.state}; only a task not submitted is withdrawn"
            )
        self._withdrawn(replaced_by=replaced_by)

    @event("TaskWithdrawn")
    def _withdrawn(self, replaced_by: str) -> None:
        self.state = "withdrawn"

    # -- deadlines counted again (a year loaded) ----------------------------------------

    def recount(
        self, year: int, calendar: WorkingCalendar, publication_due: str | None = None
    ) -> bool:
        """Count the entry deadline and, once submitted, the publication deadline again on
        ``calendar`` after the office loaded ``year`` (a provisional deadline, counted on
        weekdays, becomes firm); True if a day changed and was recorded. The entry
        deadline is compared with the task's, the publication deadline with
        ``publication_due`` (as the deadline watch has it). A published result keeps the
        deadline it was published with; a withdrawn task has none."""
        if self.state in ("published", "withdrawn"):
            return False
        entry = result_deadline(date.fromisoformat(self.ends_on), calendar)
        due = self.publication_due(calendar) if self.state in ("submitted", "reviewed") else None
        counted: dict[str, Any] = {
            "due_on": entry.due_on.isoformat(),
            "due_on_provisional": entry.provisional,
            "publication_due": due[0] if due else None,
            "publication_due_provisional": due[1] if due else None,
        }
        # Only a day that moved is recorded: a deadline counted on a calendar that already
        # gave this day (or one recounted already) is left alone, however often asked.
        known = {publication_due, (self.recounted or {}).get("publication_due")}
        moved = counted["due_on"] != self.due_on or (due is not None and due[0] not in known)
        if not moved:
            return False
        self._recounted(year=year, **counted)
        return True

    @event("DeadlinesRecounted")
    def _recounted(
        self,
        year: int,
        due_on: str,
        due_on_provisional: bool,
        publication_due: str | None,
        publication_due_provisional: bool | None,
    ) -> None:
        self.due_on = due_on
        self.recounted = {
            "year": year,
            "due_on": due_on,
            "due_on_provisional": due_on_provisional,
            "publication_due": publication_due,
            "publication_due_provisional": publication_due_provisional,
        }

    # -- review and publication --------------------------------------------------------

    def return_result(self, reason: str, today: date) -> None:
        """退回 — back to the group with the reviewer's reason."""
        self._must_be("submitted")
        if not reason.strip():
            raise InvalidResult("a returned result states why")
        self._returned(reason=reason.strip(), returned_on=today.isoformat())

    @event("ResultReturned")
    def _returned(self, reason: str, returned_on: str) -> None:
        self.state = "returned"
        self.returns.append({"reason": reason, "returned_on": returned_on})

    def approve(self, today: date, calendar: WorkingCalendar) -> None:
        """审核通过 — reviewed; published at once unless a problem awaits its decision."""
        self._must_be("submitted")
        self._approved(reviewed_on=today.isoformat())
        self._publish_if_final(today, calendar)

    @event("ResultApproved")
    def _approved(self, reviewed_on: str) -> None:
        self.state, self.reviewed_on = "reviewed", reviewed_on

    def decision_on(self) -> str | None:
        """处理决定 date: for a result with problems, the follow-up's first decision."""
        return self.follow_up.decided_on

    def publication_due(self, calendar: WorkingCalendar) -> tuple[str, bool] | None:
        """公示期限 (003): 20 working days from the inspection's end for a clean result, from
        the handling decision for one with problems (None while it has none)."""
        assert self.report is not None
        start = self.report["inspected_to"]
        if self.report["category"] in PROBLEM_CATEGORIES:
            start = self.decision_on()
            if start is None:
                return None
        due = calendar.add_working_days(date.fromisoformat(start), PUBLICATION_WORKING_DAYS)
        return due.due_on.isoformat(), due.provisional

    def _publish_if_final(self, today: date, calendar: WorkingCalendar) -> None:
        if self.state != "reviewed":
            return
        due = self.publication_due(calendar)
        if due is None:
            return  # a problem is final for disclosure on its handling decision
        assert self.report is not None
        self._published(
            **public_items(self.report),
            draw_id=self.draw_id,
            plan_id=self.plan_id,
            batch_id=self.batch_id,
            subject_identifier=self.subject_identifier,
            subject_name=self.subject_name,
            department=self.implementing_department,
            edition=len(self.corrections) + 1,
            decided_on=self.decision_on(),
            published_on=today.isoformat(),
            publication_due=due[0],
            publication_due_provisional=due[1],
            late=today.isoformat() > due[0],
        )

    @event("ResultPublished")
    def _published(
        self,
        category: str,
        category_text: str,
        severity: str,
        pending_kind: str | None,
        non_cooperation_case: str | None,
        inspected_from: str,
        inspected_to: str,
        items: list[dict[str, Any]],
        draw_id: str,
        plan_id: str,
        batch_id: str,
        subject_identifier: str,
        subject_name: str,
        department: str,
        edition: int,
        decided_on: str | None,
        published_on: str,
        publication_due: str,
        publication_due_provisional: bool,
        late: bool,
    ) -> None:
        self.state = "published"
        self.previous_case = (self.published or {}).get("non_cooperation_case")
        self.published = {
            "category": category,
            "category_text": category_text,
            "severity": severity,
            "pending_kind": pending_kind,
            "non_cooperation_case": non_cooperation_case,
            "inspected_to": inspected_to,
            "items": items,
            "edition": edition,
            "decided_on": decided_on,
            "published_on": published_on,
            "publication_due": publication_due,
            "publication_due_provisional": publication_due_provisional,
            "late": late,
        }

    def _must_be(self, state: str) -> None:
        if self.state != state:
            raise TaskStateError(f"the task is {self.state}, not {state}")

    # -- corrections of a published result (更正) ---------------------------------------

    def propose_correction(
        self, report: Mapping[str, Any], reason: str, today: date, by: str
    ) -> None:
        """更正 — a changed report for review; the published record stands until approved."""
        self._must_be("published")
        if self.pending_correction is not None:
            raise TaskStateError("a correction is already waiting for review")
        if not reason.strip():
            raise InvalidResult("a correction needs a reason")
        checked = self._checked(report, today)
        if checked == self.report:
            raise InvalidResult("the correction changes nothing")
        decided = self.follow_up.decided_on
        if decided is not None:
            # The follow-up stands on the problem found: a correction keeps a problem, found
            # by an inspection that ended before the decision taken on it.
            if checked["category"] not in PROBLEM_CATEGORIES:
                raise InvalidResult("a follow-up is under way: the result keeps its problem")
            if checked["inspected_to"] > decided:
                raise InvalidResult(f"the inspection must end by the decision of {decided}")
        self._correction_submitted(report=checked, reason=reason.strip(), proposed_by=by)

    @event("CorrectionSubmitted")
    def _correction_submitted(self, report: dict[str, Any], reason: str, proposed_by: str) -> None:
        self.pending_correction = {"report": report, "reason": reason}
        self.entrants.add(proposed_by)

    def review_correction(
        self, approve: bool, reason: str, today: date, calendar: WorkingCalendar
    ) -> None:
        """A correction is approved (and published as the next edition) or returned."""
        if self.pending_correction is None:
            raise TaskStateError("no correction is waiting for review")
        if approve:
            self._correction_approved(reviewed_on=today.isoformat())
            self._publish_if_final(today, calendar)
            return
        if not reason.strip():
            raise InvalidResult("a returned correction states why")
        self._correction_returned(reason=reason.strip())

    @event("CorrectionApproved")
    def _correction_approved(self, reviewed_on: str) -> None:
        assert self.pending_correction is not None
        self.corrections.append(
            {
                "from": (self.report or {}).get("category"),
                "to": self.pending_correction["report"]["category"],
                "reason": self.pending_correction["reason"],
                "reviewed_on": reviewed_on,
            }
        )
        self.report = self.pending_correction["report"]
        self.pending_correction = None
        self.state, self.reviewed_on = "reviewed", reviewed_on

    @event("CorrectionReturned")
    def _correction_returned(self, reason: str) -> None:
        self.pending_correction = None

    # -- follow-up (后续处置) ------------------------------------------------------------

    def _problem(self) -> date:
        # Follow-up stands on a reviewed result: a result still with the group or its
        # reviewer may yet change its category or its dates.
        if self.report is None or self.state not in ("reviewed", "published"):
            raise TaskStateError(f"the task is {self.state}: follow-up comes after review")
        if self.report["category"] not in PROBLEM_CATEGORIES:
            raise InvalidResult(f"a {self.report['category']} result has no follow-up")
        return date.fromisoformat(self.report["inspected_to"])

    def _documents(self, documents: Sequence[str]) -> list[str]:
        missing = sorted(set(documents) - set(self.files))
        if missing:
            raise InvalidResult(f"documents not attached to this task: {missing}")
        return sorted(set(documents))

    def order_correction(
        self,
        decided_on: date,
        deadline: date,
        decision_no: str,
        documents: Sequence[str],
        today: date,
        calendar: WorkingCalendar,
    ) -> None:
        """责令限期改正 — the handling decision, with the deadline to correct by."""
        inspected_to = self._problem()
        self.follow_up.check_order(decided_on, deadline, inspected_to, today)
        self._ordered(
            decided_on=decided_on.isoformat(),
            deadline=deadline.isoformat(),
            decision_no=decision_no.strip(),
            documents=self._documents(documents),
        )
        self._publish_if_final(today, calendar)

    @event("CorrectionOrdered")
    def _ordered(
        self, decided_on: str, deadline: str, decision_no: str, documents: list[str]
    ) -> None:
        self.follow_up.state, self.follow_up.deadline = "ordered", deadline
        self.follow_up.decided_on = self.follow_up.decided_on or decided_on
        self.follow_up.steps.append({"step": "ordered", "on": decided_on, "documents": documents})

    def reinspect(
        self, on: date, corrected: bool, finding: str, documents: Sequence[str], today: date
    ) -> None:
        """复查 — did the subject correct by the deadline?"""
        self._problem()
        self.follow_up.check_reinspection(on, today)
        if not corrected and not finding.strip():
            raise InvalidResult("a re-inspection that finds it not corrected states what it found")
        self._reinspected(
            reinspected_on=on.isoformat(),
            corrected=corrected,
            finding=finding.strip(),
            documents=self._documents(documents),
        )

    @event("Reinspected")
    def _reinspected(
        self, reinspected_on: str, corrected: bool, finding: str, documents: list[str]
    ) -> None:
        self.follow_up.state, self.follow_up.corrected = "reinspected", corrected
        self.follow_up.reinspected_on = reinspected_on
        self.follow_up.steps.append(
            {"step": "reinspected", "on": reinspected_on, "documents": documents}
        )

    def close_follow_up(
        self,
        outcome: str,
        decided_on: date,
        receiving_department: str,
        decision_no: str,
        documents: Sequence[str],
        today: date,
        calendar: WorkingCalendar,
    ) -> None:
        """Close the follow-up: corrected, 立案查处, 移交 (to whom) or 移送司法机关."""
        inspected_to = self._problem()
        self.follow_up.check_close(outcome, decided_on, receiving_department, inspected_to, today)
        self._closed(
            outcome=outcome,
            decided_on=decided_on.isoformat(),
            receiving_department=receiving_department,
            decision_no=decision_no.strip(),
            documents=self._documents(documents),
        )
        self._publish_if_final(today, calendar)

    @event("FollowUpClosed")
    def _closed(
        self,
        outcome: str,
        decided_on: str,
        receiving_department: str,
        decision_no: str,
        documents: list[str],
    ) -> None:
        self.follow_up.state, self.follow_up.outcome = "closed", outcome
        self.follow_up.closed_on = decided_on
        self.follow_up.decided_on = self.follow_up.decided_on or decided_on
        self.follow_up.steps.append({"step": outcome, "on": decided_on, "documents": documents})
