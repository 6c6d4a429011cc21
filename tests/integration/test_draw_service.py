"""The draw service's rules through real registry, planner and draw processes, PostgreSQL
and NATS JetStream: pool filters, the 100 % list, the same-year exclusion and its
complaint exception, 所所交叉, conflicts of interest, previous inspectors, entropy timing
and impossible groups.

Everything here lives in region 4203 (十堰市) and departments DSAMR/DTAX, so the other
modules sharing this session's namespace do not interfere.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.draw.domain.sources import BEIJING
from services.draw.protocol import v3
from services.draw.protocol.blinding import keyed_members
from services.draw.protocol.canonical import pool_hash, pool_line, sort_pool, split_line
from services.draw.protocol.proof import verify
from services.draw.protocol.rfc3797 import canonical_key, round_digest
from services.draw.protocol.verify3 import verify_line
from tests.builders import (
    ONSITE_SOURCE,
    entropy_choice,
    inspector_payload,
    item_payload,
    make_uscc,
    register_departments,
    register_entropy_source,
    subject_payload,
    wait_for_entropy,
)
from tests.support import Infra, ServiceProcess, service_stack, token

RUN = uuid.uuid4().hex[:6]
LEAD, PART = "DSAMR", "DTAX"
# Units (所) are codes of the department register: 茅箭所, 张湾所, 西塞山所 of this run.
UNIT_A, UNIT_B, UNIT_C = (f"U{RUN.upper()}-{name}" for name in ("MJ", "ZW", "XSS"))
# RFC 3797's worked example as a source: three groups, each one source of the RFC.
RFC_SOURCE = {
    "code": "rfc3797-example",
    "name": "RFC 3797 第6节示例",
    "publisher": "IETF",
    "groups": [
        {"name": "a", "count": 1, "low": 0, "high": 9999, "ordered": False},
        {"name": "b", "count": 5, "low": 1, "high": 20, "ordered": False},
        {"name": "c", "count": 6, "low": 1, "high": 49, "ordered": False},
    ],
    "schedule": None,
}
SSQ_SOURCE = {
    "code": "cwl-ssq",
    "name": "中国福利彩票双色球",
    "publisher": "中国福利彩票发行管理中心",
    "groups": [
        {"name": "red", "count": 6, "low": 1, "high": 33, "ordered": False},
        {"name": "blue", "count": 1, "low": 1, "high": 16, "ordered": False},
    ],
    "schedule": {"days": [2, 4, 7], "time": "21:15"},
}


class Stack:
    """Registry, planner and draw, and helpers to drive them."""

    def __init__(self, infra: Infra, procs: dict[str, ServiceProcess]) -> None:
        self.infra, self.procs = infra, procs
        self.http = httpx.Client(timeout=60)
        self.office = self.auth("office", "OFFICE", "office")
        self.ops = {d: self.auth(f"op-{d}", d, "operator") for d in (LEAD, PART)}

    def auth(self, sub: str, dept: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(self.infra, sub, dept, *roles)}"}

    def call(self, method: str, service: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        response = self.http.request(method, self.procs[service].url + path, headers=who, **kw)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()

    def settle(self, timeout: float = 60) -> None:
        import time

        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            lags = []
            for proc in self.procs.values():
                # /readyz shows its lags to the office and auditors only.
                checks = self.http.get(f"{proc.url}/readyz", headers=self.office).json()["checks"]
                lags.append(checks.get("relay_lag", 1))
                lags.extend(checks.get("consumer_lag", {}).values())
            quiet = quiet + 1 if not any(lags) else 0
            if quiet >= 2:
                return
            time.sleep(0.2)
        raise TimeoutError("events did not settle")

    def plan(self, codes: list[str], **batch: Any) -> str:
        """Create and publish a plan with one batch; return the batch id."""
        year = date.today().year
        spec = {
            "name": "批次",
            "pool": {"region_prefixes": ["4203"]},
            "starts_on": f"{year}-01-01",
            "ends_on": f"{year}-12-31",
            **batch,
        }
        plan = self.call(
            "POST",
            "planner",
            "/v1/plans",
            self.ops[LEAD],
            json={
                "year": year,
                "title": f"draw rules {RUN} {uuid.uuid4().hex[:4]}",
                "mode": "special",
                "programme": "黄石市双随机抽查规则验证专项工作方案",
                "initiating_department": LEAD,
                "participating_departments": [PART],
                "item_codes": codes,
                "batches": [spec],
            },
        )
        # A handful of test subjects is far under any item's 5 % floor: recorded as such.
        overrides = [{"item_code": c, "reason": "规则验证用小样本"} for c in codes]
        self.call(
            "POST",
            "planner",
            f"/v1/plans/{plan['id']}/publish",
            self.office,
            json={"floor_overrides": overrides},
        )
        self.settle()
        return str(plan["batches"][0]["batch_id"])

    def announce(self, batch_id: str, **extra: Any) -> httpx.Response:
        body = {"batch_id": batch_id, "entropy": entropy_choice(), **extra}
        return self.http.post(
            f"{self.procs['draw'].url}/v1/draws", json=body, headers=self.ops[LEAD]
        )

    def draw(self, batch_id: str, entropy: str = "7 1 4 2 8 5 7 0") -> dict[str, Any]:
        announced = self.announce(batch_id)
        assert announced.status_code == 201, announced.text
        wait_for_entropy(announced.json())  # execution is refused before the drawing
        return self.call(
            "POST",
            "draw",
            f"/v1/draws/{announced.json()['id']}/execute",
            self.ops[LEAD],
            json={"entropy": entropy},
        )

    def proof(self, draw_id: str) -> dict[str, Any]:
        """The full proof (the office's view: the whole pool with its risk classes)."""
        url = f"{self.procs['draw'].url}/v1/draws/{draw_id}/proof/full"
        response = self.http.get(url, headers=self.office)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def public_proof(self, draw_id: str) -> dict[str, Any]:
        """The proof anyone downloads, without signing in."""
        response = self.http.get(f"{self.procs['draw'].url}/v1/draws/{draw_id}/proof")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[Stack]:
    procs = {
        n: p.start(wait=False)
        for n, p in service_stack(infra, ("registry", "planner", "draw")).items()
    }
    try:
        for proc in procs.values():
            proc.wait_ready()
        office = token(infra, "office", "OFFICE", "office")
        register_departments(procs["registry"].url, office, [LEAD, PART, "SAMR"])
        register_departments(procs["registry"].url, office, [UNIT_A, UNIT_B, UNIT_C], LEAD)
        for source in (ONSITE_SOURCE, RFC_SOURCE, SSQ_SOURCE):
            register_entropy_source(procs["draw"].url, office, source)
        yield Stack(infra, procs)
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    """Items, a tag, subjects of every kind of interest, inspectors with units."""
    rng = random.Random(RUN)
    general, key = f"G-{RUN}", f"K-{RUN}"
    stack.call("POST", "registry", "/v1/items", stack.ops[LEAD], json=item_payload(general, LEAD))
    stack.call(
        "POST",
        "registry",
        "/v1/items",
        stack.ops[PART],
        json=item_payload(key, PART, category="key", ratio=0.2),
    )
    for code, dept in ((general, LEAD), (key, PART)):
        stack.call("POST", "registry", f"/v1/items/{code}/publish", stack.ops[dept])
    tag = f"food{RUN}"
    stack.call(
        "POST",
        "registry",
        "/v1/tags",
        stack.ops[LEAD],
        json={"code": tag, "name": "食品经营", "department": LEAD},
    )

    def subject(region: str, unit: str, **extra: Any) -> str:
        body = subject_payload(
            rng, "A", region_code=region, supervising_unit=unit, departments=[LEAD], **extra
        )
        body["identifier"] = make_uscc(rng, region)
        stack.call("POST", "registry", "/v1/subjects", stack.ops[LEAD], json=body)
        return str(body["identifier"])

    plain = [subject("420302", UNIT_A) for _ in range(6)]
    tagged = [subject("420303", UNIT_B, tags=[tag]) for _ in range(2)]
    tagged.append(subject("420303", UNIT_C, tags=[tag]))
    flagged = [subject("420303", UNIT_B, abnormal_operation=True) for _ in range(2)]
    closed = subject("420302", UNIT_A)
    stack.call(
        "POST",
        "registry",
        f"/v1/subjects/{closed}/status",
        stack.ops[LEAD],
        json={"status": "deregistered", "reason": "注销登记"},
    )
    elsewhere = subject("420102", "")  # 武汉: outside every filter of this module
    # Three in 420304 for the replacement test: two drawn (ratio 0.5), one alternate.
    trio = [subject("420304", UNIT_B) for _ in range(3)]
    inspectors: dict[str, list[str]] = {LEAD: [], PART: []}
    for dept in (LEAD, PART):
        for n in range(4):
            body = inspector_payload(
                dept,
                n,
                region_code="420300",
                unit=UNIT_A if n < 2 else UNIT_B,
                certificate_no=f"{dept}-{RUN}-{n}",
            )
            created = stack.call("POST", "registry", "/v1/inspectors", stack.ops[dept], json=body)
            inspectors[dept].append(str(created["id"]))
    stack.settle()
    return {
        "general": general,
        "key": key,
        "tag": tag,
        "plain": plain,
        "tagged": tagged,
        "flagged": flagged,
        "closed": closed,
        "elsewhere": elsewhere,
        "trio": trio,
        "inspectors": inspectors,
    }


def _pool_identifiers(proof: dict[str, Any]) -> dict[str, str]:
    return {line.split("\t")[0]: line.split("\t")[1] for line in proof["pool"].split("\n")}


def test_the_pool_follows_the_filters_and_the_full_list(
    stack: Stack, world: dict[str, Any]
) -> None:
    batch = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["4203"], "tags": [world["tag"]]},
        full_list=[world["elsewhere"]],
        complaint_referral=True,
    )
    announced = stack.announce(batch)
    assert announced.status_code == 201, announced.text
    proof = stack.proof(announced.json()["id"])
    pool = _pool_identifiers(proof)
    assert pool == {**{i: "A" for i in world["tagged"]}, world["elsewhere"]: "*"}
    lines = proof["pool"].split("\n")
    assert lines == sort_pool(pool_line(*split_line(line)) for line in lines)
    assert f"\t{UNIT_C}" in proof["pool"]
    assert pool_hash(lines) == proof["full_announcement"]["pool_hash"]

    # Without a tag filter the pool is read in order from the canonical index; the 100 %
    # list is added after it, and the snapshot is still in canonical order.
    flagged = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["4203"], "flags": ["abnormal_operation"]},
        full_list=[world["elsewhere"]],
        complaint_referral=True,
    )
    proof = stack.proof(stack.announce(flagged).json()["id"])
    pool = _pool_identifiers(proof)
    assert pool == {**{i: "A" for i in world["flagged"]}, world["elsewhere"]: "*"}
    lines = proof["pool"].split("\n")
    assert lines == sort_pool(lines)
    assert pool_hash(lines) == proof["full_announcement"]["pool_hash"]

    everyone = stack.plan([world["general"], world["key"]], complaint_referral=True)
    proof = stack.proof(stack.announce(everyone).json()["id"])
    pool = _pool_identifiers(proof)
    assert world["closed"] not in pool  # 注销 subjects are never in a pool
    assert set(world["plain"]) <= set(pool)
    lines = proof["pool"].split("\n")
    assert lines == sort_pool(pool_line(*split_line(line)) for line in lines)


