"""回避关系 — the conflict-of-interest register between inspectors and subjects."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidRecord
from services.registry.domain.ids import conflict_id

# 亲属关系, 曾任职, 经济往来, 其他
REASONS = ("relative", "former_employment", "financial_interest", "other")


class Conflict(Aggregate):
    """回避关系 — an inspector must not inspect this subject while the record is active."""

    @staticmethod
    def create_id(inspector_id: str, subject_id: str, **_: Any) -> Any:
        return conflict_id(UUID(inspector_id), UUID(subject_id))

    @event("ConflictDeclared")
    def __init__(
        self, inspector_id: str, subject_id: str, reason: str, detail: str, declared_on: str
    ) -> None:
        self.inspector_id = inspector_id
        self.subject_id = subject_id
        self.reason = reason
        self.detail = detail
        self.declared_on = declared_on
        self.active = True

    @classmethod
    def declare(
        cls, *, inspector_id: str, subject_id: str, reason: str, detail: str, declared_on: date
    ) -> Conflict:
        """Record ``ConflictDeclared``."""
        if reason not in REASONS:
            raise InvalidRecord(f"reason must be one of {REASONS}, not {reason!r}")
        if declared_on > date.today():
            raise InvalidRecord("a conflict cannot be declared in the future")
        return cls(
            inspector_id=inspector_id,
            subject_id=subject_id,
            reason=reason,
            detail=detail,
            declared_on=declared_on.isoformat(),
        )

    def lift(self, reason: str, lifted_on: date) -> None:
        """End the conflict (e.g. the relationship ended), with a reason."""
        if not self.active:
            raise InvalidRecord("the conflict is already lifted")
        if not reason.strip():
            raise InvalidRecord("lifting a conflict needs a reason")
        self._lifted(
            inspector_id=self.inspector_id,
            subject_id=self.subject_id,
            reason=reason,
            lifted_on=lifted_on.isoformat(),
        )

    # The pair is repeated so that consumers need no state to act on the event.
    @event("ConflictLifted")
    def _lifted(self, inspector_id: str, subject_id: str, reason: str, lifted_on: str) -> None:
        self.active = False
