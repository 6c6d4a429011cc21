"""Hostile input is refused at the door of the planner, draw, results and disclosure
services: 422 problem+json naming the field, nothing stored, never a 500 from PostgreSQL
(issue 10, sections 1 and 1b)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.door import assert_refused, office, send, stored_events
from tests.support import Infra, ServiceProcess

SOMEONE = str(uuid.UUID(int=7))
USCC = "91420202MA4K0C7Q3D"
BATCH = {
    "name": "第一批次",
    "pool": {"region_prefixes": ["4202"]},
    "starts_on": "2026-04-01",
    "ends_on": "2026-06-30",
}
PLAN = {
    "year": 2026,
    "title": "2026年度联合抽查计划",
    "mode": "comprehensive",
    "initiating_department": "SAMR",
    "participating_departments": ["TAX"],
    "item_codes": ["SAMR-1", "TAX-1"],
    "batches": [BATCH],
}
ANNOUNCE = {
    "batch_id": SOMEONE,
    "entropy": {"source": "cwl-ssq", "issue": "2026141", "scheduled_at": "2026-12-08T13:15:00Z"},
}
REPLACE = {"kind": "subject", "identifier": USCC, "reason": "已注销"}
POINT: dict[str, Any] = {"point": "base:SAMR-1", "state": "conforming", "method": "on_site"}
RESULT: dict[str, Any] = {
    "inspected_from": "2026-05-01",
    "inspected_to": "2026-05-01",
    "category": "no_problem",
    "items": [{"item_code": "SAMR-1", "methods": ["on_site"], "points": [POINT]}],
}


def _plan(**changes: Any) -> dict[str, Any]:
    return {**PLAN, **changes}


def _batch(**changes: Any) -> dict[str, Any]:
    return _plan(batches=[{**BATCH, **changes}])


def _result(**point: Any) -> dict[str, Any]:
    return {**RESULT, "items": [{**RESULT["items"][0], "points": [{**POINT, **point}]}]}


CASES: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any], str]] = [
    ("planner", "POST", "/v1/plans", _plan(title="计划\x00"), {}, "title"),
    ("planner", "POST", "/v1/plans", _plan(title="计" * 201), {}, "title"),
    ("planner", "POST", "/v1/plans", _plan(batches=[BATCH] * 401), {}, "batches"),
    ("planner", "POST", "/v1/plans", _plan(item_codes=["I"] * 101), {}, "item_codes"),
    (
        "planner",
        "POST",
        "/v1/plans",
        _plan(participating_departments=["税务"]),
        {},
        "participating_departments[0]",
    ),
    ("planner", "POST", "/v1/plans", _plan(year=10**12), {}, "year"),
    ("planner", "POST", "/v1/plans", _batch(name="一\u2029二"), {}, "batches[0].name"),
    (
        "planner",
        "POST",
        "/v1/plans",
        _batch(pool={"region_prefixes": ["42"] * 301}),
        {},
        "batches[0].pool.region_prefixes",
    ),
    ("planner", "POST", "/v1/plans", _batch(counts={"D": 10**12}), {}, "batches[0].counts.D"),
    (
        "planner",
        "POST",
        "/v1/plans",
        _batch(min_group_size=10**10),
        {},
        "batches[0].min_group_size",
    ),
    ("planner", "POST", "/v1/plans", _batch(ratios={"C": float("nan")}), {}, "batches[0].ratios.C"),
    ("planner", "POST", "/v1/plans", _batch(full_list=["\x00"]), {}, "batches[0].full_list[0]"),
    ("planner", "GET", "/v1/plans", None, {"params": {"year": 10**12}}, "year"),
    ("planner", "GET", "/v1/plans", None, {"params": {"department": "\x00"}}, "department"),
    ("planner", "GET", "/v1/items", None, {"params": {"department": "\x00"}}, "department"),
    ("draw", "POST", "/v1/draws", {**ANNOUNCE, "batch_id": ":"}, {}, "batch_id"),
    (
        "draw",
        "POST",
        "/v1/draws",
        {**ANNOUNCE, "entropy": {**ANNOUNCE["entropy"], "issue": "2026\x00141"}},
        {},
        "entropy.issue",
    ),
    (
        "draw",
        "POST",
        "/v1/draws",
        {**ANNOUNCE, "entropy": {**ANNOUNCE["entropy"], "scheduled_at": "2026-12-08T13:15:00"}},
        {},
        "entropy.scheduled_at",
    ),
    (
        "draw",
        "POST",
        "/v1/draws",
        {**ANNOUNCE, "entropy_source": "双色球开奖"},  # ssj-draw-2's free text: no longer
        {},
        "entropy_source",
    ),
    (
        "draw",
        "POST",
        "/v1/entropy-sources",
        {"code": "x", "name": "名\x00称", "publisher": "p1", "groups": []},
        {},
        "name",
    ),
    ("draw", "POST", f"/v1/draws/{SOMEONE}/execute", {"entropy": "03 07\x00"}, {}, "entropy"),
    ("draw", "POST", f"/v1/draws/{SOMEONE}/execute", {"entropy": "1" * 2001}, {}, "entropy"),
    (
        "draw",
        "POST",
        f"/v1/draws/{SOMEONE}/replacements",
        {**REPLACE, "reason": "回避\x1b[0m"},
        {},
        "reason",
    ),
    (
        "draw",
        "POST",
        f"/v1/draws/{SOMEONE}/replacements",
        {**REPLACE, "identifier": "\ud800"},
        {},
        "identifier",
    ),
    (
        "results",
        "POST",
        f"/v1/tasks/{SOMEONE}/inspection",
        _result(finding="未发现问题\x00"),
        {},
        "items[0].points[0].finding",
    ),
    (
        "results",
        "POST",
        f"/v1/tasks/{SOMEONE}/inspection",
        _result(point="base:事项"),
        {},
        "items[0].points[0].point",
    ),
    (
        "results",
        "POST",
        f"/v1/tasks/{SOMEONE}/inspection",
        {**RESULT, "items": RESULT["items"] * 101},
        {},
        "items",
    ),
    (
        "results",
        "POST",
        f"/v1/tasks/{SOMEONE}/corrections",
        {"report": RESULT, "reason": "\x00"},
        {},
        "reason",
    ),
    (
        "results",
        "POST",
        f"/v1/tasks/{SOMEONE}/follow-up/order",
        {"decided_on": "2026-05-01", "deadline": "99999-01-01"},
        {},
        "deadline",
    ),
    ("results", "GET", "/v1/tasks", None, {"params": {"limit": 10**12}}, "limit"),
    ("results", "GET", "/v1/results", None, {"params": {"limit": 10**12}}, "limit"),
    ("results", "GET", "/v1/assignments", None, {"params": {"after": "x" * 81}}, "after"),
    (
        "disclosure",
        "GET",
        "/v1/public/items",
        None,
        {"params": {"department": "\x00"}},
        "department",
    ),
    ("disclosure", "GET", "/v1/public/plans", None, {"params": {"year": 10**12}}, "year"),
    (
        "disclosure",
        "GET",
        "/v1/public/results",
        None,
        {"params": {"identifier": "\x00"}},
        "identifier",
    ),
]


@pytest.fixture(scope="module")
def clients(infra: Infra) -> Iterator[dict[str, httpx.Client]]:
    procs = [ServiceProcess(infra, name) for name in ("planner", "draw", "results", "disclosure")]
    for proc in procs:
        proc.start(wait=False)
    for proc in procs:
        proc.wait_ready()
    made = {proc.name: office(proc.url, infra) for proc in procs}
    yield made
    for client in made.values():
        client.close()
    for proc in procs:
        proc.stop()


@pytest.mark.parametrize(
    ("service", "method", "path", "body", "extra", "field"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[2]} {c[5]}" for c in CASES],
)
def test_hostile_input_is_refused_naming_the_field_and_nothing_is_stored(
    clients: dict[str, httpx.Client],
    infra: Infra,
    service: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    extra: dict[str, Any],
    field: str,
) -> None:
    before = stored_events(infra, service)
    assert_refused(send(clients[service], method, path, body, **extra), field)
    assert stored_events(infra, service) == before