def test_the_public_proof_keeps_classes_units_and_conflicts_internal(
    stack: Stack, world: dict[str, Any]
) -> None:
    """Finding 9, through the service: anyone verifies the draw from the public proof, which
    names no unit, no undrawn subject and no risk class of one; the office and auditors get
    the full proof; a subject (and the initiating department) its own line."""
    batch = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["420302"]},
        ratios={"A": 0.3},
        cross_jurisdiction=True,
        complaint_referral=True,
    )
    drawn = stack.draw(batch)
    public = stack.public_proof(drawn["id"])
    assert verify(public) == [] and "pool" not in public
    text = json.dumps(public, ensure_ascii=False)
    assert UNIT_A not in text and UNIT_B not in text
    selected = {s["identifier"] for s in public["result"]["selection"]}
    undrawn = sorted(set(world["plain"]) - selected)
    assert undrawn and not any(i in text for i in undrawn)
    url = f"{stack.procs['draw'].url}/v1/draws/{drawn['id']}/proof"
    # The full proof: oversight only.
    assert stack.http.get(f"{url}/full").status_code == 401
    assert stack.http.get(f"{url}/full", headers=stack.ops[LEAD]).status_code == 403
    auditor = stack.auth("audit-1", "AUDIT", "auditor")
    full = stack.http.get(f"{url}/full", headers=auditor).json()
    assert verify(full) == [] and UNIT_A in full["pool"]
    # A subject's own line: itself and the initiating department, nobody else.
    line_url = f"{url}/lines/{undrawn[0]}"
    own = stack.http.get(line_url, headers=stack.auth(undrawn[0], "SUBJECT", "subject"))
    assert own.status_code == 200, own.text
    problems, said = verify_line(own.json())
    assert problems == [] and said.startswith(f"{undrawn[0]} is leaf")
    assert own.json()["announcement_hash"] == drawn["announcement_hash"]
    other = stack.auth(undrawn[-1] + "0", "SUBJECT", "subject")
    assert stack.http.get(line_url, headers=other).status_code == 403
    assert stack.http.get(line_url, headers=stack.ops[LEAD]).status_code == 200
    assert stack.http.get(line_url, headers=stack.ops[PART]).status_code == 403
    assert stack.http.get(line_url).status_code == 401
    stranger = f"{url}/lines/{world['elsewhere']}"
    assert stack.http.get(stranger, headers=stack.office).status_code == 404


