"""检查记录 — the result of inspecting one drawn subject, with append-only corrections."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.results.domain.assignment import Assignment
from services.results.domain.errors import InvalidResult

NAMESPACE = uuid.UUID("9d7c2a51-3e0b-4f6a-8c1d-5b4e7f2a6c90")
# 检查结果 codes of the national disclosure system; their wording lives in disclosure.
OUTCOMES = (
    "no_problem",  # 未发现问题
    "problem_corrected",  # 发现问题已责令改正
    "problem_pending",  # 发现问题待后续处理
    "unreachable",  # 通过登记的住所（经营场所）无法联系
    "refused",  # 不配合检查情节严重
    "no_activity",  # 未发现开展本次抽查涉及的经营活动
    "closed",  # 已关闭停业或正在组织清算
)
PROBLEM_OUTCOMES = ("problem_corrected", "problem_pending")


def record_id(draw_id: str, subject_id: str) -> uuid.UUID:
    """One record per drawn subject: a second one names the same aggregate (409)."""
    return uuid.uuid5(NAMESPACE, f"record:{draw_id}:{subject_id}")


def check_findings(
    outcome: str, findings: Sequence[Mapping[str, Any]], item_codes: set[str]
) -> list[dict[str, Any]]:
    """检查结果 and per-item findings: known codes, items of this inspection only, each
    item at most once, and no problem found in an item of a "no problem" result."""
    if outcome not in OUTCOMES:
        raise InvalidResult(f"unknown outcome {outcome!r}; known: {list(OUTCOMES)}")
    out = []
    for n, finding in enumerate(findings):
        if finding.get("outcome") not in OUTCOMES:
            raise InvalidResult(
                f"findings[{n}]: unknown outcome {finding.get('outcome')!r}; "
                f"known: {list(OUTCOMES)}"
            )
        out.append(
            {
                "item_code": str(finding["item_code"]),
                "outcome": str(finding["outcome"]),
                "note": str(finding.get("note") or ""),
            }
        )
    codes = [f["item_code"] for f in out]
    stray = sorted(set(codes) - item_codes)
    if stray:
        raise InvalidResult(f"findings name items not in this inspection: {stray}")
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise InvalidResult(f"findings name items more than once: {repeated}")
    if outcome == "no_problem":
        problems = [f["item_code"] for f in out if f["outcome"] in PROBLEM_OUTCOMES]
        if problems:
            raise InvalidResult(f"outcome no_problem contradicts problems found in {problems}")
    return out


class InspectionRecord(Aggregate):
    """检查记录 — one drawn subject's inspection result; corrections are appended."""

    @staticmethod
    def create_id(draw_id: str, subject_id: str, **_: Any) -> uuid.UUID:
        return record_id(draw_id, subject_id)

    @classmethod
    def record(
        cls,
        *,
        assignment: Assignment,
        inspected_on: date,
        today: date,
        outcome: str,
        findings: Sequence[Mapping[str, Any]],
        department: str,
    ) -> InspectionRecord:
        """Validate against the assignment and record ``ResultRecorded``.

        ``late`` says the result came after the 20-working-day deadline; it is False
        while the deadline is unknown (``due_on`` None).
        """
        if inspected_on > today:
            raise InvalidResult(f"inspected_on {inspected_on} is in the future")
        checked = check_findings(outcome, findings, assignment.item_codes)
        due_on = assignment.due_on
        return cls(
            draw_id=assignment.draw_id,
            batch_id=assignment.batch_id,
            plan_id=assignment.plan_id,
            subject_id=assignment.subject_id,
            subject_identifier=assignment.identifier,
            subject_name=assignment.name,
            inspected_on=inspected_on.isoformat(),
            outcome=outcome,
            findings=checked,
            due_on=None if due_on is None else due_on.isoformat(),
            late=due_on is not None and today > due_on,
            recorded_by_department=department,
            inspecting_department=assignment.initiating_department,
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
        due_on: str | None,
        late: bool,
        recorded_by_department: str,
        inspecting_department: str = "",
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
        self.recorded_by_department = recorded_by_department  # the recorder's token
        # The department that inspects (the initiating department of the draw's batch), as
        # disclosed: it comes from the assignment, never from the caller's token. Records of
        # before it was carried have "" here.
        self.inspecting_department = inspecting_department
        self.corrections: list[dict[str, Any]] = []

    def correct(
        self,
        *,
        assignment: Assignment,
        outcome: str,
        findings: Sequence[Mapping[str, Any]],
        reason: str,
    ) -> None:
        """更正 — append a correction with its reason; the original stays in the stream."""
        if not reason.strip():
            raise InvalidResult("a correction needs a reason")
        checked = check_findings(outcome, findings, assignment.item_codes)
        if outcome == self.outcome and checked == self.findings:
            raise InvalidResult("the correction changes neither the outcome nor the findings")
        self._corrected(outcome=outcome, findings=checked, reason=reason.strip())

    @event("ResultCorrected")
    def _corrected(self, outcome: str, findings: list[dict[str, Any]], reason: str) -> None:
        self.corrections.append({"from": self.outcome, "to": outcome, "reason": reason})
        self.outcome = outcome
        self.findings = findings
