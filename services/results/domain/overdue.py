"""逾期 — a drawn subject whose result was not entered by its deadline (002 第十六条: 未在
规定时间内录入数据的，视为未完成检查任务). The deadline watch records it once, as a fact
statistics and the public read without scanning."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("3b7e9f12-4c6d-4a8e-b1f0-9d2c5e7a8b36")


def overdue_id(draw_id: str, subject_id: str) -> uuid.UUID:
    """Id of the overdue notice of one drawn subject (one at most: a second is a conflict)."""
    return uuid.uuid5(NAMESPACE, f"overdue:{draw_id}:{subject_id}")


class OverdueNotice(Aggregate):
    """The result of one drawn subject passed its deadline unrecorded."""

    @staticmethod
    def create_id(draw_id: str, subject_id: str, **_: object) -> uuid.UUID:
        return overdue_id(draw_id, subject_id)

    @event("ResultOverdue")
    def __init__(
        self,
        draw_id: str,
        subject_id: str,
        batch_id: str,
        plan_id: str,
        subject_identifier: str,
        department: str,
        due_on: str,
        provisional: bool,
        noticed_on: str,
    ) -> None:
        self.draw_id = draw_id
        self.subject_id = subject_id
        self.batch_id = batch_id
        self.plan_id = plan_id
        self.subject_identifier = subject_identifier
        self.department = department
        self.due_on = due_on
        self.provisional = provisional  # the deadline was counted over an unpublished year
        self.noticed_on = noticed_on