def test_a_source_with_too_few_results_is_refused(stack: Stack) -> None:
    """A drawing of three digits has a thousand results: too few (EntropyFormat.weakness)."""
    body = {
        **ONSITE_SOURCE,
        "code": f"three-{RUN}",
        "groups": [{"name": "digits", "count": 3, "low": 0, "high": 9, "ordered": True}],
    }
    refused = stack.http.post(
        f"{stack.procs['draw'].url}/v1/entropy-sources", json=body, headers=stack.office
    )
    assert refused.status_code == 422, refused.text
    assert "1,000 possible results" in refused.json()["detail"]
    # A lottery is known by its code and publishes its own shape: neither a scheduled
    # source of another code, nor 双色球 declared with a group it never draws.
    url = f"{stack.procs['draw'].url}/v1/entropy-sources"
    lottery = {**SSQ_SOURCE, "code": f"my-lottery-{RUN}"}
    unknown = stack.http.post(url, json=lottery, headers=stack.office)
    assert unknown.status_code == 422 and "one of" in unknown.json()["detail"], unknown.text
    extra = {"name": "check", "count": 1, "low": 0, "high": 999, "ordered": False}
    widened = {**SSQ_SOURCE, "code": "slt-dlt", "groups": [*SSQ_SOURCE["groups"], extra]}
    refused = stack.http.post(url, json=widened, headers=stack.office)
    assert refused.status_code == 422, refused.text
    assert "whose drawings publish" in refused.json()["detail"]


