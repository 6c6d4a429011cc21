"""信用记录 — facts for credit platforms (002 第十九条: 抽查结果纳入检查对象信用记录).

Every published result, every refusal to cooperate and every follow-up outcome becomes one
``CreditRecorded`` event on its own aggregate, so a credit platform subscribes to
``ssj.results.creditnotice.>`` and to nothing else. It is saved with the task event it
follows, in one transaction: there is never one without the other.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("c7a1e5d3-2b9f-4f60-8e14-6d3a9b0c2f58")
KINDS = ("result", "non_cooperation", "follow_up")
WITHDRAWN = "withdrawn"  # a non_cooperation fact's category when a correction withdrew it


def credit_id(task: uuid.UUID, kind: str, edition: int) -> uuid.UUID:
    """One notice per task, kind and edition (a corrected result is a new edition)."""
    return uuid.uuid5(NAMESPACE, f"credit:{task}:{kind}:{edition}")


class CreditNotice(Aggregate):
    """One fact for the credit record of one subject."""

    @staticmethod
    def create_id(task_id: str, kind: str, edition: int, **_: Any) -> uuid.UUID:
        return credit_id(uuid.UUID(task_id), kind, edition)

    @event("CreditRecorded")
    def __init__(
        self,
        task_id: str,
        kind: str,
        edition: int,
        subject_identifier: str,
        subject_name: str,
        department: str,
        plan_id: str,
        category: str,
        severity: str,
        decision: str,
        decided_on: str,
    ) -> None:
        self.task_id, self.kind, self.edition = task_id, kind, edition
        self.subject_identifier, self.subject_name = subject_identifier, subject_name
        self.department, self.plan_id = department, plan_id
        self.category, self.severity = category, severity
        self.decision, self.decided_on = decision, decided_on


def notices_for(task: Any, new_events: list[Any]) -> list[dict[str, Any]]:
    """The credit notices the task's ``new_events`` call for (pure: reads attributes)."""
    from services.results.domain.categories import FOLLOW_UP_OUTCOMES, NON_COOPERATION

    common = {
        "task_id": str(task.id),
        "subject_identifier": task.subject_identifier,
        "subject_name": task.subject_name,
        "department": task.implementing_department,
        "plan_id": task.plan_id,
    }
    out: list[dict[str, Any]] = []
    for ev in new_events:
        name = type(ev).__name__
        if name == "ResultPublished":
            decided = ev.decided_on or ev.inspected_to
            out.append(
                {
                    **common,
                    "kind": "result",
                    "edition": ev.edition,
                    "category": ev.category,
                    "severity": ev.severity,
                    "decision": ev.category_text,
                    "decided_on": decided,
                }
            )
            # A refusal is one fact: sent again only if a correction changed its case, and
            # withdrawn (category "withdrawn") when a correction found none after all.
            if task.previous_case and not ev.non_cooperation_case:
                out.append(
                    {
                        **common,
                        "kind": "non_cooperation",
                        "edition": ev.edition,
                        "category": WITHDRAWN,
                        "severity": "none",
                        "decision": "更正：撤销不配合检查情节严重的认定",
                        "decided_on": ev.published_on,
                    }
                )
            elif ev.non_cooperation_case and ev.non_cooperation_case != task.previous_case:
                out.append(
                    {
                        **common,
                        "kind": "non_cooperation",
                        "edition": ev.edition,
                        "category": ev.non_cooperation_case,
                        "severity": "serious",
                        "decision": NON_COOPERATION[ev.non_cooperation_case],
                        "decided_on": ev.inspected_to,
                    }
                )
        elif name == "FollowUpClosed":
            text, severity = FOLLOW_UP_OUTCOMES[ev.outcome]
            out.append(
                {
                    **common,
                    "kind": "follow_up",
                    "edition": 1,
                    "category": ev.outcome,
                    "severity": severity,
                    "decision": text,
                    "decided_on": ev.decided_on,
                }
            )
    return out
