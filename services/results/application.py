"""ResultsApplication — the only way into the results' write side. Streams are hash-chained."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from libs.common.context import Actor
from services.results.calendars import CalendarCommands
from services.results.domain.assignment import Assignment
from services.results.domain.record import InspectionRecord

# "In the future" and "late" are judged on the Chinese calendar day (UTC+8).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def today_in_china() -> date:
    """The current date in China (UTC+8)."""
    return datetime.now(CHINA).date()


class ResultsApplication(CalendarCommands):
    """Commands and queries of inspection records (检查记录)."""

    service = "results"
    hash_chained = True

    def record_result(
        self,
        *,
        assignment: Assignment,
        actor: Actor,
        inspected_on: date,
        outcome: str,
        findings: Sequence[Mapping[str, Any]],
        today: date | None = None,
    ) -> InspectionRecord:
        """Record the result of one drawn subject, once, by its group; a second record for
        the subject is an optimistic-concurrency conflict."""
        assignment.authorise(actor.sub, actor.dept, actor.roles)
        record = InspectionRecord.record(
            assignment=assignment,
            inspected_on=inspected_on,
            today=today or today_in_china(),
            outcome=outcome,
            findings=findings,
            department=actor.dept,
        )
        self.save(record)
        return record

    def correct_result(
        self,
        record_id: UUID,
        *,
        assignment: Assignment,
        actor: Actor,
        outcome: str,
        findings: Sequence[Mapping[str, Any]],
        reason: str,
    ) -> InspectionRecord:
        """Append a correction to a record (by the same people who may record it)."""
        assignment.authorise(actor.sub, actor.dept, actor.roles)
        record: InspectionRecord = self.repository.get(record_id)
        record.correct(assignment=assignment, outcome=outcome, findings=findings, reason=reason)
        self.save(record)
        return record

    def get_record(self, record_id: UUID) -> InspectionRecord:
        """A record as it stands, with every correction."""
        return self.repository.get(record_id)

    def verify_record(self, record_id: UUID) -> list[str]:
        """Breaks in the record's hash chain (empty when intact)."""
        self.repository.get(record_id)  # 404 for an unknown record, not an empty chain
        return self.verify_chain(record_id)
