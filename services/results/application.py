"""ResultsApplication — records and corrects inspection results."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from libs.common.eventstore import EventStoreApp
from services.results.domain.record import InspectionRecord


class ResultsApplication(EventStoreApp):
    """Commands and queries of inspection records. Result streams are hash-chained."""

    service = "results"
    hash_chained = True

    def record_result(self, **fields: Any) -> InspectionRecord:
        """Record the result of one drawn subject (once)."""
        record = InspectionRecord.record(today=date.today(), **fields)
        self.save(record)
        return record

    def correct_result(
        self, record_id: UUID, item_codes: set[str], **fields: Any
    ) -> InspectionRecord:
        """Append a correction to a record."""
        record: InspectionRecord = self.repository.get(record_id)
        record.correct(item_codes=item_codes, **fields)
        self.save(record)
        return record

    def get_record(self, record_id: UUID) -> InspectionRecord:
        """A record with its corrections."""
        return self.repository.get(record_id)
