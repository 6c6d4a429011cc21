"""后续处置 — a problem followed to its end (002 第十七条), as pure rules.

责令限期改正 with its deadline → 复查 → corrected (closed), or not corrected in time →
立案查处, 移交有管辖权的部门 (naming the receiving department) or 移送司法机关 (closed). A
problem can also go to one of those three at once, without an order to correct. The first
decision is the handling decision (处理决定) from which a result with problems is disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.results.domain.categories import FOLLOW_UP_OUTCOMES
from services.results.domain.errors import InvalidResult, TaskStateError

# How far ahead a correction deadline may lie (a year is generous for 限期改正).
MAX_CORRECTION_DAYS = 366


@dataclass
class FollowUp:
    """The follow-up of one task: ``none`` → ``ordered`` → ``reinspected`` → ``closed``."""

    state: str = "none"
    decided_on: str | None = None  # the first handling decision (处理决定)
    deadline: str | None = None  # 改正期限
    corrected: bool | None = None  # what the re-inspection found
    reinspected_on: str | None = None
    outcome: str | None = None
    closed_on: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def check_order(
        self, decided_on: date, deadline: date, inspected_to: date, today: date
    ) -> None:
        """责令限期改正: once, dated between the inspection and today, deadline after it."""
        if self.state != "none":
            raise TaskStateError(f"the follow-up is {self.state}; a correction is ordered once")
        _dated("decided_on", decided_on, inspected_to, today)
        if not decided_on < deadline:
            raise InvalidResult(f"deadline {deadline} must fall after the order {decided_on}")
        if (deadline - decided_on).days > MAX_CORRECTION_DAYS:
            raise InvalidResult(f"a correction deadline lies within {MAX_CORRECTION_DAYS} days")

    def check_reinspection(self, on: date, today: date) -> None:
        """复查: after the order, by today."""
        if self.state != "ordered":
            raise TaskStateError(f"the follow-up is {self.state}; re-inspection follows an order")
        assert self.decided_on is not None
        _dated("reinspected_on", on, date.fromisoformat(self.decided_on), today)

    def check_close(
        self, outcome: str, decided_on: date, receiving: str, inspected_to: date, today: date
    ) -> None:
        """Close: ``corrected`` after a re-inspection found it so; the three sanctions after a
        re-inspection that did not, or at once while nothing was ordered."""
        if outcome not in FOLLOW_UP_OUTCOMES:
            raise InvalidResult(f"outcome is one of {list(FOLLOW_UP_OUTCOMES)}, not {outcome!r}")
        if self.state == "closed":
            raise TaskStateError(f"the follow-up is closed ({self.outcome})")
        if self.state == "ordered":
            raise TaskStateError("a correction was ordered: the re-inspection (复查) comes first")
        if outcome == "corrected" and not (self.state == "reinspected" and self.corrected):
            raise InvalidResult("corrected closes a follow-up whose re-inspection found it so")
        if outcome != "corrected" and self.state == "reinspected" and self.corrected:
            raise InvalidResult("the re-inspection found it corrected: close as corrected")
        if (outcome == "transferred") != bool(receiving):
            raise InvalidResult("receiving_department names where a case is transferred (移交)")
        earliest = date.fromisoformat(self.reinspected_on) if self.reinspected_on else inspected_to
        _dated("decided_on", decided_on, earliest, today)

    def overdue(self, today: date) -> bool:
        """An order past its deadline with no re-inspection (逾期未复查)."""
        return (
            self.state == "ordered"
            and self.deadline is not None
            and (date.fromisoformat(self.deadline) < today)
        )


def _dated(name: str, day: date, earliest: date, today: date) -> None:
    if day > today:
        raise InvalidResult(f"{name} {day} is in the future")
    if day < earliest:
        raise InvalidResult(f"{name} {day} is before {earliest}")
