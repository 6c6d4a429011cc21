"""One five-service stack for the access tests, filled once by the demo scenario plus a
few spare records of department A (SAMR) that the write cells may change."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from libs.common.context import Actor, CommandContext, command_context
from libs.common.settings import SERVICE_PORTS
from services.results.application import ResultsApplication, today_in_china
from services.results.domain.assignment import Assignment
from services.results.domain.record import InspectionRecord
from services.results.domain.task import task_id
from tests.builders import (
    inspector_payload,
    item_payload,
    register_departments,
    subject_payload,
)
from tests.e2e.scenario import Endpoints, Scenario
from tests.integration.task_flow import PDF, report
from tests.support import Infra, isolated_infra, service_stack, stop_infra, token, wait_until

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
    # The fixture task: a subject the cycle inspected, found without problem and published,
    # whose group leader is of department A (so A implements it: A's reviewers review it).
    recorded_subject = next(
        (
            s
            for s in draw["subjects"][:-2]
            if _leader(s)["department"] == OWN
            and cycle["recorded"].get(s["identifier"], ("", "no_problem"))[1] == "no_problem"
        ),
        None,
    )
    if recorded_subject is None:
        raise RuntimeError(f"no drawn subject without problem has a leader of {OWN}")
    leader = _leader(recorded_subject)
    results = _Results(stack, http, draw["id"])
    fixture_task = results.publish(recorded_subject)
    # A document of the task (文书), so that its readers download a file.
    document = _ok(
        http.post(
            f"{results.url}/v1/evidence",
            params={"task": fixture_task, "name": "检查记录表.pdf", "purpose": "document"},
            content=PDF,
            headers={**results.auth(leader), "Content-Type": "application/pdf"},
        )
    )["sha256"]
    # A replacement with staff's words, and a result whose finding and summary name an
    # informant: neither may reach a public answer.
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
    noted_task = results.publish(noted, noted=True)
    record = _legacy_record(stack, draw["id"], recorded_subject, leader)
    wait_until(lambda: record in results.listed("/v1/results"), timeout=30)
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
        "task_id": fixture_task,
        "document": document,
        "noted_task": noted_task,
        "record_id": record,
        "leader": leader,
        "run": run,
    }


def _leader(subject: dict[str, Any]) -> dict[str, Any]:
    """The group leader (组长) of a drawn subject: its department implements the task."""
    group = subject["inspectors"]
    return next((m for m in group if m.get("role") == "leader"), group[0])


@dataclass
class _Results:
    """The task steps the fixtures take, each as the person who takes it."""

    stack: Stack
    http: httpx.Client
    draw_id: str

    @property
    def url(self) -> str:
        return self.stack.urls["results"]

    def auth(self, member: dict[str, Any]) -> dict[str, str]:
        sub, dept = member["inspector_id"], member["department"]
        return {"Authorization": f"Bearer {self.stack.token(sub, dept, 'inspector')}"}

    def listed(self, path: str) -> set[str]:
        office = {"Authorization": f"Bearer {self.stack.token('office-acm', 'OFFICE', 'office')}"}
        answer = self.http.get(
            self.url + path, headers=office, params={"draw_id": self.draw_id, "limit": 1000}
        )
        return {r["id"] for r in _ok(answer)["items"]}

    def publish(self, subject: dict[str, Any], noted: bool = False) -> str:
        """The subject's task, published (submitted by its group leader and approved by a
        reviewer of its department, if the cycle did not): without problem, or, ``noted``,
        with a problem whose finding and the report's summary name an informant, ordered to
        be corrected (a problem is published on its handling decision)."""
        task = str(task_id(self.draw_id, subject["subject_id"]))
        wait_until(lambda: task in self.listed("/v1/tasks"), timeout=30)  # dispatched
        leader = _leader(subject)
        group = self.auth(leader)
        path = f"{self.url}/v1/tasks/{task}"
        found = _ok(self.http.get(path, headers=group))
        if found["state"] in ("dispatched", "inspected", "returned"):
            body = report(found)
            if noted:
                body = report(found, category="problem_corrected", failing=1, summary=NOTE_CANARY)
                body["items"][0]["points"][0]["finding"] = NOTE_CANARY
            found = _ok(self.http.post(f"{path}/submission", headers=group, json={"report": body}))
        if found["state"] == "submitted":
            dept = found["implementing_department"]
            reviewer = {"Authorization": f"Bearer {self.stack.token('rv-acm', dept, 'reviewer')}"}
            found = _ok(
                self.http.post(f"{path}/review", headers=reviewer, json={"decision": "approve"})
            )
        if found["state"] == "reviewed" and noted:
            today = date.today()
            order = {
                "decided_on": today.isoformat(),
                "deadline": (today + timedelta(days=15)).isoformat(),
                "decision_no": "责改〔矩阵〕1号",
            }
            found = _ok(self.http.post(f"{path}/follow-up/order", headers=group, json=order))
        expected = "problem_corrected" if noted else "no_problem"
        if found["state"] != "published" or found["report"]["category"] != expected:
            raise RuntimeError(f"task {task} is {found['state']}, {found['report']['category']}")
        return task


def _legacy_record(
    stack: Stack, draw_id: str, subject: dict[str, Any], leader: dict[str, Any]
) -> str:
    """A record of before tasks existed (检查记录, ``ResultRecorded``), saved straight into
    the results service's store as its group leader, since no API makes one any more; its
    finding's note names an informant. The service's relay publishes it."""
    settings = stack.infra.settings("results")
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT * FROM results.assignments WHERE draw_id = %s AND subject_id = %s",
            (draw_id, subject["subject_id"]),
        ).fetchone()
    assert row is not None, subject
    assignment = Assignment.from_fields(row)
    today = today_in_china()
    record = InspectionRecord.record(
        assignment=assignment,
        inspected_on=today,
        today=today,
        outcome="problem_pending",
        findings=[
            {"item_code": code, "outcome": "problem_pending", "note": NOTE_CANARY}
            for code in sorted(assignment.item_codes)
        ],
        department=leader["department"],
    )
    actor = Actor(sub=leader["inspector_id"], dept=leader["department"], roles=("inspector",))
    app = ResultsApplication(settings)
    try:
        with command_context(CommandContext(actor=actor)):
            app.save(record)
    finally:
        app.close()
    return str(record.id)


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
