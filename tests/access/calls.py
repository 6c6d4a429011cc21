"""How to call each operation of the matrix: path parameters from the fixtures and a valid
body, so that authorisation, not validation, decides the answer (FastAPI validates a body
before the handler checks the department, so an invalid body would be a 422 for anyone)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.access.conftest import OTHER, OWN
from tests.builders import (
    ONSITE_SOURCE,
    department_payload,
    entropy_choice,
    inspector_payload,
    item_payload,
    subject_payload,
)
from tests.integration.task_flow import PNG


@dataclass
class Call:
    """One concrete request."""

    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Maker = Callable[[dict[str, Any], int], Call]
TODAY = date.today().isoformat()


def _plan(fx: dict[str, Any], n: int) -> Call:
    year = date.today().year
    return Call(
        "/v1/plans",
        json={
            "year": year,
            "title": f"{year}年度访问控制矩阵计划 {fx['run']}-{n}",
            "mode": "comprehensive",
            "initiating_department": OWN,
            "participating_departments": [],
            "item_codes": fx["codes"][:1],
            "batches": [
                {
                    "name": "第一批次",
                    "pool": {"region_prefixes": ["4202"]},
                    "directed": False,
                    "starts_on": f"{year}-01-01",
                    "ends_on": f"{year}-12-31",
                }
            ],
        },
    )


def _proposal(fx: dict[str, Any], n: int) -> Call:
    """A proposal for a year far ahead (on time: its deadline is that year's February)."""
    return Call(
        "/v1/proposals",
        json={
            "year": 2099,
            "department": OWN,
            "title": f"访问控制矩阵拟发起 {fx['run']}-{n}",
            "item_codes": fx["codes"][:1],
            "methods": ["on_site"],
            "starts_on": "2099-04-01",
            "ends_on": "2099-06-30",
        },
    )


def _task(fx: dict[str, Any], suffix: str = "", **body: Any) -> Call:
    """A call on the fixture task (published, no problem found)."""
    return Call(f"/v1/tasks/{fx['task_id']}{suffix}", json=body)


def _report(**overrides: Any) -> dict[str, Any]:
    """A report that parses (the domain checks it after the caller and the task's state)."""
    return {"inspected_from": TODAY, "inspected_to": TODAY, "category": "no_problem", **overrides}


def _inspector_csv(fx: dict[str, Any], n: int) -> Call:
    rows = "department,certificate_no,name,level,region_code,categories\n"
    rows += f"{OWN},{OWN}-IMP-{fx['run']}-{n},导入检查员{n},county,420202,general\n"
    return Call(
        "/v1/imports/inspectors",
        content=rows.encode(),
        params={"filename": "inspectors.csv"},
        headers={"Content-Type": "text/csv"},
    )


def _subject(fx: dict[str, Any], n: int, suffix: str = "", **body: Any) -> Call:
    return Call(f"/v1/subjects/{fx['subject']}{suffix}", json=body or None)


STALE = {"If-Match": '"999999"'}  # an allowed caller is then 409/412: nothing changes
CURRENT = "current"  # the test sends the record's ETag as it stands (GET on the same path)
CALLS: dict[tuple[str, str, str], Maker] = {
    ("registry", "POST", "/v1/departments"): lambda fx, n: Call(
        "/v1/departments", json=department_payload(f"ACM{fx['run']}{n}")
    ),
    ("registry", "PATCH", "/v1/departments/{code}"): lambda fx, n: Call(
        f"/v1/departments/{OTHER}", json={"active": True}, headers=STALE
    ),
    ("registry", "GET", "/v1/departments/{code}"): lambda fx, n: Call(f"/v1/departments/{OWN}"),
    ("registry", "POST", "/v1/tokens/revocations"): lambda fx, n: Call(
        "/v1/tokens/revocations",
        json={
            "jti": f"acm-{fx['run']}-{n}",
            "expires_at": "2099-01-01T00:00:00+08:00",
            "reason": "访问控制矩阵测试",
        },
    ),
    ("registry", "GET", "/v1/tokens/revocations/{jti}"): lambda fx, n: Call(
        "/v1/tokens/revocations/never-revoked"
    ),
    ("registry", "POST", "/v1/items"): lambda fx, n: Call(
        "/v1/items", json=item_payload(f"{OWN}-ACM-{fx['run']}-{n}", OWN)
    ),
    ("registry", "GET", "/v1/items/{code}"): lambda fx, n: Call(f"/v1/items/{fx['item']}"),
    ("registry", "PATCH", "/v1/items/{code}"): lambda fx, n: Call(
        f"/v1/items/{fx['item']}", json={"name": "改名"}, headers=STALE
    ),
    ("registry", "POST", "/v1/items/{code}/publish"): lambda fx, n: Call(
        f"/v1/items/{fx['item']}/publish"
    ),
    ("registry", "POST", "/v1/items/{code}/withdraw"): lambda fx, n: Call(
        f"/v1/items/{fx['item']}/withdraw", json={"reason": "访问控制矩阵测试"}
    ),
    ("registry", "POST", "/v1/subjects"): lambda fx, n: Call(
        "/v1/subjects", json=subject_payload(random.Random(n), "C", departments=[OWN])
    ),
    ("registry", "GET", "/v1/subjects/{identifier}"): lambda fx, n: _subject(fx, n),
    ("registry", "PATCH", "/v1/subjects/{identifier}"): lambda fx, n: Call(
        # The version is checked before the department: a stale one would answer 409 to all.
        f"/v1/subjects/{fx['subject']}",
        json={"address": f"黄石港区{n}号"},
        headers={"If-Match": CURRENT},
    ),
    ("registry", "POST", "/v1/subjects/{identifier}/status"): lambda fx, n: _subject(
        fx, n, "/status", status="operating", reason="复核登记状态"
    ),
    ("registry", "POST", "/v1/subjects/{identifier}/risk-class"): lambda fx, n: _subject(
        fx, n, "/risk-class", risk_class="B", reason="年度复核", effective_on=TODAY
    ),
    ("registry", "POST", "/v1/subjects/{identifier}/listings"): lambda fx, n: _subject(
        fx,
        n,
        "/listings",
        list_name="abnormal_operation",
        listed=False,
        reason="复核",
        decided_on=TODAY,
    ),
    ("registry", "GET", "/v1/subjects/{identifier}/history"): lambda fx, n: _subject(
        fx, n, "/history"
    ),
    ("registry", "POST", "/v1/inspectors"): lambda fx, n: Call(
        "/v1/inspectors", json=inspector_payload(OWN, 80000 + n)
    ),
    ("registry", "POST", "/v1/inspectors/{inspector_id}/status"): lambda fx, n: Call(
        f"/v1/inspectors/{fx['inspector']}/status", json={"status": "active", "reason": "在岗"}
    ),
    ("registry", "POST", "/v1/experts"): lambda fx, n: Call(
        "/v1/experts",
        json={"field": "食品安全", "name": f"专家{n}", "organisation": "湖北理工学院"},
    ),
    ("registry", "POST", "/v1/tags"): lambda fx, n: Call(
        "/v1/tags", json={"code": f"ACM{fx['run']}{n}", "name": "矩阵标签", "department": OWN}
    ),
    ("registry", "POST", "/v1/conflicts"): lambda fx, n: Call(
        "/v1/conflicts",
        json={
            "inspector_id": fx["inspector"],
            "subject_identifier": fx["subject"],
            "reason": "other",
            "declared_on": TODAY,
        },
    ),
    ("registry", "POST", "/v1/conflicts/lift"): lambda fx, n: Call(
        "/v1/conflicts/lift",
        json={
            "inspector_id": fx["inspector"],
            "subject_identifier": fx["subject"],
            "reason": "复核后解除",
        },
    ),
    ("registry", "POST", "/v1/imports/{kind}"): _inspector_csv,
    ("registry", "GET", "/v1/conflicts"): lambda fx, n: Call(
        "/v1/conflicts", params={"inspector_id": fx["inspector"]}
    ),
    ("results", "GET", "/v1/results"): lambda fx, n: Call(
        "/v1/results", params={"draw_id": fx["draw"]["id"], "limit": "1000"}
    ),
    ("results", "GET", "/v1/calendar/deadline"): lambda fx, n: Call(
        "/v1/calendar/deadline", params={"from": TODAY, "working_days": "20"}
    ),
    ("results", "GET", "/v1/calendar/{year}"): lambda fx, n: Call("/v1/calendar/2026"),
    # A year far ahead, loaded with nothing in it: it changes no deadline of the fixtures.
    ("results", "PUT", "/v1/calendar/{year}"): lambda fx, n: Call(
        "/v1/calendar/2100", json={"holidays": [], "workdays": []}
    ),
    ("planner", "POST", "/v1/plans"): _plan,
    ("planner", "POST", "/v1/plans/{plan_id}/publish"): lambda fx, n: Call(
        f"/v1/plans/{fx['plan_id']}/publish"
    ),
    ("planner", "GET", "/v1/plans/{plan_id}"): lambda fx, n: Call(f"/v1/plans/{fx['plan_id']}"),
    ("planner", "GET", "/v1/plans/{plan_id}/coverage"): lambda fx, n: Call(
        f"/v1/plans/{fx['plan_id']}/coverage"
    ),
    ("planner", "GET", "/v1/plans/{plan_id}/versions"): lambda fx, n: Call(
        f"/v1/plans/{fx['plan_id']}/versions"
    ),
    # Changes nothing: an allowed caller gets 422, the plan stays as it is.
    ("planner", "POST", "/v1/plans/{plan_id}/adjustments"): lambda fx, n: Call(
        f"/v1/plans/{fx['plan_id']}/adjustments",
        json={"reason": "访问控制矩阵", "approved_by": "矩阵测试"},
    ),
    # The cycle's plan has one batch: no order to draw (409), nothing changes.
    ("planner", "POST", "/v1/plans/{plan_id}/batch-order"): lambda fx, n: Call(
        f"/v1/plans/{fx['plan_id']}/batch-order",
        json={
            "source": ONSITE_SOURCE["code"],
            "issue": "1",
            "scheduled_at": "2099-01-01T00:00:00Z",
        },
    ),
    ("planner", "POST", "/v1/plans/{plan_id}/batch-order/draw"): lambda fx, n: Call(
        f"/v1/plans/{fx['plan_id']}/batch-order/draw", json={"numbers": "1 2 3"}
    ),
    # The proposal was merged into the cycle's plan: an allowed caller gets 409.
    ("planner", "POST", "/v1/plans/compile"): lambda fx, n: Call(
        "/v1/plans/compile",
        json={
            "proposal_ids": [fx["proposal_id"]],
            "initiating_department": OWN,
            "title": "矩阵",
            "mode": "comprehensive",
        },
    ),
    ("planner", "POST", "/v1/plan-modes"): lambda fx, n: Call(
        "/v1/plan-modes", json={"code": "special", "name": "专项整治联查"}
    ),
    ("planner", "POST", "/v1/proposals"): _proposal,
    ("planner", "PATCH", "/v1/proposals/{proposal_id}"): lambda fx, n: Call(
        f"/v1/proposals/{fx['proposal_id']}", json={"note": "矩阵"}
    ),
    ("planner", "POST", "/v1/proposals/{proposal_id}/withdraw"): lambda fx, n: Call(
        f"/v1/proposals/{fx['proposal_id']}/withdraw", json={"reason": "矩阵测试"}
    ),
    ("planner", "GET", "/v1/proposals/{proposal_id}"): lambda fx, n: Call(
        f"/v1/proposals/{fx['proposal_id']}"
    ),
    ("planner", "GET", "/v1/proposals"): lambda fx, n: Call(
        "/v1/proposals", params={"year": str(date.today().year)}
    ),
    # A year far ahead: the deadline set there disturbs nothing.
    ("planner", "PUT", "/v1/proposal-deadlines/{region}/{year}"): lambda fx, n: Call(
        "/v1/proposal-deadlines/420200/2099", json={"deadline": "2099-03-31"}
    ),
    ("planner", "GET", "/v1/proposal-deadlines/{region}/{year}"): lambda fx, n: Call(
        "/v1/proposal-deadlines/420200/2099"
    ),
    ("planner", "GET", "/v1/merge-suggestions"): lambda fx, n: Call(
        "/v1/merge-suggestions", params={"year": "2099"}
    ),
    ("planner", "GET", "/v1/annual-plans/{region}/{year}"): lambda fx, n: Call(
        f"/v1/annual-plans/420200/{date.today().year}"
    ),
    # Published by the cycle already: an allowed caller gets 409.
    ("planner", "POST", "/v1/annual-plans/{region}/{year}/publish"): lambda fx, n: Call(
        f"/v1/annual-plans/420200/{date.today().year}/publish"
    ),
    ("registry", "POST", "/v1/subject-counts"): lambda fx, n: Call(
        "/v1/subject-counts", json={"queries": [{"all_of": [{"region_prefixes": ["4202"]}]}]}
    ),
    ("disclosure", "GET", "/v1/public/plans/{plan_id}/versions"): lambda fx, n: Call(
        f"/v1/public/plans/{fx['plan_id']}/versions"
    ),
    ("draw", "POST", "/v1/entropy-sources/{code}/drawings/check"): lambda fx, n: Call(
        f"/v1/entropy-sources/{ONSITE_SOURCE['code']}/drawings/check",
        json={"issue": "1", "scheduled_at": "2099-01-01T00:00:00Z"},
    ),
    ("draw", "POST", "/v1/entropy-sources/{code}/numbers"): lambda fx, n: Call(
        f"/v1/entropy-sources/{ONSITE_SOURCE['code']}/numbers", json={"numbers": "1 2 3"}
    ),
    ("draw", "GET", "/v1/batches/{batch_id}/draws"): lambda fx, n: Call(
        f"/v1/batches/{fx['batch_id']}/draws"
    ),
    ("draw", "POST", "/v1/draws"): lambda fx, n: Call(
        "/v1/draws", json={"batch_id": fx["batch_id"], "entropy": entropy_choice()}
    ),
    # Registered by the fixtures already: an allowed caller gets 409, nothing changes.
    ("draw", "POST", "/v1/entropy-sources"): lambda fx, n: Call(
        "/v1/entropy-sources", json=ONSITE_SOURCE
    ),
    ("draw", "GET", "/v1/entropy-sources/{code}"): lambda fx, n: Call(
        f"/v1/entropy-sources/{ONSITE_SOURCE['code']}"
    ),
    # The fixture draw is executed: an allowed caller gets 409 (an executed draw stands).
    ("draw", "POST", "/v1/draws/{draw_id}/void"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/void",
        json={"reason_code": "other", "reason": "矩阵测试"},
    ),
    ("draw", "POST", "/v1/draws/{draw_id}/execute"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/execute", json={"entropy": "1 2 3 4 5 6 7 8"}
    ),
    ("draw", "POST", "/v1/draws/{draw_id}/replacements"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/replacements",
        # The subject's result is submitted (on record): an allowed caller gets 409.
        json={
            "kind": "subject",
            "identifier": fx["recorded_subject"]["identifier"],
            "reason_code": "deregistered",
            "reason": "矩阵测试",
        },
    ),
    ("draw", "GET", "/v1/draws/{draw_id}"): lambda fx, n: Call(f"/v1/draws/{fx['draw']['id']}"),
    ("draw", "GET", "/v1/draws/{draw_id}/proof"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/proof"
    ),
    ("draw", "GET", "/v1/draws/{draw_id}/proof/full"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/proof/full"
    ),
    ("draw", "GET", "/v1/draws/{draw_id}/proof/lines/{identifier}"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/proof/lines/{fx['recorded_subject']['identifier']}"
    ),
    ("draw", "GET", "/v1/draws/{draw_id}/chain"): lambda fx, n: Call(
        f"/v1/draws/{fx['draw']['id']}/chain"
    ),
    ("results", "GET", "/v1/tasks"): lambda fx, n: Call(
        "/v1/tasks", params={"draw_id": fx["draw"]["id"], "limit": "1000"}
    ),
    ("results", "GET", "/v1/tasks/{task}"): lambda fx, n: _task(fx),
    ("results", "GET", "/v1/tasks/{task}/verification"): lambda fx, n: _task(fx, "/verification"),
    ("results", "GET", "/v1/tasks/{task}/files/{sha256}"): lambda fx, n: _task(
        fx, f"/files/{fx['document']}"
    ),
    ("results", "GET", "/v1/tasks/{task}/case-file"): lambda fx, n: _task(fx, "/case-file"),
    # The task is published: recording or submitting it again is 409, nothing changes.
    ("results", "POST", "/v1/tasks/{task}/inspection"): lambda fx, n: _task(
        fx, "/inspection", **_report()
    ),
    ("results", "POST", "/v1/tasks/{task}/submission"): lambda fx, n: _task(fx, "/submission"),
    # Reviewed already: the reviewer gets 409.
    ("results", "POST", "/v1/tasks/{task}/review"): lambda fx, n: _task(
        fx, "/review", decision="approve"
    ),
    # A correction inspected in the future: 422, the published result stands.
    ("results", "POST", "/v1/tasks/{task}/corrections"): lambda fx, n: _task(
        fx, "/corrections", report=_report(inspected_to="2099-01-01"), reason="核对后更正"
    ),
    # No problem was found: a follow-up step is 422, nothing changes.
    ("results", "POST", "/v1/tasks/{task}/follow-up/order"): lambda fx, n: _task(
        fx, "/follow-up/order", decided_on=TODAY, deadline="2099-01-01", decision_no="矩阵"
    ),
    ("results", "POST", "/v1/tasks/{task}/follow-up/reinspection"): lambda fx, n: _task(
        fx, "/follow-up/reinspection", reinspected_on=TODAY, corrected=True
    ),
    ("results", "POST", "/v1/tasks/{task}/follow-up/closure"): lambda fx, n: _task(
        fx, "/follow-up/closure", outcome="corrected", decided_on=TODAY
    ),
    # Evidence of a published result goes with a correction: 409, the task keeps its files.
    ("results", "POST", "/v1/evidence"): lambda fx, n: Call(
        "/v1/evidence",
        content=PNG,
        params={"task": fx["task_id"], "name": "现场照片.png"},
        headers={"Content-Type": "image/png"},
    ),
    ("results", "GET", "/v1/results/{record_id}"): lambda fx, n: Call(
        f"/v1/results/{fx['record_id']}"
    ),
    ("results", "GET", "/v1/results/{record_id}/verification"): lambda fx, n: Call(
        f"/v1/results/{fx['record_id']}/verification"
    ),
    ("disclosure", "GET", "/v1/public/draws/{draw_id}"): lambda fx, n: Call(
        f"/v1/public/draws/{fx['draw']['id']}"
    ),
    ("disclosure", "GET", "/v1/public/items/{department}/{code}/versions"): lambda fx, n: Call(
        "/v1/public/items/SAMR/SAMR-NONE/versions"
    ),
    ("disclosure", "POST", "/v1/exports"): lambda fx, n: Call(
        "/v1/exports",
        json={"period_from": date.today().isoformat(), "period_to": date.today().isoformat()},
    ),
    ("disclosure", "GET", "/v1/exports/{export_id}"): lambda fx, n: Call(
        f"/v1/exports/{uuid.uuid4()}"
    ),
    ("disclosure", "GET", "/v1/public/results/{record_id}"): lambda fx, n: Call(
        f"/v1/public/results/{fx['noted_task']}"
    ),
}


def call_for(key: tuple[str, str, str], fx: dict[str, Any], n: int) -> Call:
    """The request for one cell; an operation without parameters or body is called as is."""
    maker = CALLS.get(key)
    return maker(fx, n) if maker else Call(key[2])
