"""Replacement (递补) reasons: a fixed code list, and the public form of a replacement request.

A replacement is published in the proof and by the disclosure service with a reason *code*
from :data:`REPLACEMENT_REASONS`, never with what staff typed: a typed reason or approver
has carried an informant's or a suspect's name and phone number ("该员正接受纪检调查",
"张局长 1380000…"). The free text stays in the draw's events for internal readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# code → the wording shown to the public. Inspector reasons first, then subject reasons.
INSPECTOR_REASONS: dict[str, str] = {
    "recusal": "回避",
    "official_travel": "因公外出",
    "sick_leave": "病假",
    "off_post": "离岗",
    "post_change": "岗位调整",
    "work_conflict": "工作冲突",
}
SUBJECT_REASONS: dict[str, str] = {
    "deregistered": "注销",
    "revoked": "吊销",
    "closed": "歇业或停业",
    "relocated": "迁出本辖区",
}
# "other" is for either kind; requests recorded before the code list existed show it too.
OTHER = "other"
REPLACEMENT_REASONS: dict[str, str] = {**INSPECTOR_REASONS, **SUBJECT_REASONS, OTHER: "其他"}
REASONS_BY_KIND: dict[str, frozenset[str]] = {
    "inspector": frozenset({*INSPECTOR_REASONS, OTHER}),
    "subject": frozenset({*SUBJECT_REASONS, OTHER}),
}
# What a replacement request shows in the proof: what the verifier needs, and the code.
# ssj-draw-3 adds the registry evidence of the ground and of every alternate skipped.
PUBLIC_REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    "inspector": (
        "sequence",
        "kind",
        "identifier",
        "inspector_id",
        "reason_code",
        "evidence",
        "skipped",
    ),
    "subject": (
        "sequence",
        "kind",
        "identifier",
        "unavailable",
        "reason_code",
        "evidence",
        "skipped",
    ),
}


def reason_problem(kind: str, code: str) -> str | None:
    """Why ``code`` is not a reason for a replacement of ``kind`` (None when it is)."""
    allowed = REASONS_BY_KIND.get(kind)
    if allowed is None:
        return f"kind must be 'inspector' or 'subject', not {kind!r}"
    if code not in allowed:
        return f"reason_code {code!r} is not one of {sorted(allowed)} for kind {kind!r}"
    return None


def public_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The replacement request as published: allow-listed fields only (a request recorded
    before codes existed gets ``other``)."""
    kind = str(request.get("kind", ""))
    out = {k: request[k] for k in PUBLIC_REQUEST_FIELDS.get(kind, ()) if k in request}
    out["reason_code"] = str(request.get("reason_code") or OTHER)
    return out


# Why an announced draw was voided (作废) before its entropy's draw time: public, like the
# replacement reasons; what staff typed stays internal.
VOID_REASONS: dict[str, str] = {
    "batch_withdrawn": "批次撤回（计划调整）",
    "pool_error": "抽查对象库有误",
    "source_cancelled": "开奖取消或延期",
    OTHER: "其他",
}