def test_a_batch_is_announced_once_and_executed_once(stack: Stack, world: dict[str, Any]) -> None:
    batch = stack.plan([world["general"], world["key"]], complaint_referral=True)
    first = stack.announce(batch, entropy=entropy_choice(lead_seconds=3600))
    assert first.status_code == 201, first.text
    assert stack.announce(batch).status_code == 409
    early = stack.http.post(
        f"{stack.procs['draw'].url}/v1/draws/{first.json()['id']}/execute",
        json={"entropy": "1 2 3 4 5 6 7 8"},
        headers=stack.ops[LEAD],
    )
    assert early.status_code == 409 and early.json()["title"] == "Entropy not yet available"
    stranger = stack.http.post(
        f"{stack.procs['draw'].url}/v1/draws/{first.json()['id']}/execute",
        json={"entropy": "1 2 3 4 5 6 7 8"},
        headers=stack.ops[PART],
    )
    assert stranger.status_code == 403
    other = stack.plan([world["general"], world["key"]])
    for too_soon in (-3600, 0.5):  # past, or less than the service's lead ahead
        refused = stack.announce(other, entropy=entropy_choice(lead_seconds=too_soon))
        assert refused.status_code == 422, refused.text
        assert "after the announcement" in refused.json()["detail"]
    unknown = stack.announce(other, entropy={**entropy_choice(), "source": "nobody-s-dice"})
    assert unknown.status_code == 422 and "register it first" in unknown.json()["detail"]


