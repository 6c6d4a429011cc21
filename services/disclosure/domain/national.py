"""Results in the national disclosure system's fields (国家企业信用信息公示系统) — pure.

The national system takes a result as 抽查计划编号, 抽查计划名称, 任务编号, 任务名称,
抽查类型, 检查机关, 检查完成日期, 检查结果, 备注. This module words the parts ssj keeps as
codes (the five non-cooperation cases, the pending kinds, the follow-up steps), writes the
备注, and finds subjects by a fragment of their name: two characters or more, Chinese
included, by the name's character pairs (a trigram index cannot serve a two-character
fragment, and PostgreSQL's word rules depend on the database's locale).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

# As the results service's domain/categories.py words them (services do not import each
# other; tests/unit/test_disclosure_national.py keeps the lists equal).
NON_COOPERATION_TEXT: dict[str, str] = {
    "denied_entry": "拒绝、阻扰、妨碍检查人员或其委托的专业机构进入检查场所",
    "refused_inquiry": "拒绝接受、阻扰、妨碍询问调查",
    "withheld_materials": (
        "拒绝向检查人员或其委托的专业机构提供会计资料、审计报告、行政许可证明、"
        "行政处罚决定书、场所使用证明等相关材料"
    ),
    "false_information": "不如实或不按要求提供情况或相关材料",
    "other_obstruction": "其他阻扰、妨碍检查工作情节严重",
}
PENDING_KIND_TEXT: dict[str, str] = {
    "correction_ordered": "责令限期改正，待复查",
    "case_filed": "涉嫌违法，立案查处",
    "transferred": "不属本部门管辖，移交有管辖权的部门",
    "referred": "涉嫌犯罪，移送司法机关",
}
# 后续处置 steps as disclosed: the order, the re-inspection, the outcome.
FOLLOW_UP_TEXT: dict[str, str] = {
    "ordered": "责令限期改正",
    "reinspected": "复查",
    "corrected": "复查已改正",
    "case_filed": "逾期未改正或涉嫌违法，立案查处",
    "transferred": "移交有管辖权的部门",
    "referred": "涉嫌犯罪，移送司法机关",
}
# The results service opens a follow-up only on these categories (its PROBLEM_CATEGORIES):
# only their follow-up steps are read.
FOLLOWED_OUTCOMES = frozenset({"problem_corrected", "problem_pending"})
MIN_FRAGMENT = 2  # characters of a name fragment to search by
MAX_FRAGMENT = 50

# The public allow-lists of a national result (docs/api.md "What the public sees").
NATIONAL_RESULT_FIELDS = (
    "record_id",
    "draw_id",
    "plan_id",
    "plan_number",
    "plan_name",
    "task_number",
    "task_name",
    "inspection_type",
    "inspecting_authority",
    "department",
    "region_code",
    "subject_identifier",
    "subject_name",
    "inspected_on",
    "outcome",
    "outcome_text",
    "remark",
    "pending_kind",
    "non_cooperation_case",
    "non_cooperation_text",
    "decided_on",
    "published_on",
    "publication_due",
    "publication_due_provisional",
    "late",
    "corrections",
    "disclosed_at",
)
PUBLIC_FOLLOW_UP_FIELDS = ("step", "step_text", "on", "receiving_department")
PUBLIC_EDITION_FIELDS = ("edition", "published_on", "outcome", "outcome_text")
PUBLIC_OVERDUE_FIELDS = (
    "task_id",
    "kind",
    "kind_text",
    "due_on",
    "noticed_on",
    "subject_identifier",
    "department",
    "inspecting_authority",
)
OVERDUE_KIND_TEXT = {"publication": "逾期未公示", "follow_up": "责令改正逾期未复查"}


def normalise_name(text: str) -> str:
    """A name as it is searched: NFKC (full-width letters and digits as half-width),
    lower case, no white space; repeated until nothing changes, so that the normal form of
    a normal form is itself (removing a space can put a letter beside a combining mark
    NFKC then composes: ``"a \u0308"`` → ``"a\u0308"`` → ``"ä"``)."""
    for _ in range(8):  # one or two rounds in practice; the bound only guards the loop
        folded = "".join(unicodedata.normalize("NFKC", text).lower().split())
        if folded == text:
            break
        text = folded
    return text


def pairs_of(key: str) -> list[str]:
    """The distinct character pairs of a normalised name, in order of first appearance."""
    return list(dict.fromkeys(key[i : i + 2] for i in range(len(key) - 1)))


def bigrams(text: str) -> list[str]:
    """The distinct character pairs of a name (normalised), in order of first appearance."""
    return pairs_of(normalise_name(text))


def non_cooperation_text(code: str | None) -> str | None:
    """The wording of one of 002 第十八条's five cases."""
    return NON_COOPERATION_TEXT.get(code, code) if code else None


