"""ResultsApplication — the only way into the results' write side. Streams are hash-chained."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.results.domain.record import InspectionRecord
from services.results.tasks import TaskCommands

# "In the future" and "late" are judged on the Chinese calendar day (UTC+8).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def today_in_china() -> date:
    """The current date in China (UTC+8)."""
    return datetime.now(CHINA).date()


class ResultsApplication(TaskCommands):
    """Commands and queries of inspection tasks (检查任务), the calendar, and the records of
    before tasks existed (检查记录, read only: results now go through review)."""

    service = "results"
    hash_chained = True

    def get_record(self, record_id: UUID) -> InspectionRecord:
        """A record of before tasks existed, with every correction; 404 for anything else
        (a task is read through the task API, with its own readers)."""
        found: object = self.repository.get(record_id)
        if not isinstance(found, InspectionRecord):
            raise AggregateNotFoundError(f"no inspection record {record_id}")
        return found

    def verify_record(self, record_id: UUID) -> list[str]:
        """Breaks in the record's hash chain (empty when intact)."""
        self.get_record(record_id)  # 404 for an unknown record, not an empty chain
        return self.verify_chain(record_id)
