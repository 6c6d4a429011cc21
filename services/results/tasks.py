"""Commands of inspection tasks (检查任务, domain/task.py): dispatch, the visit, review,
publication, corrections and follow-up; a mixin of
:class:`~services.results.application.ResultsApplication`.

Every command loads the task, applies the rule, and saves the task's new events together
with the credit notices they call for (domain/credit.py) in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from libs.common.context import Actor
from services.results.calendars import CalendarCommands
from services.results.domain.assignment import CurrentGroup, inspector_ids
from services.results.domain.calendar import WorkingCalendar
from services.results.domain.credit import CreditNotice, notices_for
from services.results.domain.errors import TaskStateError
from services.results.domain.review import authorise_entry, authorise_review
from services.results.domain.task import InspectionTask, task_id

# Tasks saved per transaction when a draw's subjects are dispatched.
DISPATCH_CHUNK = 500


class TaskCommands(CalendarCommands):
    """检查任务 commands; ``today`` is China's calendar day, given by the caller."""

    # -- dispatch ----------------------------------------------------------------------

    def dispatch(self, tasks: Iterable[Mapping[str, Any]]) -> int:
        """派发 — one ``TaskDispatched`` per drawn subject not dispatched yet; a task another
        process dispatched first is passed over. Returns how many were dispatched."""
        given = list(tasks)
        done = 0
        for start in range(0, len(given), DISPATCH_CHUNK):
            chunk = given[start : start + DISPATCH_CHUNK]
            try:
                self.save(*(InspectionTask(**fields) for fields in chunk))
                done += len(chunk)
            except IntegrityError:  # someone dispatched part of it: one at a time
                for fields in chunk:
                    try:
                        self.save(InspectionTask(**fields))
                        done += 1
                    except IntegrityError:
                        continue
        return done

    def withdraw(self, task: UUID, replaced_by: str) -> bool:
        """Withdraw the task of a subject replaced after the draw (False: not withdrawable,
        e.g. its result is on record, or done already)."""
        found = self.get_task(task)
        try:
            found.withdraw(replaced_by)
        except TaskStateError:
            return False
        try:
            self._save(found)
        except IntegrityError:  # the group acted at the same moment: next pass decides
            return False
        return True

    def _calendar_around(self, today: date) -> WorkingCalendar:
        # A publication deadline counted from a recent day reaches into next year at most.
        return self.calendar(range(today.year - 1, today.year + 2))

    def recount_deadlines(self, task: UUID, year: int, publication_due: date | None) -> bool:
        """期限重算 after ``year`` was loaded (services/results/recount.py): True if a day
        of the task's deadlines moved and was recorded (``publication_due``: as the watch
        has it now)."""
        found = self.get_task(task)
        # The loaded years as stored now, not this process's brief cache: the office may
        # have loaded the year at another replica a moment ago. A deadline counted from a
        # decision a year after the load reaches two years on at most.
        years = range(date.fromisoformat(found.ends_on).year - 1, year + 3)
        due = publication_due.isoformat() if publication_due else None
        if not found.recount(year, self._load_calendar(years), due):
            return False
        self._save(found)
        return True

    def get_task(self, task: UUID) -> InspectionTask:
        """A task as it stands; 404 for any other kind of record of this service."""
        found: object = self.repository.get(task)
        if not isinstance(found, InspectionTask):
            raise AggregateNotFoundError(f"no inspection task {task}")
        return found

    def _save(self, task: InspectionTask) -> InspectionTask:
        notices = [CreditNotice(**n) for n in notices_for(task, list(task.pending_events))]
        self.save(task, *notices)
        return task

    def _group_task(self, task: UUID, assignment: CurrentGroup, actor: Actor) -> InspectionTask:
        found = self.get_task(task)
        authorise_entry(
            sub=actor.sub,
            dept=actor.dept,
            roles=actor.roles,
            department=found.implementing_department,
            group=assignment.inspector_ids,
        )
        return found

    # -- the visit ---------------------------------------------------------------------

    def record_inspection(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        report: Mapping[str, Any],
        today: date,
        submit: bool = False,
    ) -> InspectionTask:
        """检查记录 — by the group (or an operator of the implementing department); with
        ``submit`` it goes to review in the same transaction."""
        found = self._group_task(task, assignment, actor)
        found.record(report, today, actor.sub)
        if submit:
            found.submit(today, assignment.due_on, actor.sub)
        return self._save(found)

    def submit(
        self, task: UUID, *, assignment: CurrentGroup, actor: Actor, today: date
    ) -> InspectionTask:
        """提交 the recorded result for review."""
        found = self._group_task(task, assignment, actor)
        found.submit(today, assignment.due_on, actor.sub)
        return self._save(found)

    def check_attach(self, task: UUID, *, assignment: CurrentGroup, actor: Actor) -> None:
        """Before a file's bytes are stored: the caller may attach to this task, which has
        room for one more."""
        found = self._group_task(task, assignment, actor)
        found.check_room()

    def attach_file(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        sha256: str,
        name: str,
        media_type: str,
        size: int,
        purpose: str,
    ) -> tuple[InspectionTask, bool]:
        """Name a stored file on the task (evidence of the visit, or a follow-up document)."""
        found = self._group_task(task, assignment, actor)
        # A file changes nothing by itself: a published record changes only through a
        # reviewed correction citing it, so files are attached in any state.
        added = found.attach(sha256, name, media_type, size, purpose)
        if added:
            self._save(found)
        return found, added

    # -- review --------------------------------------------------------------------------

    def _reviewed_task(self, task: UUID, assignment: CurrentGroup, actor: Actor) -> InspectionTask:
        found = self.get_task(task)
        group = inspector_ids(found.group) | assignment.inspector_ids
        authorise_review(
            sub=actor.sub,
            dept=actor.dept,
            roles=actor.roles,
            department=found.implementing_department,
            group=group,
            entrants=found.entrants,
        )
        return found

    def review(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        approve: bool,
        reason: str,
        today: date,
    ) -> InspectionTask:
        """审核 — approve (published when final) or return to the group with a reason; a
        correction waiting for review is reviewed the same way."""
        found = self._reviewed_task(task, assignment, actor)
        calendar = self._calendar_around(today)
        if found.pending_correction is not None:
            found.review_correction(approve, reason, today, calendar)
        elif approve:
            found.approve(today, calendar)
        else:
            found.return_result(reason, today)
        return self._save(found)

    def propose_correction(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        report: Mapping[str, Any],
        reason: str,
        today: date,
    ) -> InspectionTask:
        """更正 of a published result, for review."""
        found = self._group_task(task, assignment, actor)
        found.propose_correction(report, reason, today, actor.sub)
        return self._save(found)

    # -- follow-up -----------------------------------------------------------------------

    def order_correction(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        decided_on: date,
        deadline: date,
        decision_no: str,
        documents: Sequence[str],
        today: date,
    ) -> InspectionTask:
        """责令限期改正 (by the group or the implementing department's operators)."""
        found = self._group_task(task, assignment, actor)
        calendar = self._calendar_around(today)
        found.order_correction(decided_on, deadline, decision_no, documents, today, calendar)
        return self._save(found)

    def reinspect(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        on: date,
        corrected: bool,
        finding: str,
        documents: Sequence[str],
        today: date,
    ) -> InspectionTask:
        """复查."""
        found = self._group_task(task, assignment, actor)
        found.reinspect(on, corrected, finding, documents, today)
        return self._save(found)

    def close_follow_up(
        self,
        task: UUID,
        *,
        assignment: CurrentGroup,
        actor: Actor,
        outcome: str,
        decided_on: date,
        receiving_department: str,
        decision_no: str,
        documents: Sequence[str],
        today: date,
    ) -> InspectionTask:
        """Close the follow-up: corrected, 立案查处, 移交 or 移送司法机关."""
        found = self._group_task(task, assignment, actor)
        calendar = self._calendar_around(today)
        found.close_follow_up(
            outcome, decided_on, receiving_department, decision_no, documents, today, calendar
        )
        return self._save(found)

    def stored_events(self, task: UUID) -> list[tuple[int, str, bytes]]:
        """The task's events as stored: (version, topic, state bytes), for the case file."""
        self.get_task(task)
        return [
            (s.originator_version, s.topic, bytes(s.state))
            for s in self.recorder.select_events(task)
        ]

    def verify_task(self, task: UUID) -> list[str]:
        """Breaks in the task's hash chain (empty when intact)."""
        self.get_task(task)
        return self.verify_chain(task)


__all__ = ["TaskCommands", "task_id"]
