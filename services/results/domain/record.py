"""检查记录 — the result of inspecting one drawn subject, corrected only by appending."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.results.domain.errors import InvalidResult

NAMESPACE = uuid.UUID("9d7c2a51-3e0b-4f6a-8c1d-5b4e7f2a6c90")
# 检查结果 codes; their public wording lives in the disclosure service.
OUTCOMES = (
    "no_problem",  # 未发现问题
    "problem_corrected",  # 发现问题已责令改正
    "problem_pending",  # 发现问题待后续处理
    "unreachable",  # 通过登记的住所（经营场所）无法联系
    "refused",  # 不配合检查情节严重
    "no_activity",  # 未发现开展本次抽查涉及的经营活动
    "closed",  # 已关闭停业或正在组织清算
)


def record_id(draw_id: str, subject_id: str) -> uuid.UUID:
    """One record per drawn subject: a second one collides (409)."""
    return uuid.uuid5(NAMESPACE, f"record:{draw_id}:{subject_id}")


def check_findings(outcome: str, findings: list[dict[str, Any]], item_codes: set[str]) -> None:
    """Outcome codes are known and findings only name the batch's items."""
    for code in [outcome, *(f["outcome"] for f in findings)]:
        if code not in OUTCOMES:
            raise InvalidResult(f"unknown outcome {code!r}; known: {list(OUTCOMES)}")
    stray = sorted({f["item_code"] for f in findings} - item_codes)
    if stray:
        raise InvalidResult(f"findings name items not in this inspection: {stray}")


class InspectionRecord(Aggregate):
    """检查记录 — one subject's inspection result."""

    @staticmethod
    def create_id(draw_id: str, subject_id: str, **_: Any) -> uuid.UUID:
        return record_id(draw_id, subject_id)

    @classmethod
    def record(
        cls,
        *,
        assignment: dict[str, Any],
        inspected_on: date,
        today: date,
        outcome: str,
        findings: list[dict[str, Any]],
        department: str,
    ) -> InspectionRecord:
        """Validate against the assignment and record ``ResultRecorded``."""
        if inspected_on > today:
            raise InvalidResult(f"inspected_on {inspected_on} is in the future")
        check_findings(outcome, findings, {i["code"] for i in assignment["items"]})
        due_on = date.fromisoformat(str(assignment["due_on"]))
        return cls(
            draw_id=str(assignment["draw_id"]),
            batch_id=assignment["batch_id"],
            plan_id=str(assignment["plan_id"]),
            subject_id=str(assignment["subject_id"]),
            subject_identifier=assignment["identifier"],
            subject_name=assignment["name"],
            inspected_on=inspected_on.isoformat(),
            outcome=outcome,
            findings=findings,
            due_on=due_on.isoformat(),
            late=today > due_on,
            recorded_by_department=department,
        )

    @event("ResultRecorded")
    def __init__(
        self,
        draw_id: str,
        batch_id: str,
        plan_id: str,
        subject_id: str,
        subject_identifier: str,
        subject_name: str,
        inspected_on: str,
        outcome: str,
        findings: list[dict[str, Any]],
        due_on: str,
        late: bool,
        recorded_by_department: str,
    ) -> None:
        self.draw_id = draw_id
        self.batch_id = batch_id
        self.plan_id = plan_id
        self.subject_id = subject_id
        self.subject_identifier = subject_identifier
        self.subject_name = subject_name
        self.inspected_on = inspected_on
        self.outcome = outcome
        self.findings = findings
        self.due_on = due_on
        self.late = late
        self.recorded_by_department = recorded_by_department
        self.corrections: list[dict[str, Any]] = []

    def correct(
        self, *, outcome: str, findings: list[dict[str, Any]], reason: str, item_codes: set[str]
    ) -> None:
        """Append a correction; the original stays in the stream."""
        if not reason.strip():
            raise InvalidResult("a correction needs a reason")
        check_findings(outcome, findings, item_codes)
        self._corrected(outcome=outcome, findings=findings, reason=reason)

    @event("ResultCorrected")
    def _corrected(self, outcome: str, findings: list[dict[str, Any]], reason: str) -> None:
        self.corrections.append({"from": self.outcome, "to": outcome, "reason": reason})
        self.outcome = outcome
        self.findings = findings
