"""The planner as a real process, fed by the real registry, on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest

from services.planner.application import PlannerApplication
from services.planner.domain.plan import Plan
from tests.builders import item_payload, make_uscc, register_departments
from tests.support import Infra, ServiceProcess, start_stack, token, wait_until

RUN = uuid.uuid4().hex[:6].upper()
SAMR_ITEM, TAX_ITEM, TAX_DRAFT = f"SAMR-{RUN}-1", f"TAX-{RUN}-1", f"TAX-{RUN}-2"


@pytest.fixture(scope="module")
def services(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    procs = start_stack(infra, ("registry", "planner"))
    yield procs
    for proc in procs.values():
        proc.stop()


def _client(url: str, infra: Infra, sub: str, dept: str, *roles: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}
    return httpx.Client(base_url=url, headers=auth, timeout=10)


@pytest.fixture(scope="module")
def clients(services: dict[str, ServiceProcess], infra: Infra) -> Iterator[dict[str, Any]]:
    registry, planner = services["registry"].url, services["planner"].url
    register_departments(registry, token(infra, "office-1", "OFFICE", "office"), ["SAMR", "TAX"])
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


DRAW_RULE_DEFAULTS = {
    "counts": {},
    "full_list": [],
    "complaint_referral": False,
    "cross_jurisdiction": False,
    "avoid_previous_inspectors": True,
    "min_group_size": 2,
}


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
    assert batch["pool"]["tags"] == batch["pool"]["statuses"] == batch["pool"]["flags"] == []
    assert {k: batch[k] for k in DRAW_RULE_DEFAULTS} == DRAW_RULE_DEFAULTS
    assert [i["code"] for i in plan["items"]] == items

    by_operator = clients["samr"].post(f"/v1/plans/{plan['id']}/publish")
    assert by_operator.status_code == 403
    # The session's other tests put subjects in 4202: however many, the office records why a
    # share may fall under an item's floor.
    overrides = [{"item_code": code, "reason": "试点批次"} for code in items]
    published = clients["office"].post(
        f"/v1/plans/{plan['id']}/publish", json={"floor_overrides": overrides}
    )
    assert published.status_code == 200, published.text
    answer = published.json()
    assert {k: answer[k] for k in ("id", "published", "version", "edition", "number")} == {
        "id": plan["id"],
        "published": True,
        "version": 2,
        "edition": 1,
        "number": plan["number"],
    }
    shown = answer["coverage"]["items"]
    assert [row["code"] for row in shown] == items and answer["coverage"]["region"] == "420200"
    under = {row["code"] for row in shown if row["below_floor"]}
    assert answer["floor_overrides"] == {code: "试点批次" for code in under}
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
    single = _plan(
        [SAMR_ITEM],
        participating_departments=[],
        mode="special",
        programme="黄石市2026年食品安全专项整治工作方案",
    )
    assert clients["office"].post("/v1/plans", json={**single, "programme": ""}).status_code == 422
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

    def listed(published: bool) -> bool:
        rows = clients["samr"].get("/v1/items", params={"published": str(published).lower()})
        return any(i["code"] == code for i in rows.json())

    # Published first: a registered item not yet published is listed as unpublished too,
    # and the withdrawal must be what the planner has seen last.
    wait_until(lambda: listed(True))
    assert (
        registry.post(f"/v1/items/{code}/withdraw", json={"reason": "法规废止"}).status_code == 200
    )
    wait_until(lambda: listed(False))
    response = clients["samr"].post("/v1/plans", json=_plan([*items, code]))
    assert response.status_code == 422 and code in response.json()["detail"]


def test_plan_events_on_the_wire_follow_the_contract(
    clients: dict[str, Any], items: list[str], infra: Infra
) -> None:
    plan = clients["samr"].post("/v1/plans", json=_plan(items)).json()
    overrides = [{"item_code": code, "reason": "试点批次"} for code in items]
    published = clients["office"].post(
        f"/v1/plans/{plan['id']}/publish", json={"floor_overrides": overrides}
    )
    assert published.status_code == 200, published.text
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
    assert set(published["data"]) == {"published_on", "coverage", "floor_overrides"}
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
        "programme",
        "number",
        "region",
        "content",
        "proposals",
    }
    assert data["number"] == plan["number"] and data["region"] == "420200"
    assert set(data["items"][0]) == {"code", "department", "name", "category", "ratio"}
    assert data["batches"] == plan["batches"]


def _full_batch() -> dict[str, Any]:
    """A batch using every key a batch can carry."""
    rng = random.Random(RUN)
    return {
        "name": "重点对象批次",
        "pool": {
            "region_prefixes": ["42"],
            "kinds": ["for_profit"],
            "industries": ["F52"],
            "risk_classes": ["C", "D"],
            "tags": ["cold-chain", "SPECIAL_EQUIP"],
            "statuses": ["operating", "moved_out"],
            "flags": ["abnormal_operation"],
        },
        "ratios": {"C": 0.12},
        "counts": {"D": 5},
        "full_list": [make_uscc(rng), make_uscc(rng), "PROJ-2026-0001"],
        "directed": True,
        "complaint_referral": True,
        "cross_jurisdiction": True,
        "avoid_previous_inspectors": False,
        "min_group_size": 3,
        "starts_on": "2026-07-01",
        "ends_on": "2026-09-30",
        "programme": {"scope": "冷链食品经营者", "schedule": "7月至9月"},
    }


def test_every_batch_key_round_trips_through_the_api_the_read_model_and_the_wire(
    clients: dict[str, Any], items: list[str], infra: Infra
) -> None:
    sent = _full_batch()
    created = clients["samr"].post("/v1/plans", json=_plan(items, batches=[sent]))
    assert created.status_code == 201, created.text
    plan = created.json()
    (batch,) = plan["batches"]
    expected = {**sent, "ratios": {"A": 0.01, "B": 0.03, "C": 0.12, "D": 0.20}}
    assert batch["task_number"] == f"{plan['number']}-001"
    assert {k: v for k, v in batch.items() if k not in ("batch_id", "task_number")} == expected

    def projected() -> dict[str, Any] | None:
        got = clients["tax"].get(f"/v1/plans/{plan['id']}")
        return got.json() if got.status_code == 200 else None

    assert wait_until(projected)["batches"] == plan["batches"]
    listed = clients["tax"].get("/v1/plans", params={"year": 2026, "limit": 1000}).json()
    (row,) = [p for p in listed["items"] if p["id"] == plan["id"]]
    assert row["batches"] == plan["batches"]

    settings = infra.settings()

    async def created_on_the_wire() -> dict[str, Any] | None:
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                f"{settings.subject_prefix('planner')}.plan.PlanCreated",
                stream=settings.stream_name("planner"),
                ordered_consumer=True,
            )
            try:
                while True:
                    msg = await sub.next_msg(timeout=2)
                    event = json.loads(msg.data)
                    if event["subject"] == plan["id"]:
                        return dict(event)
            except nats.errors.TimeoutError:
                return None
        finally:
            await nc.close()

    event = wait_until(lambda: asyncio.run(created_on_the_wire()))
    assert event["data"]["batches"] == plan["batches"]


def test_a_plan_naming_a_department_outside_the_register_is_refused(
    clients: dict[str, Any], items: list[str]
) -> None:
    ghost = f"GHOST{RUN}"
    body = _plan(items, participating_departments=["TAX", ghost])
    response = clients["samr"].post("/v1/plans", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["title"] == "Unknown department"
    (error,) = response.json()["errors"]
    assert (error["field"], error["departments"]) == ("participating_departments", [ghost])
    office = clients["office"].post("/v1/plans", json=_plan(items, initiating_department=ghost))
    assert office.status_code == 422
    assert office.json()["errors"][0]["field"] == "initiating_department"


def test_a_deactivated_department_can_no_longer_take_part_in_a_plan(
    services: dict[str, ServiceProcess], infra: Infra, clients: dict[str, Any], items: list[str]
) -> None:
    dept, code = f"OLD{RUN}", f"OLD{RUN}-1"
    registry = services["registry"].url
    office_token = token(infra, "office-1", "OFFICE", "office")
    register_departments(registry, office_token, [dept])
    with _client(registry, infra, "office-1", "OFFICE", "office") as office:
        assert office.post("/v1/items", json=item_payload(code, dept)).status_code == 201
        assert office.post(f"/v1/items/{code}/publish").status_code == 200
        body = _plan([*items, code], participating_departments=["TAX", dept])

        def planned_with_it() -> bool:
            rows = clients["samr"].get("/v1/items", params={"published": "true"}).json()
            return any(i["code"] == code for i in rows)

        wait_until(planned_with_it)
        assert clients["samr"].post("/v1/plans", json=body).status_code == 201
        off = office.patch(
            f"/v1/departments/{dept}", json={"active": False}, headers={"If-Match": "1"}
        )
        assert off.status_code == 200, off.text

    def refused() -> httpx.Response | None:
        response = clients["samr"].post("/v1/plans", json=body)
        return response if response.status_code == 422 else None

    errors = wait_until(refused).json()["errors"]
    assert (errors[0]["field"], errors[0]["departments"]) == ("participating_departments", [dept])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pool": {"tags": ["bad tag"]}}, "batches[0].pool.tags[0]"),
        ({"pool": {"statuses": ["closed"]}}, "batches[0].pool.statuses[0]"),
        ({"pool": {"flags": ["blacklist"]}}, "batches[0].pool.flags[0]"),
        ({"counts": {"D": -1}}, "batches[0].counts.D"),
        ({"counts": {"D": 1.5}}, "batches[0].counts.D"),
        ({"counts": {"E": 3}}, "batches[0].counts.E"),  # reported as counts.E.[key]
        ({"min_group_size": 1}, "batches[0].min_group_size"),
        ({"cross_jurisdiction": "maybe"}, "batches[0].cross_jurisdiction"),
        ({"complaint_referral": "maybe"}, "batches[0].complaint_referral"),
        ({"avoid_previous_inspectors": "maybe"}, "batches[0].avoid_previous_inspectors"),
        ({"full_list": "PROJ-2026-0001"}, "batches[0].full_list"),
    ],
)
def test_bad_batch_values_are_rejected_with_their_field_path(
    clients: dict[str, Any], items: list[str], change: dict[str, Any], field: str
) -> None:
    body = _plan(items)
    body["batches"][0].update(change)
    response = clients["samr"].post("/v1/plans", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"full_list": ["PROJ-2026-0001", "91110000600037341X"]}, "batches[0].full_list[1]"),
        ({"full_list": ["PROJ-2026-0001", "PROJ-2026-0001"]}, "batches[0].full_list"),
        ({"counts": {"A": 2}}, "batches[0].counts.A"),  # the pool takes B and C only
        ({"pool": {"tags": ["t1", "t1"]}}, "batches[0].pool.tags"),
    ],
)
def test_batch_rules_beyond_the_schema_are_rejected_with_their_path(
    clients: dict[str, Any], items: list[str], change: dict[str, Any], path: str
) -> None:
    body = _plan(items)
    body["batches"][0].update(change)
    response = clients["samr"].post("/v1/plans", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["title"] == "Invalid plan"
    assert response.json()["detail"].startswith(path + ":")


@pytest.fixture(scope="module")
def planner_store(infra: Infra, services: dict[str, ServiceProcess]) -> Iterator[Any]:
    """The planner's event store, opened in the test process (as an old release would)."""
    app = PlannerApplication(infra.settings("planner"))
    yield app
    app.close()


