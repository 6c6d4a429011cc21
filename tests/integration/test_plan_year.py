"""A region's planning year through real registry, planner, draw and disclosure processes:
three departments propose, the office merges two proposals into one joint plan (进一次门，
查多项事) and turns the third into a department plan, publishes the annual plan (once
refused for an item under its 5 % floor, then with an override), a draw is announced, the
joint plan is adjusted, and the disclosure shows both editions with the reason. Late
proposals, double merges and changes to a drawn batch are refused with their rule."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.planner.domain import batch_order
from tests.builders import (
    ONSITE_ENTROPY,
    ONSITE_SOURCE,
    department_payload,
    entropy_choice,
    inspector_payload,
    item_payload,
    make_uscc,
    register_entropy_source,
    subject_payload,
)
from tests.support import Infra, ServiceProcess, start_stack, token, wait_until

RUN = uuid.uuid4().hex[:5].upper()
REGION = "420115"  # 江夏区: no other test, and no builder default, puts subjects here
A, B, C = "YXSJ", "YXSW", "YXWJ"  # 江夏区 市场监管局, 商务局, 卫生健康局
YEAR = 2027  # proposals for next year are on time (its deadline is the end of February)
FOOD, MADE = "F52", "C13"


class Year:
    """The stack, its callers and what the tests learn along the way."""

    def __init__(self, infra: Infra, procs: dict[str, ServiceProcess]) -> None:
        self.infra = infra
        self.procs = procs
        self.http = httpx.Client(timeout=30)
        self.office = self.auth("office-y", "OFFICE", "office")
        self.ops = {d: self.auth(f"op-{d}", d, "operator") for d in (A, B, C)}
        self.facts: dict[str, Any] = {}

    def auth(self, sub: str, dept: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(self.infra, sub, dept, *roles)}"}

    def send(self, method: str, service: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        return self.http.request(method, self.procs[service].url + path, headers=who, **kw)

    def call(self, method: str, service: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        response = self.send(method, service, path, who, **kw)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()


@pytest.fixture(scope="module")
def year(infra: Infra) -> Iterator[Year]:
    procs = start_stack(infra, ("registry", "planner", "draw", "disclosure"))
    y = Year(infra, procs)
    try:
        for dept in (A, B, C):
            body = department_payload(dept, name=f"江夏区{dept}局", region_code=REGION)
            assert y.send(
                "POST", "registry", "/v1/departments", y.office, json=body
            ).status_code in (
                201,
                409,
            )
        register_entropy_source(procs["draw"].url, y.office["Authorization"][7:], ONSITE_SOURCE)
        items = {
            A: item_payload(f"{A}-{RUN}", A, methods=["on_site", "documentary"]),
            B: item_payload(f"{B}-{RUN}", B, methods=["on_site", "documentary"]),
            C: item_payload(f"{C}-{RUN}", C, methods=["sampling"]),
        }
        for dept, body in items.items():
            y.call("POST", "registry", "/v1/items", y.ops[dept], json=body)
            y.call("POST", "registry", f"/v1/items/{body['code']}/publish", y.ops[dept])
        rng = random.Random(RUN)
        for n in range(60):
            body = subject_payload(
                rng,
                "ABCD"[n % 4],
                region_code=REGION,
                industry=FOOD if n % 2 else MADE,
                departments=[A],
            )
            body["identifier"] = make_uscc(rng, REGION)
            y.call("POST", "registry", "/v1/subjects", y.ops[A], json=body)
        for dept in (A, B):
            for n in range(3):
                body = inspector_payload(
                    dept, n, region_code=REGION, certificate_no=f"Y-{dept}-{RUN}-{n}"
                )
                y.call("POST", "registry", "/v1/inspectors", y.ops[dept], json=body)
        y.facts["items"] = {d: b["code"] for d, b in items.items()}

        def known() -> bool:
            rows = y.call("GET", "planner", "/v1/items", y.office, params={"published": "true"})
            return set(y.facts["items"].values()) <= {r["code"] for r in rows}

        wait_until(known, timeout=30)
        yield y
    finally:
        y.http.close()
        for proc in procs.values():
            proc.stop()


def _proposal(y: Year, dept: str, pool: dict[str, Any], methods: list[str]) -> dict[str, Any]:
    return {
        "year": YEAR,
        "department": dept,
        "title": f"{YEAR}年度{dept}拟发起抽查 {RUN}",
        "item_codes": [y.facts["items"][dept]],
        "pool": pool,
        "methods": methods,
        "starts_on": f"{YEAR}-03-01",
        "ends_on": f"{YEAR}-10-31",
        "partners": [d for d in (A, B) if d != dept],
    }


def test_three_departments_propose_on_time_and_the_office_lists_them(year: Year) -> None:
    y = year
    bodies = {
        A: _proposal(y, A, {"region_prefixes": [REGION], "industries": ["F"]}, ["on_site"]),
        B: _proposal(
            y, B, {"region_prefixes": ["4201"], "kinds": ["for_profit"]}, ["on_site", "documentary"]
        ),
        # Default ratios over A and B only: 2 of the item's 60 subjects, under 5 %.
        C: _proposal(
            y,
            C,
            {"region_prefixes": [REGION], "industries": [MADE], "risk_classes": ["A", "B"]},
            ["sampling"],
        ),
    }
    bodies[C]["partners"] = []
    # A department files its own proposals only.
    assert y.send("POST", "planner", "/v1/proposals", y.ops[B], json=bodies[A]).status_code == 403
    ids = {}
    for dept, body in bodies.items():
        filed = y.call("POST", "planner", "/v1/proposals", y.ops[dept], json=body)
        assert filed["status"] == "filed" and filed["region"] == REGION and not filed["late_reason"]
        ids[dept] = filed["id"]
    y.facts["proposals"] = ids
    amended = y.call(
        "PATCH", "planner", f"/v1/proposals/{ids[A]}", y.ops[A], json={"ratios": {"C": 0.2}}
    )
    assert amended["changed"] == ["ratios"] and amended["ratios"]["C"] == 0.2

    def listed() -> list[dict[str, Any]]:
        rows = y.call(
            "GET", "planner", "/v1/proposals", y.office, params={"year": YEAR, "region": REGION}
        )["items"]
        return rows if {r["id"] for r in rows} >= set(ids.values()) else []

    rows = wait_until(listed)
    assert {r["department"]: r["status"] for r in rows if r["id"] in ids.values()} == {
        A: "filed",
        B: "filed",
        C: "filed",
    }
    own = y.call("GET", "planner", "/v1/proposals", y.ops[C], params={"year": YEAR})["items"]
    assert {r["department"] for r in own} == {C}


def test_a_late_proposal_needs_its_reason(year: Year) -> None:
    y = year
    moved = y.call(
        "PUT",
        "planner",
        f"/v1/proposal-deadlines/{REGION}/{YEAR}",
        y.office,
        json={"deadline": "2026-11-30", "reason": "提前汇总"},
    )
    assert moved["set_by"] == "office"
    late = _proposal(y, C, {"region_prefixes": [REGION]}, ["sampling"])
    refused = y.send("POST", "planner", "/v1/proposals", y.ops[C], json=late)
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "proposal_deadline"
    late["late_reason"] = "新增职责，补报"
    accepted = y.call("POST", "planner", "/v1/proposals", y.ops[C], json=late)
    assert accepted["late_reason"] == "新增职责，补报"
    # Withdrawing after the deadline needs a reason for lateness too.
    path = f"/v1/proposals/{accepted['id']}/withdraw"
    assert y.send("POST", "planner", path, y.ops[C], json={"reason": "重复"}).status_code == 409
    withdrawn = y.call(
        "POST", "planner", path, y.ops[C], json={"reason": "重复", "late_reason": "补报后撤回"}
    )
    assert withdrawn["status"] == "withdrawn"


def test_suggestions_group_the_overlapping_proposals_counted_by_the_registry(year: Year) -> None:
    y = year
    ids = y.facts["proposals"]

    def suggested() -> list[dict[str, Any]]:
        found = y.call("GET", "planner", "/v1/merge-suggestions", y.office, params={"year": YEAR})[
            "suggestions"
        ]
        return [s for s in found if {p["id"] for p in s["proposals"]} & set(ids.values())]

    (suggestion,) = wait_until(suggested)
    assert {p["id"] for p in suggestion["proposals"]} == {ids[A], ids[B]}
    # The overlap: 江夏区's for-profit food sellers, 30 of the 60 subjects.
    assert suggestion["overlap"]["region_prefixes"] == [REGION]
    assert suggestion["overlap"]["industries"] == ["F"]
    assert suggestion["overlap"]["kinds"] == ["for_profit"]
    assert suggestion["subjects_in_overlap"] == 30
    assert suggestion["shared_methods"] == ["on_site"] and "进一次门" in suggestion["reason"]
    operator = y.send("GET", "planner", "/v1/merge-suggestions", y.ops[A], params={"year": YEAR})
    assert operator.status_code == 403


def test_office_merges_two_proposals_once_and_the_third_becomes_a_department_plan(
    year: Year,
) -> None:
    y = year
    ids = y.facts["proposals"]
    batch = {
        "name": "食品销售联合检查",
        "pool": {"region_prefixes": [REGION], "industries": [FOOD]},
        "ratios": {"A": 0.5, "B": 0.5, "C": 0.5, "D": 0.5},
        "starts_on": f"{YEAR}-03-01",
        "ends_on": f"{YEAR}-06-30",
        "programme": {"coordination": "市场监管局牵头，商务局派员同行"},
    }
    body = {
        "proposal_ids": [ids[A], ids[B]],
        "initiating_department": A,
        "title": f"{YEAR}年度江夏区食品销售跨部门联合抽查 {RUN}",
        "mode": "comprehensive",
        "content": {"organisation": "县联席会议办公室统筹"},
        "batches": [batch],
    }
    assert y.send("POST", "planner", "/v1/plans/compile", y.ops[A], json=body).status_code == 403
    joint = y.call("POST", "planner", "/v1/plans/compile", y.office, json=body)
    assert joint["participating_departments"] == [B] and joint["proposals"] == [ids[A], ids[B]]
    assert [i["code"] for i in joint["items"]] == [y.facts["items"][A], y.facts["items"][B]]
    assert joint["number"].startswith(f"JH-{REGION}-{YEAR}-")
    assert joint["batches"][0]["task_number"] == f"{joint['number']}-001"
    again = y.send(
        "POST", "planner", "/v1/plans/compile", y.office, json={**body, "proposal_ids": [ids[A]]}
    )
    assert again.status_code == 409 and again.json()["rule"] == "proposal_closed"
    amend = y.send("PATCH", "planner", f"/v1/proposals/{ids[B]}", y.ops[B], json={"note": "x"})
    assert amend.status_code == 409 and amend.json()["rule"] == "proposal_closed"

    single = y.call(
        "POST",
        "planner",
        "/v1/plans/compile",
        y.office,
        json={
            "proposal_ids": [ids[C]],
            "initiating_department": C,
            "title": f"{YEAR}年度江夏区食品生产抽样检测 {RUN}",
            "mode": "comprehensive",
        },
    )
    # Without batches, the proposal's own scope, timing and ratios make the one batch.
    (only,) = single["batches"]
    assert only["pool"]["industries"] == [MADE] and only["ends_on"] == f"{YEAR}-10-31"
    assert single["participating_departments"] == []
    first, second = (int(p["number"].rsplit("-", 1)[1]) for p in (joint, single))
    assert second == first + 1
    y.facts.update(joint=joint, single=single)


def test_annual_plan_is_refused_under_the_floor_then_published_with_an_override(
    year: Year,
) -> None:
    y = year
    joint, single = y.facts["joint"], y.facts["single"]
    coverage = y.call("GET", "planner", f"/v1/plans/{single['id']}/coverage", y.office)
    (row,) = coverage["items"]
    assert row["subjects"] == 60 and row["below_floor"] and row["share"] < 0.05
    path = f"/v1/annual-plans/{REGION}/{YEAR}/publish"
    refused = y.send("POST", "planner", path, y.office)
    assert refused.status_code == 422 and refused.json()["rule"] == "general_item_floor"
    assert y.facts["items"][C] in refused.json()["detail"]
    reason = "抽样检测经费有限，首年按样本量安排"
    overrides = {single["id"]: [{"item_code": y.facts["items"][C], "reason": reason}]}
    published = y.call("POST", "planner", path, y.office, json={"floor_overrides": overrides})
    assert {p["id"] for p in published["plans"]} == {joint["id"], single["id"]}
    annual = y.call("GET", "planner", f"/v1/annual-plans/{REGION}/{YEAR}", y.office)
    assert all(p["published"] for p in annual["plans"])
    again = y.send("POST", "planner", path, y.office)
    assert again.status_code == 409

    def disclosed() -> dict[str, Any] | None:
        rows = httpx.get(
            f"{y.procs['disclosure'].url}/v1/public/plans", params={"year": YEAR, "limit": 1000}
        ).json()
        found = [r for r in rows if r["plan_id"] == single["id"]]
        return found[0] if found else None

    public = wait_until(disclosed)
    assert public["number"] == single["number"] and public["edition"] == 1
    assert public["floor_overrides"] == [{"item_code": y.facts["items"][C], "reason": reason}]
    assert public["coverage"][0]["below_floor"] is True


def test_drawn_batch_is_fixed_and_the_adjusted_plan_is_disclosed_in_both_editions(
    year: Year,
) -> None:
    y = year
    joint = y.facts["joint"]
    batch_id = joint["batches"][0]["batch_id"]

    def drawable() -> bool:
        body = {"batch_id": batch_id, "entropy": entropy_choice(60)}
        response = y.send("POST", "draw", "/v1/draws", y.ops[A], json=body)
        assert response.status_code in (201, 404, 409, 422, 503), response.text
        return response.status_code == 201

    wait_until(drawable, timeout=30)

    # Refused at once: the planner asks the draw service, whose stream may not have told
    # the planner of the announcement yet.
    change = {"batch_id": batch_id, "ratios": {"A": 0.9}}
    body = {"reason": "调高比例", "approved_by": "县联席会议", "change_batches": [change]}
    path = f"/v1/plans/{joint['id']}/adjustments"
    refused = y.send("POST", "planner", path, y.office, json=body)
    assert refused.status_code == 409 and refused.json()["rule"] == "drawn_batch_fixed"
    assert y.send("POST", "planner", path, y.ops[A], json=body).status_code == 403
    reason = "食品安全专项整治需要，延长第一批次并增加第二批次"
    adjusted = y.call(
        "POST",
        "planner",
        f"/v1/plans/{joint['id']}/adjustments",
        y.office,
        json={
            "reason": reason,
            "approved_by": "江夏区双随机联席会议第2次会议",
            "change_batches": [{"batch_id": batch_id, "ends_on": f"{YEAR}-07-31"}],
            "add_batches": [
                {
                    "name": "第二批次",
                    "pool": {"region_prefixes": [REGION], "industries": [FOOD]},
                    "ratios": {"A": 0.2, "B": 0.2, "C": 0.2, "D": 0.2},
                    "starts_on": f"{YEAR}-09-01",
                    "ends_on": f"{YEAR}-11-30",
                }
            ],
        },
    )
    assert adjusted["edition"] == 2
    assert adjusted["changes"]["added_batches"] == [f"{joint['number']}-002"]
    first_task = f"{joint['number']}-001"
    assert adjusted["changes"]["changed_batches"][first_task]["ends_on"]["to"] == f"{YEAR}-07-31"
    versions = y.call("GET", "planner", f"/v1/plans/{joint['id']}/versions", y.ops[B])
    assert [e["edition"] for e in versions["editions"]] == [1, 2]
    assert len(versions["editions"][0]["plan"]["batches"]) == 1

    def disclosed() -> dict[str, Any] | None:
        response = httpx.get(f"{y.procs['disclosure'].url}/v1/public/plans/{joint['id']}/versions")
        if response.status_code != 200 or len(response.json()["editions"]) < 2:
            return None
        return response.json()

    public = wait_until(disclosed)
    first, second = public["editions"]
    assert (first["edition"], second["edition"]) == (1, 2) and second["reason"] == reason
    assert len(first["plan"]["batches"]) == 1 and len(second["plan"]["batches"]) == 2
    assert {
        "change": "batch",
        "task_number": first_task,
        "field": "ends_on",
        "from": f"{YEAR}-06-30",
        "to": f"{YEAR}-07-31",
    } in second["changes"]
    # The draw service learns of the new batch: it can be drawn.
    plan_now = y.call("GET", "planner", f"/v1/plans/{joint['id']}/versions", y.office)
    new_batch = plan_now["editions"][-1]["plan"]["batches"][1]["batch_id"]

    def announce_second() -> bool:
        body = {"batch_id": new_batch, "entropy": entropy_choice(60)}
        return y.send("POST", "draw", "/v1/draws", y.ops[A], json=body).status_code == 201

    wait_until(announce_second, timeout=30)


def test_the_office_draws_the_batches_order_from_a_public_drawing(year: Year) -> None:
    y = year
    joint = y.facts["joint"]
    path = f"/v1/plans/{joint['id']}/batch-order"
    # The drawing is checked by the draw service as its own announcements are: a time of
    # the source's schedule far enough ahead, an issue in step with those named before.
    body = entropy_choice()
    soon = datetime.fromisoformat(body["scheduled_at"])
    unknown = y.send("POST", "planner", path, y.office, json={**body, "source": "no-such"})
    assert unknown.status_code == 422, unknown.text
    past = {**body, "scheduled_at": datetime.now(UTC).isoformat()}
    assert y.send("POST", "planner", path, y.office, json=past).status_code == 422
    announced = y.call("POST", "planner", path, y.office, json=body)["batch_order"]
    assert announced["tasks"] == [f"{joint['number']}-001", f"{joint['number']}-002"]
    assert announced["source_name"] == ONSITE_SOURCE["name"]
    again = y.send("POST", "planner", path, y.office, json=body)
    assert again.status_code == 409 and again.json()["rule"] == "batch_order_once"
    early = y.send("POST", "planner", f"{path}/draw", y.office, json={"numbers": ONSITE_ENTROPY})
    assert early.status_code == 409 and early.json()["rule"] == "batch_order_early"
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    # Numbers that do not fit the source (eight digits) are refused by its format.
    short = y.send("POST", "planner", f"{path}/draw", y.office, json={"numbers": "3 1 4 1"})
    assert short.status_code == 422, short.text
    drawn = y.call("POST", "planner", f"{path}/draw", y.office, json={"numbers": ONSITE_ENTROPY})
    order = drawn["batch_order"]["order"]
    assert sorted(order) == announced["tasks"]
    assert drawn["batch_order"]["numbers"] == ONSITE_ENTROPY

    def disclosed() -> dict[str, Any] | None:
        rows = httpx.get(
            f"{y.procs['disclosure'].url}/v1/public/plans", params={"year": YEAR, "limit": 1000}
        ).json()
        found = [r["batch_order"] for r in rows if r["plan_id"] == joint["id"]]
        return found[0] if found and found[0] and "order" in found[0] else None

    public = wait_until(disclosed)
    # Anyone recomputes the order from the public announcement and the drawing's numbers.
    statement = {
        k: v
        for k, v in public.items()
        if k not in ("announcement_hash", "numbers", "order", "drawn_at")
    }
    assert batch_order.announcement_hash(statement) == public["announcement_hash"]
    assert batch_order.verify(statement, public["numbers"], public["order"])
    assert public["order"] == order


def test_racing_merges_and_filings_get_one_merge_and_distinct_numbers(year: Year) -> None:
    y = year
    late = {"late_reason": "并发测试补报"}
    ids = [
        y.call(
            "POST",
            "planner",
            "/v1/proposals",
            y.ops[dept],
            json={**_proposal(y, dept, {"region_prefixes": [REGION]}, ["on_site"]), **late},
        )["id"]
        for dept in (A, B)
    ]
    body = {
        "proposal_ids": ids,
        "initiating_department": A,
        "title": f"并发合并 {RUN}",
        "mode": "comprehensive",
    }
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: y.send("POST", "planner", "/v1/plans/compile", y.office, json=body),
                range(4),
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409], [a.text for a in answers]
    assert all(a.json()["rule"] == "proposal_closed" for a in answers if a.status_code == 409)
    # Plans filed at once in one region and year never share a number.
    plan = {
        "year": YEAR,
        "title": f"并发编号 {RUN}",
        "mode": "comprehensive",
        "initiating_department": A,
        "item_codes": [y.facts["items"][A]],
        "batches": [{"name": "批次", "starts_on": f"{YEAR}-05-01", "ends_on": f"{YEAR}-05-31"}],
    }
    with ThreadPoolExecutor(4) as pool:
        filed = list(
            pool.map(
                lambda n: y.send(
                    "POST", "planner", "/v1/plans", y.ops[A], json={**plan, "title": f"{n}"}
                ),
                range(4),
            )
        )
    assert all(f.status_code == 201 for f in filed), [f.text for f in filed]
    numbers = [f.json()["number"] for f in filed]
    assert len(set(numbers)) == 4 and all(n.startswith(f"JH-{REGION}-{YEAR}-") for n in numbers)


def test_a_draw_announced_right_after_an_adjustment_draws_on_the_new_terms(year: Year) -> None:
    """The draw service applies the planner's published events before it announces (503
    while it catches up): an adjustment answered 201 is never drawn on its previous terms."""
    y = year
    single = y.facts["single"]
    batch_id = single["batches"][0]["batch_id"]
    change = {"batch_id": batch_id, "pool": {"region_prefixes": [REGION], "risk_classes": ["A"]}}
    y.call(
        "POST",
        "planner",
        f"/v1/plans/{single['id']}/adjustments",
        y.office,
        json={
            "reason": "只抽A类",
            "approved_by": "县联席会议",
            "change_batches": [change],
            "floor_overrides": [{"item_code": y.facts["items"][C], "reason": "经费有限"}],
        },
    )
    answer = None
    for _ in range(100):
        body = {"batch_id": batch_id, "entropy": entropy_choice(60)}
        answer = y.send("POST", "draw", "/v1/draws", y.ops[C], json=body)
        if answer.status_code != 503:
            break
        time.sleep(0.05)
    assert answer is not None and answer.status_code == 201, answer.text
    # Only class A was drawn from: the adjusted pool, not the proposal's A and B.
    assert set(answer.json()["strata"]) <= {"A", "*"}, answer.json()["strata"]
