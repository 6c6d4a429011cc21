"""The planner as a real process, fed by the real registry, on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest

from tests.builders import item_payload
from tests.support import Infra, ServiceProcess, token, wait_until

RUN = uuid.uuid4().hex[:6].upper()
SAMR_ITEM, TAX_ITEM, TAX_DRAFT = f"SAMR-{RUN}-1", f"TAX-{RUN}-1", f"TAX-{RUN}-2"


@pytest.fixture(scope="module")
def services(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    procs = {name: ServiceProcess(infra, name).start() for name in ("registry", "planner")}
    yield procs
    for proc in procs.values():
        proc.stop()


def _client(url: str, infra: Infra, sub: str, dept: str, *roles: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}
    return httpx.Client(base_url=url, headers=auth, timeout=10)


@pytest.fixture(scope="module")
def clients(services: dict[str, ServiceProcess], infra: Infra) -> Iterator[dict[str, Any]]:
    registry, planner = services["registry"].url, services["planner"].url
    made = {
        "samr_registry": _client(registry, infra, "op-samr", "SAMR", "operator"),
        "tax_registry": _client(registry, infra, "op-tax", "TAX", "operator"),
        "samr": _client(planner, infra, "op-samr", "SAMR", "operator"),
        "tax": _client(planner, infra, "op-tax", "TAX", "operator"),
        "office": _client(planner, infra, "office-1", "OFFICE", "office"),
    }
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="module")
def items(clients: dict[str, Any]) -> list[str]:
    """Two published items (SAMR, TAX) and one TAX draft, known to the planner."""
    for code, who, publish in (
        (SAMR_ITEM, "samr_registry", True),
        (TAX_ITEM, "tax_registry", True),
        (TAX_DRAFT, "tax_registry", False),
    ):
        dept = code.split("-")[0]
        assert clients[who].post("/v1/items", json=item_payload(code, dept)).status_code == 201
        if publish:
            assert clients[who].post(f"/v1/items/{code}/publish").status_code == 200

    def known() -> bool:
        rows = {i["code"]: i for i in clients["samr"].get("/v1/items").json()}
        return all(c in rows for c in (SAMR_ITEM, TAX_ITEM, TAX_DRAFT)) and all(
            rows[c]["published"] for c in (SAMR_ITEM, TAX_ITEM)
        )

    wait_until(known)
    return [SAMR_ITEM, TAX_ITEM]


def _plan(codes: list[str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "year": 2026,
        "title": "2026年度市场监管领域跨部门联合双随机抽查",
        "mode": "comprehensive",
        "initiating_department": "SAMR",
        "participating_departments": ["TAX"],
        "item_codes": codes,
        "batches": [
            {
                "name": "第一批次",
                "pool": {"region_prefixes": ["4202"], "risk_classes": ["B", "C"]},
                "ratios": {"C": 0.15},
                "directed": True,
                "starts_on": "2026-04-01",
                "ends_on": "2026-06-30",
            }
        ],
    }
    body.update(overrides)
    return body


def test_joint_plan_is_filed_with_batch_ids_and_published_once_by_the_office(
    clients: dict[str, Any], items: list[str]
) -> None:
    created = clients["samr"].post("/v1/plans", json=_plan(items))
    assert created.status_code == 201, created.text
    plan = created.json()
    (batch,) = plan["batches"]
    assert plan["version"] == 1 and uuid.UUID(batch["batch_id"])
    assert batch["ratios"] == {"A": 0.01, "B": 0.03, "C": 0.15, "D": 0.20}
    assert [i["code"] for i in plan["items"]] == items

    by_operator = clients["samr"].post(f"/v1/plans/{plan['id']}/publish")
    assert by_operator.status_code == 403
    published = clients["office"].post(f"/v1/plans/{plan['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json() == {"id": plan["id"], "published": True, "version": 2}
    again = clients["office"].post(f"/v1/plans/{plan['id']}/publish")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    def projected() -> dict[str, Any] | None:
        got = clients["tax"].get(f"/v1/plans/{plan['id']}")
        return got.json() if got.status_code == 200 and got.json()["version"] == 2 else None

    row = wait_until(projected)
    assert row["published"] is True and row["batches"] == plan["batches"]
    listed = clients["tax"].get("/v1/plans", params={"department": "TAX", "year": 2026}).json()
    assert plan["id"] in [p["id"] for p in listed["items"]]


def test_plan_with_unpublished_item_is_rejected(clients: dict[str, Any], items: list[str]) -> None:
    response = clients["samr"].post("/v1/plans", json=_plan([*items, TAX_DRAFT]))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert TAX_DRAFT in response.json()["detail"]


def test_plan_with_item_unknown_to_the_registry_is_rejected(
    clients: dict[str, Any], items: list[str]
) -> None:
    response = clients["samr"].post("/v1/plans", json=_plan([*items, "NOPE-1"]))
    assert response.status_code == 422
    assert "NOPE-1" in response.json()["detail"]


def test_participating_department_must_bring_an_item(
    clients: dict[str, Any], items: list[str]
) -> None:
    response = clients["samr"].post("/v1/plans", json=_plan([SAMR_ITEM]))
    assert response.status_code == 422
    assert "TAX" in response.json()["detail"]


def test_operator_cannot_file_a_plan_initiated_by_another_department(
    clients: dict[str, Any], items: list[str]
) -> None:
    assert clients["tax"].post("/v1/plans", json=_plan(items)).status_code == 403
    single = _plan([SAMR_ITEM], participating_departments=[], mode="special")
    assert clients["office"].post("/v1/plans", json=single).status_code == 201


def test_batch_outside_the_plan_year_is_rejected_with_its_path(
    clients: dict[str, Any], items: list[str]
) -> None:
    body = _plan(items)
    body["batches"][0]["ends_on"] = "2027-01-15"
    response = clients["samr"].post("/v1/plans", json=body)
    assert response.status_code == 422
    assert "batches[0]" in response.json()["detail"]


def test_withdrawn_item_can_no_longer_be_planned(clients: dict[str, Any], items: list[str]) -> None:
    code = f"SAMR-{RUN}-WD"
    registry = clients["samr_registry"]
    assert registry.post("/v1/items", json=item_payload(code, "SAMR")).status_code == 201
    assert registry.post(f"/v1/items/{code}/publish").status_code == 200
    assert (
        registry.post(f"/v1/items/{code}/withdraw", json={"reason": "法规废止"}).status_code == 200
    )

    def withdrawn() -> bool:
        rows = clients["samr"].get("/v1/items", params={"published": "false"}).json()
        return any(i["code"] == code for i in rows)

    wait_until(withdrawn)
    response = clients["samr"].post("/v1/plans", json=_plan([*items, code]))
    assert response.status_code == 422 and code in response.json()["detail"]


def test_plan_events_on_the_wire_follow_the_contract(
    clients: dict[str, Any], items: list[str], infra: Infra
) -> None:
    plan = clients["samr"].post("/v1/plans", json=_plan(items)).json()
    assert clients["office"].post(f"/v1/plans/{plan['id']}/publish").status_code == 200
    settings = infra.settings()

    async def last(name: str) -> dict[str, Any]:
        nc = await nats.connect(infra.nats_url)
        try:
            msg = await nc.jetstream().get_last_msg(
                settings.stream_name("planner"), f"{settings.subject_prefix('planner')}.plan.{name}"
            )
            return dict(json.loads(msg.data or b"{}"))
        finally:
            await nc.close()

    def published_on_the_wire() -> dict[str, Any] | None:
        try:
            event = asyncio.run(last("PlanPublished"))
        except Exception:
            return None
        return event if event["subject"] == plan["id"] else None

    published = wait_until(published_on_the_wire)
    assert published["type"] == "ssj.planner.PlanPublished.v1"
    assert set(published["data"]) == {"published_on"}
    created = asyncio.run(last("PlanCreated"))
    assert created["subject"] == plan["id"]
    assert created["type"] == "ssj.planner.PlanCreated.v1"
    assert created["actorsub"] == "op-samr" and created["actordept"] == "SAMR"
    data = created["data"]
    assert set(data) == {
        "year",
        "title",
        "mode",
        "initiating_department",
        "participating_departments",
        "items",
        "batches",
    }
    assert set(data["items"][0]) == {"code", "department", "name", "category", "ratio"}
    assert data["batches"] == plan["batches"]