def test_a_lottery_drawing_must_be_one_of_its_schedule(stack: Stack, world: dict[str, Any]) -> None:
    """双色球 draws Tuesdays, Thursdays and Sundays at 21:15 Beijing time."""
    batch = stack.plan([world["general"], world["key"]], complaint_referral=True)
    evening = (
        datetime.now(UTC).astimezone(BEIJING).replace(hour=21, minute=15, second=0, microsecond=0)
    )
    # Two days ahead at least, so that the day before the drawing is still to come.
    days = (evening + timedelta(days=n) for n in range(2, 10))
    drawing = next(day for day in days if day.isoweekday() in (2, 4, 7))

    def announce_at(when: datetime) -> httpx.Response:
        choice = {"source": "cwl-ssq", "issue": "2026141", "scheduled_at": when.isoformat()}
        return stack.http.post(
            f"{stack.procs['draw'].url}/v1/draws",
            json={"batch_id": batch, "entropy": choice},
            headers=stack.ops[LEAD],
        )

    # A minute late, or the day before (Monday, Wednesday or Saturday): not a drawing.
    for when in (drawing + timedelta(minutes=1), drawing - timedelta(days=1)):
        refused = announce_at(when)
        assert refused.status_code == 422, refused.text
        assert "draws on ISO weekdays" in refused.json()["detail"]
    answer = announce_at(drawing)
    assert answer.status_code == 201, answer.text
    entropy = answer.json()["entropy"]
    assert entropy["name"] == "中国福利彩票双色球" and entropy["issue"] == "2026141"
    assert answer.json()["entropy_not_before"] == entropy["scheduled_at"]


def test_the_office_keeps_the_entropy_sources(stack: Stack) -> None:
    url = f"{stack.procs['draw'].url}/v1/entropy-sources"
    mine = {**ONSITE_SOURCE, "code": f"dept-{RUN}"}
    assert stack.http.post(url, json=mine, headers=stack.ops[LEAD]).status_code == 403
    assert stack.http.post(url, json=ONSITE_SOURCE, headers=stack.office).status_code == 409
    bad = {**mine, "groups": [{"name": "x", "count": 9, "low": 1, "high": 5}]}
    assert stack.http.post(url, json=bad, headers=stack.office).status_code == 422
    listed = stack.http.get(url, headers=stack.ops[PART])
    assert listed.status_code == 200
    assert {"onsite-8d", "cwl-ssq"} <= {s["code"] for s in listed.json()}
    one = stack.http.get(f"{url}/cwl-ssq", headers=stack.ops[PART]).json()
    assert one["schedule"] == {"days": [2, 4, 7], "time": "21:15"}
    assert stack.http.get(f"{url}/nobody-s-dice", headers=stack.ops[PART]).status_code == 404