def remark(
    *,
    pending_kind: str | None,
    non_cooperation_case: str | None,
    corrections: int,
    late: bool,
    follow_up: Sequence[Mapping[str, Any]] = (),
) -> str:
    """备注 as the national system shows it: what the category leaves open (the pending
    kind, the non-cooperation case), the follow-up's outcome, a correction, lateness."""
    parts: list[str] = []
    if pending_kind:
        parts.append(PENDING_KIND_TEXT.get(pending_kind, pending_kind))
    if non_cooperation_case:
        parts.append(f"不配合情形：{non_cooperation_text(non_cooperation_case)}")
    outcome = next(
        (s for s in reversed(follow_up) if s.get("step") not in ("ordered", "reinspected")), None
    )
    if outcome is not None:
        step = str(outcome.get("step"))
        text = FOLLOW_UP_TEXT.get(step, step)
        if outcome.get("receiving_department"):
            text += f"（{outcome['receiving_department']}）"
        parts.append(f"后续处置：{text}（{outcome.get('on')}）")
    if corrections:
        parts.append(f"已更正{corrections}次")
    if late:
        parts.append("逾期公示")
    return "；".join(parts)


def public_follow_up(step: Mapping[str, Any]) -> dict[str, Any]:
    """A follow-up step as disclosed: what, when, to whom (never its documents or the
    decision's number)."""
    code = str(step.get("step", ""))
    return {
        "step": code,
        "step_text": FOLLOW_UP_TEXT.get(code, code),
        "on": step.get("on"),
        "receiving_department": step.get("receiving_department") or None,
    }


def national_result(
    row: Mapping[str, Any],
    outcome_text: str,
    findings: Sequence[Mapping[str, Any]],
    follow_up: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A result as disclosed, allow-listed, with its 备注 written from its codes."""
    result = {k: row.get(k) for k in NATIONAL_RESULT_FIELDS}
    result["outcome_text"] = outcome_text
    result["non_cooperation_text"] = non_cooperation_text(row.get("non_cooperation_case"))
    result["inspecting_authority"] = row.get("inspecting_authority") or row.get("department")
    steps = [public_follow_up(s) for s in follow_up]
    result["remark"] = remark(
        pending_kind=row.get("pending_kind"),
        non_cooperation_case=row.get("non_cooperation_case"),
        corrections=int(row.get("corrections") or 0),
        late=bool(row.get("late")),
        follow_up=steps,
    )
    result["findings"] = list(findings)
    result["follow_up"] = steps
    result["editions"] = [
        {k: e.get(k) for k in PUBLIC_EDITION_FIELDS} for e in row.get("editions") or []
    ]
    return result


def public_overdue(row: Mapping[str, Any]) -> dict[str, Any]:
    """A deadline missed and not yet made good, as disclosed (no result content: the
    result is not reviewed, or not published)."""
    overdue = {k: row.get(k) for k in PUBLIC_OVERDUE_FIELDS}
    overdue["kind_text"] = OVERDUE_KIND_TEXT.get(str(row.get("kind")), str(row.get("kind")))
    overdue["inspecting_authority"] = row.get("inspecting_authority") or row.get("department")
    return overdue