def test_plan_stored_before_the_new_batch_keys_reads_with_their_defaults(
    clients: dict[str, Any], items: list[str], planner_store: PlannerApplication
) -> None:
    catalogue = {i["code"]: i for i in clients["samr"].get("/v1/items").json()}
    plan = Plan.create(
        year=2026,
        title="旧版本计划",
        mode="comprehensive",
        initiating_department="SAMR",
        participating_departments=["TAX"],
        items=[catalogue[c] for c in items],
        batches=[_plan(items)["batches"][0]],
    )
    created: Any = plan.collect_events()[0]
    (batch,) = plan.batches
    old = {k: batch[k] for k in ("batch_id", "name", "ratios", "directed", "starts_on")}
    old["ends_on"] = batch["ends_on"]
    old["pool"] = {
        k: batch["pool"][k] for k in ("region_prefixes", "kinds", "industries", "risk_classes")
    }
    planner_store.save(dataclasses.replace(created, batches=[old]))  # as stored back then

    def projected() -> dict[str, Any] | None:
        got = clients["tax"].get(f"/v1/plans/{plan.id}")
        return got.json() if got.status_code == 200 else None

    (read,) = wait_until(projected)["batches"]
    assert read == batch  # every key, the new ones at their defaults
    overrides = [{"item_code": code, "reason": "试点批次"} for code in items]
    published = clients["office"].post(
        f"/v1/plans/{plan.id}/publish", json={"floor_overrides": overrides}
    )
    assert published.status_code == 200, published.text  # the old event loads in the service
    reloaded = planner_store.get_plan(plan.id)
    assert reloaded.batches == [batch] and reloaded.published
    (stored,) = planner_store.repository.get(plan.id, version=1).batches
    assert stored == batch
    (event,) = [e for e in planner_store.events.get(plan.id) if e.originator_version == 1]
    assert set(event.batches[0]) == set(old)  # the stored event is unchanged