def test_groups_respect_units_conflicts_and_previous_inspectors(
    stack: Stack, world: dict[str, Any]
) -> None:
    """Subjects in 420302 are supervised by UNIT_A: with 所所交叉 only UNIT_B inspectors
    (n = 2, 3 of each department) may go there."""
    target = world["plain"][0]
    samr_b = world["inspectors"][LEAD][2]
    stack.call(
        "POST",
        "registry",
        "/v1/conflicts",
        stack.ops[LEAD],
        json={
            "inspector_id": samr_b,
            "subject_identifier": target,
            "reason": "relative",
            "declared_on": date.today().isoformat(),
        },
    )
    stack.settle()
    # Earlier tests' draws of 4203 gave these subjects random groups: the first draw does
    # not look back at them (else whether UNIT_B has anyone left is chance); the second does.
    batch = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["420302"]},
        ratios={"A": 1},
        cross_jurisdiction=True,
        complaint_referral=True,
        avoid_previous_inspectors=False,
    )
    first = stack.draw(batch)
    unit_b = set(world["inspectors"][LEAD][2:] + world["inspectors"][PART][2:])
    for s in first["subjects"]:
        assert {m["inspector_id"] for m in s["inspectors"]} <= unit_b
    group = next(s for s in first["subjects"] if s["identifier"] == target)["inspectors"]
    assert group[0]["inspector_id"] == world["inspectors"][LEAD][3]  # samr_b is recused
    assert verify(stack.proof(first["id"])) == []

    # The same subjects again (complaint case): last time's inspectors may not go back,
    # and 所所交叉 leaves nobody else of DSAMR for the target: the rule is named.
    stack.settle()
    again = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["420302"]},
        ratios={"A": 1},
        cross_jurisdiction=True,
        complaint_referral=True,
    )
    announced = stack.announce(again)
    assert announced.status_code == 201, announced.text
    wait_for_entropy(announced.json())
    failed = stack.http.post(
        f"{stack.procs['draw'].url}/v1/draws/{announced.json()['id']}/execute",
        json={"entropy": "9 9 9 9 9 9 9 9"},
        headers=stack.ops[LEAD],
    )
    assert failed.status_code == 422, failed.text
    assert "no valid inspector group" in failed.json()["detail"]
    assert any(
        rule in failed.json()["detail"] for rule in ("previous_inspector", "conflict_of_interest")
    )


def test_subjects_drawn_this_year_for_a_general_item_are_excluded(
    stack: Stack, world: dict[str, Any]
) -> None:
    batch = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["420303"], "flags": ["abnormal_operation"]},
        ratios={"A": 1},
    )
    drawn = stack.draw(batch)
    assert {s["identifier"] for s in drawn["subjects"]} == set(world["flagged"])
    stack.settle()
    repeat = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["420303"], "flags": ["abnormal_operation"]},
    )
    empty = stack.announce(repeat)
    assert empty.status_code == 422 and empty.json()["title"] == "Pool empty"
    complaint = stack.plan(
        [world["general"], world["key"]],
        pool={"region_prefixes": ["420303"], "flags": ["abnormal_operation"]},
        complaint_referral=True,
    )
    assert set(_pool_identifiers(stack.proof(stack.announce(complaint).json()["id"]))) == set(
        world["flagged"]
    )


def test_a_draw_may_select_by_rfc3797_from_public_sources(
    stack: Stack, world: dict[str, Any]
) -> None:
    batch = stack.plan([world["general"], world["key"]], complaint_referral=True, counts={"A": 3})
    choice = {**entropy_choice(), "source": RFC_SOURCE["code"]}
    announced = stack.announce(batch, selection="rfc3797", entropy=choice)
    assert announced.status_code == 201, announced.text
    assert announced.json()["selection"] == "rfc3797"
    wait_for_entropy(announced.json())
    url = f"{stack.procs['draw'].url}/v1/draws/{announced.json()['id']}/execute"
    lottery = stack.http.post(url, json={"entropy": "03 07 12 + 09"}, headers=stack.ops[LEAD])
    assert lottery.status_code == 422 and lottery.json()["title"] == "Invalid entropy"
    # RFC 3797's worked example, its three sources as the source's three groups.
    sources = "9319 / 2 5 8 10 12 / 9 18 26 34 41 45"
    executed = stack.http.post(url, json={"entropy": sources}, headers=stack.ops[LEAD])
    assert executed.status_code == 200, executed.text
    proof = stack.proof(announced.json()["id"])
    assert proof["announcement"]["selection"] == "rfc3797"
    assert verify(proof) == []
    # The selection is RFC 3797's own, on the class-A members in their keyed order.
    lines = proof["pool"].split("\n")
    keyed = keyed_members(lines, bytes.fromhex(proof["blinding_key"]))["A"]
    members = [lines[at].split("\t")[0] for at in keyed]
    key = canonical_key(sources.split(" / "))
    left, expected = list(members), []
    for r in range(3):
        value = int.from_bytes(round_digest(key, r), "big")
        expected.append(left.pop(value % len(left)))
    assert [s["identifier"] for s in proof["result"]["selection"]] == expected


