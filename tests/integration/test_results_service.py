"""The results service as a real process on real PostgreSQL and NATS.

The draw service is not started: the test publishes ``SubjectsDrawn`` CloudEvents to the
draw stream itself, exactly as the draw service's relay would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import nats
import pytest

from tests.integration.draw_events import LEADER, MEMBER, publish_draw
from tests.integration.register_events import publish_departments, wait_for_departments
from tests.integration.task_flow import report, tasks_of
from tests.support import Infra, ServiceProcess, token, wait_until

# It fakes other services' events on their streams (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra


@pytest.fixture(scope="module")
def results(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "results").start()
    # Writers' departments must be in the service's copy of the register (部门名录).
    publish_departments(infra, ["SAMR", "TAX"])
    wait_for_departments(infra, "results", ["SAMR", "TAX"])
    yield proc
    proc.stop()


def _client(proc: ServiceProcess, infra: Infra, sub: str, dept: str, *roles: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}
    return httpx.Client(base_url=proc.url, headers=auth, timeout=10)


@pytest.fixture(scope="module")
def leader(results: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(results, infra, LEADER, "SAMR", "inspector") as client:
        yield client


def assignments(client: httpx.Client, draw_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until the draw's assignments are projected."""

    def projected() -> list[dict[str, Any]] | None:
        rows = client.get("/v1/assignments", params={"draw_id": draw_id}).json()["items"]
        return rows if len(rows) == count else None

    return wait_until(projected)


def _result(event: dict[str, Any], n: int = 0, **overrides: Any) -> dict[str, Any]:
    body = {
        "draw_id": event["subject"],
        "subject_id": event["data"]["subjects"][n]["subject_id"],
        "inspected_on": date.today().isoformat(),
        "outcome": "no_problem",
        "findings": [{"item_code": "SAMR-R1", "outcome": "no_problem", "note": "证照齐全"}],
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def draw(infra: Infra, leader: httpx.Client) -> dict[str, Any]:
    """A draw whose batch ended 2026-09-30: results due 2026-11-03 (over 国庆)."""
    event = publish_draw(infra, "2026-09-30", subjects=4)
    assignments(leader, event["subject"], 4)
    return event


def test_drawn_subjects_become_assignments_due_twenty_working_days_after_the_batch(
    draw: dict[str, Any], leader: httpx.Client
) -> None:
    rows = assignments(leader, draw["subject"], 4)
    assert {r["due_on"] for r in rows} == {"2026-11-03"}
    assert {r["ends_on"] for r in rows} == {"2026-09-30"}
    row = rows[0]
    assert [i["code"] for i in row["items"]] == ["SAMR-R1", "TAX-R1"]
    assert {i["inspector_id"] for i in row["inspectors"]} == {LEADER, MEMBER}


def test_deadline_beyond_the_holiday_calendar_is_counted_in_weekdays_and_provisional(
    infra: Infra, leader: httpx.Client
) -> None:
    event = publish_draw(infra, "2098-12-31", subjects=1)
    (row,) = assignments(leader, event["subject"], 1)
    # 2099: no package knows it, nobody loaded it here: 20 weekdays, provisional.
    assert row["due_on"] == "2099-01-28" and row["due_on_provisional"] is True


def _task(leader: httpx.Client, draw: dict[str, Any], n: int) -> dict[str, Any]:
    subject = draw["data"]["subjects"][n]["subject_id"]
    listed = tasks_of(leader, draw["subject"], len(draw["data"]["subjects"]))
    return next(t for t in listed if t["subject_id"] == subject)


def test_group_inspector_submits_a_result_once(draw: dict[str, Any], leader: httpx.Client) -> None:
    task = _task(leader, draw, 0)
    first = leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)})
    assert first.status_code == 200, first.text
    submitted = first.json()
    assert submitted["state"] == "submitted" and submitted["implementing_department"] == "SAMR"
    # The batch's results were due on 2026-11-03, well before today: entered late.
    assert submitted["due_on"] == "2026-11-03" and submitted["late"] is True
    second = leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)})
    assert second.status_code == 409


def test_inspector_outside_the_group_may_not_record(
    draw: dict[str, Any], results: ServiceProcess, infra: Infra, leader: httpx.Client
) -> None:
    task = _task(leader, draw, 1)
    with _client(results, infra, "insp-stranger", "SAMR", "inspector") as stranger:
        response = stranger.post(f"/v1/tasks/{task['id']}/inspection", json=report(task))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_operator_of_the_initiating_department_may_record_but_not_another(
    draw: dict[str, Any], results: ServiceProcess, infra: Infra, leader: httpx.Client
) -> None:
    task = _task(leader, draw, 1)
    with _client(results, infra, "op-tax", "TAX", "operator") as tax:
        assert tax.post(f"/v1/tasks/{task['id']}/inspection", json=report(task)).status_code == 403
    gone = report(task, category="unreachable", items=[], notice=None, signature=None)
    with _client(results, infra, "op-samr", "SAMR", "operator") as samr:
        response = samr.post(f"/v1/tasks/{task['id']}/inspection", json=gone)
    assert response.status_code == 200, response.text


def test_a_task_that_does_not_exist_is_404(leader: httpx.Client) -> None:
    response = leader.post(f"/v1/tasks/{uuid.uuid4()}/submission", json={})
    assert response.status_code == 404


def test_inspection_date_in_the_future_is_rejected(
    draw: dict[str, Any], leader: httpx.Client
) -> None:
    task = _task(leader, draw, 2)
    later = (date.today() + timedelta(days=2)).isoformat()
    body = report(task, inspected_to=later)
    response = leader.post(f"/v1/tasks/{task['id']}/inspection", json=body)
    assert response.status_code == 422 and "future" in response.json()["detail"]


def test_items_must_be_the_items_of_the_inspection(
    draw: dict[str, Any], leader: httpx.Client
) -> None:
    task = _task(leader, draw, 2)
    body = report(task)
    body["items"][0]["item_code"] = "EPB-9"
    response = leader.post(f"/v1/tasks/{task['id']}/inspection", json=body)
    assert response.status_code == 422 and "EPB-9" in response.json()["detail"]


def test_task_events_on_the_wire_are_hash_chained(
    draw: dict[str, Any], leader: httpx.Client, infra: Infra
) -> None:
    task = _task(leader, draw, 3)
    recorded = leader.post(f"/v1/tasks/{task['id']}/inspection", json=report(task))
    assert recorded.status_code == 200, recorded.text
    settings = infra.settings()
    prefix = settings.subject_prefix("results")

    async def last(name: str) -> dict[str, Any]:
        nc = await nats.connect(infra.nats_url)
        try:
            msg = await nc.jetstream().get_last_msg(
                settings.stream_name("results"), f"{prefix}.inspectiontask.{name}"
            )
            return dict(json.loads(msg.data or b"{}"))
        finally:
            await nc.close()

    def recorded_on_the_wire() -> dict[str, Any] | None:
        try:
            event = asyncio.run(last("InspectionRecorded"))
        except Exception:
            return None
        return event if event["subject"] == task["id"] else None

    inspected = wait_until(recorded_on_the_wire)
    assert inspected["type"] == "ssj.results.InspectionRecorded.v1"
    assert len(inspected["prevhash"]) == 64 and inspected["prevhash"] != "0" * 64
    assert set(inspected["data"]) == {"report", "recorded_by"}
    assert inspected["actorsub"] == LEADER
