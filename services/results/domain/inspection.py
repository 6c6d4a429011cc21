"""检查记录表 — what a group records of one visit, checked against the task's forms.

Pure rules, no I/O. A report says when the subject was inspected, by which methods per item
(002 第十六条), what each check point showed, how the subject was told beforehand (告知), who
signed or why nobody did (003: 签字或盖章确认 … 注明原因，必要时请有关人员见证), and the result
category with, for a refusal, which of the five cases of 002 第十八条 it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from services.results.domain.categories import (
    CATEGORIES,
    INSPECTED_CATEGORIES,
    METHODS,
    NON_COOPERATION,
    NOTICE_WAYS,
    PENDING_KINDS,
    POINT_STATES,
    PROBLEM_CATEGORIES,
    REUSE_METHOD,
)
from services.results.domain.errors import InvalidResult
from services.results.domain.forms import point_codes

# Categories where nobody could sign the record: the subject is gone or not found.
NOBODY_TO_SIGN = frozenset(
    {"unreachable", "deregistered", "licence_revoked", "moved_out", "registration_cancelled"}
)
# Methods of a visit: the subject is told beforehand (or the legal ground for not telling).
VISIT_METHODS = frozenset({"on_site", "sampling"})
NOTICE_DAYS = 90  # the subject is told days, not seasons, before the visit
REUSE_YEARS = 5  # a reused conclusion is recent, not a relic


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _text(value: Any) -> str:
    return str(value or "").strip()


def check_report(
    report: Mapping[str, Any],
    forms: Sequence[Mapping[str, Any]],
    *,
    today: date,
    evidence: Collection[str],
    earliest: date = date.min,
) -> dict[str, Any]:
    """The report, checked and normalised (dates as ISO text); :class:`InvalidResult`
    naming the first rule broken. ``forms`` are the task's check forms, ``evidence`` the
    SHA-256 of the files attached to the task, ``earliest`` the first day an inspection of
    the task can have started."""
    started, ended = _day(report["inspected_from"]), _day(report["inspected_to"])
    if started < earliest:
        raise InvalidResult(f"inspected_from {started} is before {earliest}")
    if started > ended:
        raise InvalidResult(f"inspected_from {started} is after inspected_to {ended}")
    if ended > today:
        raise InvalidResult(f"inspected_to {ended} is in the future")
    category = str(report["category"])
    if category not in CATEGORIES:
        raise InvalidResult(f"unknown category {category!r}; known: {list(CATEGORIES)}")
    items = _check_items(report.get("items") or [], forms, category, (ended, evidence))
    _check_states(items, category)
    methods = {m for item in items for m in item["methods"]}
    cited = [str(h) for h in report.get("evidence") or []]
    missing = sorted(set(cited) - set(evidence))
    if missing:
        raise InvalidResult(f"evidence not attached to this task: {missing}")
    return {
        "inspected_from": started.isoformat(),
        "inspected_to": ended.isoformat(),
        "category": category,
        "pending_kind": _check_pending(report.get("pending_kind"), category),
        "items": items,
        "notice": _check_notice(report.get("notice"), started, methods),
        "signature": _check_signature(report.get("signature"), category),
        "non_cooperation": _check_refusal(report.get("non_cooperation"), category),
        "evidence": sorted(set(cited)),
        "summary": _text(report.get("summary")),
    }


def _listed(names: Sequence[str], known: Sequence[str]) -> tuple[list[str], ...]:
    """(not known, given twice, known but not given) of ``names``."""
    counts = Counter(names)
    return (
        sorted(set(names) - set(known)),
        sorted(n for n, c in counts.items() if c > 1),
        [n for n in known if n not in counts],
    )


def _check_pending(kind: Any, category: str) -> str | None:
    if category != "problem_pending":
        if kind:
            raise InvalidResult("pending_kind is only for the category problem_pending")
        return None
    if kind not in PENDING_KINDS:
        raise InvalidResult(
            f"problem_pending needs pending_kind, one of {list(PENDING_KINDS)}, not {kind!r}"
        )
    return str(kind)


def _check_items(
    given: Sequence[Mapping[str, Any]],
    forms: Sequence[Mapping[str, Any]],
    category: str,
    context: tuple[date, Collection[str]],
) -> list[dict[str, Any]]:
    by_code = {str(f["item_code"]): f for f in forms}
    stray, repeated, absent = _listed([str(i["item_code"]) for i in given], list(by_code))
    if stray:
        raise InvalidResult(f"items not in this task's forms: {stray}")
    if repeated:
        raise InvalidResult(f"items recorded more than once: {repeated}")
    if absent and category in INSPECTED_CATEGORIES:
        raise InvalidResult(f"category {category} needs every item of the task: {absent}")
    return [_check_item(item, by_code[str(item["item_code"])], category, context) for item in given]


def _check_item(
    item: Mapping[str, Any],
    form: Mapping[str, Any],
    category: str,
    context: tuple[date, Collection[str]],
) -> dict[str, Any]:
    code = str(item["item_code"])
    methods = [str(m) for m in item.get("methods") or []]
    if not methods:
        raise InvalidResult(f"item {code}: at least one method")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise InvalidResult(f"item {code}: unknown methods {unknown}; known: {list(METHODS)}")
    allowed = set(form.get("methods") or METHODS)
    outside = sorted(set(methods) - allowed)
    if outside:
        raise InvalidResult(f"item {code}: methods {outside} are not the item's {sorted(allowed)}")
    reuse = _check_reuse(item.get("reuse"), code, REUSE_METHOD in methods, context)
    points = _check_points(item.get("points") or [], form, methods, category)
    return {"item_code": code, "methods": sorted(set(methods)), "reuse": reuse, "points": points}


def _check_reuse(
    reuse: Mapping[str, Any] | None,
    code: str,
    used: bool,
    context: tuple[date, Collection[str]],
) -> dict[str, Any] | None:
    """A reused conclusion is referenced (who issued it, its number and date), not retyped."""
    if not used:
        if reuse:
            raise InvalidResult(f"item {code}: reuse is only for the method {REUSE_METHOD}")
        return None
    if not reuse:
        raise InvalidResult(f"item {code}: the method {REUSE_METHOD} needs the reused conclusion")
    kind = reuse.get("issuer_kind")
    if kind not in ("department", "professional_body"):
        raise InvalidResult(f"item {code}: issuer_kind is department or professional_body")
    for name in ("issuer", "document_no"):
        if not _text(reuse.get(name)):
            raise InvalidResult(f"item {code}: the reused conclusion needs {name}")
    ended, evidence = context
    issued = _day(reuse["issued_on"])
    oldest = date(max(1, ended.year - REUSE_YEARS), 1, 1)
    if not oldest <= issued <= ended:
        raise InvalidResult(
            f"item {code}: a reused conclusion is issued by the inspection's end, since {oldest}"
        )
    sha256 = reuse.get("sha256")
    if sha256 is not None and sha256 not in evidence:
        raise InvalidResult(
            f"item {code}: the reused conclusion's file is not attached to this task"
        )
    return {
        "issuer_kind": kind,
        "issuer": _text(reuse["issuer"]),
        "document_no": _text(reuse["document_no"]),
        "issued_on": issued.isoformat(),
        "sha256": sha256,
    }


def _check_points(
    given: Sequence[Mapping[str, Any]],
    form: Mapping[str, Any],
    methods: Sequence[str],
    category: str,
) -> list[dict[str, Any]]:
    code, known = str(form["item_code"]), point_codes(form)
    stray, repeated, absent = _listed([str(p["point"]) for p in given], known)
    if stray:
        raise InvalidResult(f"item {code}: points not on its form: {stray}")
    # One state per point, reached by one method: what an online check confirmed is not
    # checked again on site (002 第十六条（一）).
    if repeated:
        raise InvalidResult(f"item {code}: points recorded more than once: {repeated}")
    if absent and category in INSPECTED_CATEGORIES:
        raise InvalidResult(f"item {code}: every check point is recorded; missing {absent}")
    out = []
    for point in given:
        state, method = str(point["state"]), str(point["method"])
        if state not in POINT_STATES:
            raise InvalidResult(f"item {code}: unknown state {state!r}; known {list(POINT_STATES)}")
        if method not in methods:
            raise InvalidResult(
                f"item {code}: point {point['point']} by {method}, not a method used"
            )
        finding = _text(point.get("finding"))
        if state == "not_conforming" and not finding:
            raise InvalidResult(
                f"item {code}: point {point['point']} is not conforming: the finding"
            )
        out.append(
            {"point": str(point["point"]), "state": state, "method": method, "finding": finding}
        )
    order = {n: i for i, n in enumerate(known)}
    return sorted(out, key=lambda p: order[p["point"]])


def _check_states(items: Sequence[Mapping[str, Any]], category: str) -> None:
    failed = [
        f"{i['item_code']}/{p['point']}"
        for i in items
        for p in i["points"]
        if p["state"] == "not_conforming"
    ]
    if category == "no_problem" and failed:
        raise InvalidResult(f"category no_problem contradicts points not conforming: {failed}")
    if category in PROBLEM_CATEGORIES and not failed:
        raise InvalidResult(f"category {category} needs at least one point not conforming")


def _check_notice(notice: Mapping[str, Any] | None, started: date, methods: set[str]) -> Any:
    if not notice:
        if methods & VISIT_METHODS:
            raise InvalidResult(
                "a visit (on_site, sampling) records the advance notice (告知), or its absence "
                "with the legal ground"
            )
        return None
    if notice.get("given"):
        way = notice.get("way")
        if way not in NOTICE_WAYS:
            raise InvalidResult(f"notice.way is one of {list(NOTICE_WAYS)}, not {way!r}")
        if notice.get("on") is None:
            raise InvalidResult("notice.on: the day the subject was told")
        told = _day(notice["on"])
        if told > started:
            raise InvalidResult(f"notice.on {told} is after the inspection started {started}")
        if (started - told).days > NOTICE_DAYS:
            raise InvalidResult(f"notice.on {told} is over {NOTICE_DAYS} days before the visit")
        return {"given": True, "way": way, "on": told.isoformat()}
    ground = _text(notice.get("ground"))
    if not ground:
        raise InvalidResult("notice not given: the legal ground (法律法规规定检查前不宜告知)")
    return {"given": False, "ground": ground}


def _check_signature(signature: Mapping[str, Any] | None, category: str) -> Any:
    if not signature:
        if category in NOBODY_TO_SIGN:
            return None
        raise InvalidResult("the record is signed by the subject, or the refusal is recorded")
    if signature.get("signed"):
        signatory = _text(signature.get("signatory"))
        if not signatory:
            raise InvalidResult("signature.signatory: who signed or sealed for the subject")
        return {"signed": True, "signatory": signatory}
    reason, witness = _text(signature.get("refusal_reason")), _text(signature.get("witness"))
    if not reason or not witness:
        raise InvalidResult("an unsigned record states the reason and the witness (见证人)")
    return {"signed": False, "refusal_reason": reason, "witness": witness}


def _check_refusal(refusal: Mapping[str, Any] | None, category: str) -> Any:
    if category != "refused":
        if refusal:
            raise InvalidResult("non_cooperation is only for the category refused")
        return None
    if not refusal or refusal.get("case") not in NON_COOPERATION:
        raise InvalidResult(
            f"category refused names the case of 002 第十八条: one of {list(NON_COOPERATION)}"
        )
    description = _text(refusal.get("description"))
    if not description:
        raise InvalidResult("non_cooperation.description: what happened")
    return {"case": refusal["case"], "description": description}