def test_a_draw_voided_before_its_entropy_is_drawn_again_under_the_next_id(
    stack: Stack, world: dict[str, Any]
) -> None:
    batch = stack.plan([world["general"], world["key"]], complaint_referral=True)
    first = stack.announce(batch, entropy=entropy_choice(lead_seconds=3600))
    assert first.status_code == 201, first.text
    assert (first.json()["attempt"], first.json()["status"]) == (1, "announced")
    url = f"{stack.procs['draw'].url}/v1/draws/{first.json()['id']}"
    body = {"reason_code": "pool_error", "reason": "对象库导入有误，撤回重抽"}
    stranger = stack.http.post(f"{url}/void", json=body, headers=stack.ops[PART])
    assert stranger.status_code == 403
    voided = stack.http.post(f"{url}/void", json=body, headers=stack.ops[LEAD])
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    assert voided.json()["voided"]["reason_text"] == "抽查对象库有误"
    again = stack.http.post(f"{url}/void", json=body, headers=stack.ops[LEAD])
    assert again.status_code == 409 and again.json()["title"] == "Draw voided"
    refused = stack.http.post(
        f"{url}/execute", json={"entropy": "1 2 3 4 5 6 7 8"}, headers=stack.ops[LEAD]
    )
    assert refused.status_code == 409 and refused.json()["title"] == "Draw voided"
    # Who reads the draw of another department sees the reason's code, not staff's words.
    other = stack.http.get(url, headers=stack.ops[PART]).json()
    assert "reason" not in other["voided"]
    own = stack.http.get(url, headers=stack.ops[LEAD]).json()
    assert own["voided"]["reason"] == body["reason"]

    second = stack.announce(batch)  # the batch's second draw, under the rule's id
    assert second.status_code == 201, second.text
    assert second.json()["attempt"] == 2
    assert second.json()["id"] == str(v3.draw_id(batch, 2)) != first.json()["id"]
    wait_for_entropy(second.json())
    late = stack.http.post(
        f"{stack.procs['draw'].url}/v1/draws/{second.json()['id']}/void",
        json=body,
        headers=stack.ops[LEAD],
    )
    assert late.status_code == 409 and late.json()["title"] == "Too late to void"
    drawn = stack.call(
        "POST",
        "draw",
        f"/v1/draws/{second.json()['id']}/execute",
        stack.ops[LEAD],
        json={"entropy": "2 7 1 8 2 8 1 8"},
    )
    assert drawn["status"] == "executed"
    assert verify(stack.proof(second.json()["id"])) == []


