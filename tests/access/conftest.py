"""One five-service stack for the access tests, filled once by the demo scenario plus a
few spare records of department A (SAMR) that the write cells may change."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from libs.common.settings import SERVICE_PORTS
from tests.builders import (
    inspector_payload,
    item_payload,
    register_departments,
    subject_payload,
)
from tests.e2e.scenario import Endpoints, Scenario
from tests.support import Infra, isolated_infra, service_stack, stop_infra, token

OWN = "SAMR"  # department A: owns every fixture record
OTHER = "EDU"  # a registered department with no part in any fixture record
NOTE_CANARY = "举报人王某13800001234-ACM"  # staff's free text that must never be public
REASON_CANARY = "该员正接受纪检调查-ACM"
APPROVER_CANARY = "张局长13800005678-ACM"


@dataclass
class Stack:
    """The running services, their data and a token factory."""

    infra: Infra
    urls: dict[str, str]
    fx: dict[str, Any]

    def token(self, sub: str, dept: str, *roles: str) -> str:
        """A valid token."""
        return token(self.infra, sub, dept, *roles)


class _Scenario(Scenario):
    """The demo scenario, remembering its item codes."""

    codes: list[str]

    def run_cycle(self) -> dict[str, Any]:
        self.codes = [f"{d}-{self.run}-{n + 1}" for n, d in enumerate(("SAMR", "TAX", "EPB"))]
        return super().run_cycle()


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


def _spares(stack: Stack, scenario: _Scenario, cycle: dict[str, Any]) -> dict[str, Any]:
    """Records the write cells may change, and the planted staff text."""
    registry = stack.urls["registry"]
    office = {"Authorization": f"Bearer {stack.token('office-acm', 'OFFICE', 'office')}"}
    register_departments(registry, stack.token("office-acm", "OFFICE", "office"), [OTHER])
    op = {"Authorization": f"Bearer {stack.token('op-acm', OWN, 'operator')}"}
    http = httpx.Client(timeout=30)
    run = scenario.run
    item = f"{OWN}-ACM-{run}"
    _ok(http.post(f"{registry}/v1/items", headers=op, json=item_payload(item, OWN)))
    subject = subject_payload(random.Random(run), "B", departments=[OWN])
    _ok(http.post(f"{registry}/v1/subjects", headers=op, json=subject))
    inspector = _ok(
        http.post(
            f"{registry}/v1/inspectors", headers=op, json=inspector_payload(OWN, 70000 + int(run))
        )
    )
    conflict = {
        "inspector_id": inspector["id"],
        "subject_identifier": subject["identifier"],
        "reason": "relative",
        "detail": NOTE_CANARY,
        "declared_on": date.today().isoformat(),
    }
    _ok(http.post(f"{registry}/v1/conflicts", headers=op, json=conflict))
    draw = cycle["draw"]
    recorded_subject = draw["subjects"][0]
    leader = recorded_subject["inspectors"][0]
    # A replacement with staff's words, and a result whose note names an informant: neither
    # may reach a public answer.
    last = draw["subjects"][-1]
    # A v3 replacement stands on a registry fact: the subject is deregistered first.
    _ok(
        http.post(
            f"{registry}/v1/subjects/{last['identifier']}/status",
            headers=op,
            json={"status": "deregistered", "reason": "检查前已注销"},
        )
    )
    scenario.settle()
    # Approved by a person of the department holding the approver role (审批人), whose
    # name and phone number are in the token's subject: never public.
    approver = {"Authorization": f"Bearer {stack.token(APPROVER_CANARY, OWN, 'approver')}"}
    _ok(
        http.post(
            f"{stack.urls['draw']}/v1/draws/{draw['id']}/replacements",
            headers=approver,
            json={
                "kind": "subject",
                "identifier": last["identifier"],
                "reason_code": "deregistered",
                "reason": REASON_CANARY,
            },
        )
    )
    noted = draw["subjects"][-2]
    noted_leader = noted["inspectors"][0]
    as_leader = stack.token(noted_leader["inspector_id"], noted_leader["department"], "inspector")
    _ok(
        http.post(
            f"{stack.urls['results']}/v1/results",
            headers={"Authorization": f"Bearer {as_leader}"},
            json={
                "draw_id": draw["id"],
                "subject_id": noted["subject_id"],
                "inspected_on": date.today().isoformat(),
                "outcome": "problem_pending",
                "findings": [
                    {"item_code": c, "outcome": "problem_pending", "note": NOTE_CANARY}
                    for c in scenario.codes
                ],
            },
        )
    )
    scenario.settle()
    del office
    return {
        "codes": scenario.codes,
        "item": item,
        "subject": subject["identifier"],
        "inspector": inspector["id"],
        "draw": draw,
        "batch_id": draw["batch_id"],
        "plan_id": draw.get("plan_id"),
        # Department A's proposal, merged into the cycle's plan: changes to it are 409.
        "proposal_id": cycle["plan"]["proposals"][0],
        "recorded_subject": recorded_subject,
        "record_id": cycle["recorded"][recorded_subject["identifier"]][0],
        "leader": leader,
        "run": run,
    }


@pytest.fixture(scope="package")
def stack(session_infra: Infra) -> Iterator[Stack]:
    """Five service processes, filled by the demo scenario and the spare records, in a
    database and namespace of their own: the records the write cells add (subjects,
    inspectors of department A) would otherwise enter the pools of later tests' draws."""
    own = isolated_infra(session_infra)
    procs = {n: p.start(wait=False) for n, p in service_stack(own, SERVICE_PORTS).items()}
    try:
        for proc in procs.values():
            proc.wait_ready()
        urls = {name: proc.url for name, proc in procs.items()}
        stack = Stack(own, urls, {})
        scenario = _Scenario(Endpoints(urls), own.settings(), out=io.StringIO())
        cycle = scenario.run_cycle()
        stack.fx = _spares(stack, scenario, cycle)
        yield stack
    finally:
        for proc in procs.values():
            proc.stop()
        stop_infra(own)
