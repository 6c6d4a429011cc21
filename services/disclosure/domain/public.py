"""Public wording and field rules (公示字段) — pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

# 检查结果 as the national enterprise credit disclosure system words them.
OUTCOME_TEXT: dict[str, str] = {
    "no_problem": "未发现问题",
    "problem_corrected": "发现问题已责令改正",
    "problem_pending": "发现问题待后续处理",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "refused": "不配合检查情节严重",
    "no_activity": "未发现开展本次抽查涉及的经营活动",
    "closed": "已关闭停业或正在组织清算",
    "deregistered": "已注销",
    "licence_revoked": "已被吊销营业执照",
    "moved_out": "已迁出",
    "registration_cancelled": "已撤销登记",
    # One item's result within an inspection (the results service's ResultPublished).
    "problem": "发现问题",
    "not_applicable": "不适用",
}

MODE_TEXT: dict[str, str] = {
    "comprehensive": "综合大联查",
    "risk_based": "风险分类联查",
    "special": "专项整治联查",
}


def outcome_text(code: str) -> str:
    """Chinese wording of a result code; unknown codes are shown as they are."""
    return OUTCOME_TEXT.get(code, code)


def inspection_type(directed: bool) -> str:
    """抽查类型: 定向 (directed) or 不定向 (undirected)."""
    return "定向抽查" if directed else "不定向抽查"


# 递补 reasons as published: the draw service's fixed code list (protocol/reasons.py),
# worded here like the result codes above. Staff's own words never reach this service's
# answers.
REPLACEMENT_REASON_TEXT: dict[str, str] = {
    "recusal": "回避",
    "official_travel": "因公外出",
    "sick_leave": "病假",
    "off_post": "离岗",
    "post_change": "岗位调整",
    "work_conflict": "工作冲突",
    "deregistered": "注销",
    "revoked": "吊销",
    "closed": "歇业或停业",
    "relocated": "迁出本辖区",
    "other": "其他",
}

# Why a draw was voided (作废), as the draw service's protocol/reasons.py VOID_REASONS has
# it (services do not import each other; a unit test keeps the two equal).
VOID_REASON_TEXT: dict[str, str] = {
    "batch_withdrawn": "批次撤回（计划调整）",
    "pool_error": "抽查对象库有误",
    "source_cancelled": "开奖取消或延期",
    "other": "其他",
}
# An announced draw neither executed nor voided this long after its entropy was due is
# shown as overdue (逾期未抽取), as the draw service shows it.
OVERDUE_AFTER = timedelta(days=1)

# The public allow-lists (公示字段): an answer copies these fields and nothing else, so a
# field added to an event or a read model stays internal until it is listed here (and in
# docs/api.md).
PUBLIC_DRAW_FIELDS = (
    "draw_id",
    "batch_id",
    "plan_id",
    "batch_name",
    "items",
    "initiating_department",
    "announced_at",
    "announcement_hash",
    "protocol",
    "selection",
    "pool_hash",
    "pool_size",
    "strata_rules",
    "commitment",
    "entropy_source",
    "entropy_not_before",
    "executed_at",
    "secret",
    "entropy",
    "seed",
    "strata",
    "voided_at",
    "void_reason_code",
    "pool_spec",
    "pool_roots",
)
PUBLIC_DRAW_ITEM_FIELDS = ("code", "category", "ratio")
PUBLIC_SUBJECT_FIELDS = ("subject_id", "identifier", "name", "stratum")
PUBLIC_MEMBER_FIELDS = ("inspector_id", "name", "department", "role")
PUBLIC_REPLACEMENT_FIELDS = ("kind", "subject", "reason_code", "reason_text", "replaced_at")
PUBLIC_FINDING_FIELDS = ("item_code", "outcome", "outcome_text")


def reason_text(code: str) -> str:
    """Chinese wording of a replacement reason code; anything else is shown as 其他."""
    return REPLACEMENT_REASON_TEXT.get(code, REPLACEMENT_REASON_TEXT["other"])


def public_member(member: Mapping[str, Any]) -> dict[str, Any]:
    """An inspector as disclosed: name, department, role (contact never)."""
    return {k: member.get(k, "") for k in PUBLIC_MEMBER_FIELDS}


def public_subject(subject: Mapping[str, Any]) -> dict[str, Any]:
    """A drawn subject and its group as disclosed."""
    return {
        **{k: subject.get(k) for k in PUBLIC_SUBJECT_FIELDS},
        "inspectors": [public_member(m) for m in subject.get("inspectors") or []],
    }


def public_replacement(request: Mapping[str, Any], replaced_at: str | None) -> dict[str, Any]:
    """A 递补 as disclosed: kind, subject, the reason's code and wording, when. A request
    recorded before reason codes existed (free text only) shows ``other`` (其他)."""
    code = str(request.get("reason_code") or "other")
    if code not in REPLACEMENT_REASON_TEXT:
        code = "other"
    return {
        "kind": request.get("kind"),
        "subject": request.get("identifier", request.get("subject")),
        "reason_code": code,
        "reason_text": reason_text(code),
        "replaced_at": replaced_at,
    }


def draw_status(row: Mapping[str, Any], now: datetime) -> str:
    """executed, voided, overdue (its entropy due more than :data:`OVERDUE_AFTER` ago and
    neither executed nor voided), or announced."""
    if row.get("executed_at"):
        return "executed"
    if row.get("voided_at"):
        return "voided"
    due = row.get("entropy_not_before")
    if due and now > datetime.fromisoformat(str(due)) + OVERDUE_AFTER:
        return "overdue"
    return "announced"


def public_draw(row: Mapping[str, Any]) -> dict[str, Any]:
    """A draw as disclosed, from its read-model row: allow-listed fields only (rows written
    before the allow-list, with reasons and approvers in them, are cleaned here too)."""
    draw = {k: row.get(k) for k in PUBLIC_DRAW_FIELDS}
    # The items as documented: code, category, ratio (the events carry more).
    draw["items"] = [
        {k: item.get(k) for k in PUBLIC_DRAW_ITEM_FIELDS} for item in row.get("items") or []
    ]
    draw["status"] = draw_status(row, datetime.now(UTC))
    code = row.get("void_reason_code")
    draw["void_reason_text"] = (
        VOID_REASON_TEXT.get(code, VOID_REASON_TEXT["other"]) if code else None
    )
    draw["subjects"] = [public_subject(s) for s in row.get("subjects") or []]
    draw["replacements"] = [
        public_replacement(r, r.get("replaced_at")) for r in row.get("replacements") or []
    ]
    return draw


def public_finding(finding: Mapping[str, Any]) -> dict[str, Any]:
    """One item's finding as disclosed: the item and the result code (the inspector's note
    is internal: it has carried informants' names and phone numbers)."""
    code = str(finding.get("outcome", ""))
    return {
        "item_code": finding.get("item_code"),
        "outcome": code,
        "outcome_text": outcome_text(code),
    }
