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


def test_group_inspector_records_a_result_once(draw: dict[str, Any], leader: httpx.Client) -> None:
    first = leader.post("/v1/results", json=_result(draw, 0))
    assert first.status_code == 201, first.text
    record = first.json()
    assert record["version"] == 1 and record["recorded_by_department"] == "SAMR"
    # The batch's results were due on 2026-11-03, well before today.
    assert record["due_on"] == "2026-11-03" and record["late"] is (date.today() > date(2026, 11, 3))
    second = leader.post("/v1/results", json=_result(draw, 0, outcome="closed", findings=[]))
    assert second.status_code == 409


def test_inspector_outside_the_group_may_not_record(
    draw: dict[str, Any], results: ServiceProcess, infra: Infra
) -> None:
    with _client(results, infra, "insp-stranger", "SAMR", "inspector") as stranger:
        response = stranger.post("/v1/results", json=_result(draw, 1))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_operator_of_the_initiating_department_may_record_but_not_another(
    draw: dict[str, Any], results: ServiceProcess, infra: Infra
) -> None:
    with _client(results, infra, "op-tax", "TAX", "operator") as tax:
        assert tax.post("/v1/results", json=_result(draw, 1)).status_code == 403
    with _client(results, infra, "op-samr", "SAMR", "operator") as samr:
        response = samr.post("/v1/results", json=_result(draw, 1, outcome="unreachable"))
    assert response.status_code == 201, response.text


def test_result_for_a_subject_not_drawn_is_404(draw: dict[str, Any], leader: httpx.Client) -> None:
    response = leader.post("/v1/results", json=_result(draw, subject_id=str(uuid.uuid4())))
    assert response.status_code == 404
    assert response.json()["title"] == "Not assigned"


def test_inspection_date_in_the_future_is_rejected(
    draw: dict[str, Any], leader: httpx.Client
) -> None:
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    response = leader.post("/v1/results", json=_result(draw, 2, inspected_on=tomorrow))
    assert response.status_code == 422 and "future" in response.json()["detail"]


def test_findings_must_name_the_items_of_the_inspection(
    draw: dict[str, Any], leader: httpx.Client
) -> None:
    findings = [{"item_code": "EPB-9", "outcome": "no_problem", "note": ""}]
    response = leader.post("/v1/results", json=_result(draw, 2, findings=findings))
    assert response.status_code == 422 and "EPB-9" in response.json()["detail"]


def test_correction_is_appended_and_the_list_shows_the_latest_with_a_count(
    draw: dict[str, Any], leader: httpx.Client
) -> None:
    record = leader.post("/v1/results", json=_result(draw, 3)).json()
    correction = {
        "outcome": "problem_pending",
        "findings": [{"item_code": "TAX-R1", "outcome": "problem_pending", "note": "发票缺失"}],
        "reason": "复核发现问题",
    }
    corrected = leader.post(f"/v1/results/{record['id']}/corrections", json=correction)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["version"] == 2
    assert corrected.json()["corrections"] == [
        {"from": "no_problem", "to": "problem_pending", "reason": "复核发现问题"}
    ]

    def listed() -> dict[str, Any] | None:
        rows = leader.get("/v1/results", params={"draw_id": draw["subject"]}).json()["items"]
        row = next((r for r in rows if r["id"] == record["id"]), None)
        return row if row and row["corrections"] == 1 else None

    row = wait_until(listed)
    assert row["outcome"] == "problem_pending" and row["findings"] == correction["findings"]
    verification = leader.get(f"/v1/results/{record['id']}/verification").json()
    assert verification == {"id": record["id"], "intact": True, "problems": []}


def test_result_events_on_the_wire_are_hash_chained(
    draw: dict[str, Any], leader: httpx.Client, infra: Infra
) -> None:
    record = leader.post("/v1/results", json=_result(draw, 2)).json()
    correction = {"outcome": "closed", "reason": "企业已注销"}
    assert (
        leader.post(f"/v1/results/{record['id']}/corrections", json=correction).status_code == 200
    )
    settings = infra.settings()
    prefix = settings.subject_prefix("results")

    async def last(name: str) -> dict[str, Any]:
        nc = await nats.connect(infra.nats_url)
        try:
            msg = await nc.jetstream().get_last_msg(
                settings.stream_name("results"), f"{prefix}.inspectionrecord.{name}"
            )
            return dict(json.loads(msg.data or b"{}"))
        finally:
            await nc.close()

    def corrected_on_the_wire() -> dict[str, Any] | None:
        try:
            event = asyncio.run(last("ResultCorrected"))
        except Exception:
            return None
        return event if event["subject"] == record["id"] else None

    corrected = wait_until(corrected_on_the_wire)
    recorded = asyncio.run(last("ResultRecorded"))
    assert recorded["subject"] == record["id"]
    assert recorded["type"] == "ssj.results.ResultRecorded.v1"
    assert recorded["prevhash"] == "0" * 64
    assert len(corrected["prevhash"]) == 64 and corrected["prevhash"] != "0" * 64
    assert set(recorded["data"]) == {
        "draw_id",
        "batch_id",
        "plan_id",
        "subject_id",
        "subject_identifier",
        "subject_name",
        "inspected_on",
        "outcome",
        "findings",
        "due_on",
        "late",
        "recorded_by_department",
        "inspecting_department",
    }
    assert set(corrected["data"]) == {"outcome", "findings", "reason"}