def test_a_subject_replaced_out_takes_the_alternate_and_no_longer_counts_as_drawn(
    stack: Stack, world: dict[str, Any]
) -> None:
    trio = world["trio"]
    # An item of its own: what other tests drew for the module's general item stays theirs.
    item = f"G2-{RUN}"
    stack.call("POST", "registry", "/v1/items", stack.ops[LEAD], json=item_payload(item, LEAD))
    stack.call("POST", "registry", f"/v1/items/{item}/publish", stack.ops[LEAD])
    stack.settle()
    spec = {"pool": {"region_prefixes": ["420304"]}, "ratios": {"A": 0.5}}
    drawn = stack.draw(stack.plan([item, world["key"]], **spec))
    chosen = [s["identifier"] for s in drawn["subjects"]]
    assert len(chosen) == 2 and set(chosen) < set(trio), drawn["executed"]["strata"]
    (alternate,) = set(trio) - set(chosen)
    gone = chosen[0]
    url = f"{stack.procs['draw'].url}/v1/draws/{drawn['id']}/replacements"
    body = {
        "kind": "subject",
        "identifier": gone,
        "reason_code": "deregistered",
        "reason": "检查前已注销",
    }
    approver = stack.auth("王五", LEAD, "approver")
    unfounded = stack.http.post(url, json=body, headers=approver)
    assert unfounded.status_code == 422 and "record it there first" in unfounded.json()["detail"]
    status_url = f"/v1/subjects/{gone}/status"
    stack.call(
        "POST",
        "registry",
        status_url,
        stack.ops[LEAD],
        json={"status": "deregistered", "reason": "注销"},
    )
    stack.settle()
    replaced = stack.http.post(url, json=body, headers=approver)
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["replacement"] == alternate  # the only alternate: nothing chosen
    proof = stack.proof(drawn["id"])
    assert verify(proof) == []
    assert proof["replacements"][0]["evidence"]["fact"] == "deregistered"

    # The deregistration is corrected: the subject replaced out was not drawn this year, so
    # a later draw for the same general item may draw it; those inspected may not.
    stack.call(
        "POST",
        "registry",
        status_url,
        stack.ops[LEAD],
        json={"status": "operating", "reason": "更正"},
    )
    stack.settle()
    later = stack.announce(stack.plan([item, world["key"]], **spec))
    assert later.status_code == 201, later.text
    later_proof = stack.proof(later.json()["id"])
    assert set(_pool_identifiers(later_proof)) == {gone}
    # The announcement explains the pool: the filters, and who the same-year rule kept
    # out, with the draw that drew them; and where its copy of the registry stood.
    spec = later_proof["announcement"]["pool_spec"]
    assert spec["filters"]["region_prefixes"] == ["420304"]
    assert spec["excluded"] == sorted(
        [i, "drawn_this_year", drawn["id"], item] for i in set(trio) - {gone}
    )
    assert spec["registry_position"]["stream_seq"] > 0
    assert spec["registry_position"]["event_id"].startswith("registry:")
    summary = later.json()
    assert summary["pool_size"] == 1


def test_an_announcement_names_the_open_draws_its_pool_overlaps(
    stack: Stack, world: dict[str, Any]
) -> None:
    spec = {"pool": {"region_prefixes": ["420302"]}, "complaint_referral": True}
    first = stack.announce(
        stack.plan([world["general"], world["key"]], **spec),
        entropy=entropy_choice(lead_seconds=3600),
    )
    assert first.status_code == 201, first.text
    stack.settle()  # the draw's own read model knows it is open
    second = stack.announce(
        stack.plan([world["general"], world["key"]], **spec),
        entropy=entropy_choice(lead_seconds=3600),
    )
    assert second.status_code == 201, second.text
    overlaps = dict(
        map(tuple, stack.proof(second.json()["id"])["announcement"]["pool_spec"]["overlaps"])
    )
    assert overlaps[first.json()["id"]] == second.json()["pool_size"]  # the same pool

    body = {"reason_code": "batch_withdrawn", "reason": "合并到第二批"}
    for draw in (first, second):
        voided = stack.http.post(
            f"{stack.procs['draw'].url}/v1/draws/{draw.json()['id']}/void",
            json=body,
            headers=stack.ops[LEAD],
        )
        assert voided.status_code == 200, voided.text
    stack.settle()
    third = stack.announce(
        stack.plan([world["general"], world["key"]], **spec),
        entropy=entropy_choice(lead_seconds=3600),
    )
    assert third.status_code == 201, third.text
    named = [d for d, _ in stack.proof(third.json()["id"])["announcement"]["pool_spec"]["overlaps"]]
    assert first.json()["id"] not in named and second.json()["id"] not in named  # voided
