"""逾期 of a task after its result is in: publication not made within 20 working days
(003), or a correction order past its deadline with no re-inspection (002 第十七条). The
deadline watch records each once, as it does a missing result (domain/overdue.py)."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("5d2e8a47-1f3b-4c9d-a6e0-7b4f1c2d9e83")
KINDS = {"publication": "逾期未公示", "follow_up": "责令改正逾期未复查"}


def missed_id(task_id: str, kind: str, due_on: str) -> uuid.UUID:
    """One notice per task, kind and deadline (a new deadline can be missed again)."""
    return uuid.uuid5(NAMESPACE, f"missed:{task_id}:{kind}:{due_on}")


class MissedDeadline(Aggregate):
    """A task's publication or follow-up deadline passed."""

    @staticmethod
    def create_id(task_id: str, kind: str, due_on: str, **_: object) -> uuid.UUID:
        return missed_id(task_id, kind, due_on)

    @event("DeadlineMissed")
    def __init__(
        self,
        task_id: str,
        kind: str,
        due_on: str,
        noticed_on: str,
        subject_identifier: str,
        department: str,
    ) -> None:
        self.task_id, self.kind, self.due_on = task_id, kind, due_on
        self.noticed_on = noticed_on
        self.subject_identifier, self.department = subject_identifier, department
