"""The deadline watch (逾期监测) and the dispatcher (派发) with two replicas of the results
service on one database: a drawn subject whose result is past its deadline and not entered
gets one ResultOverdue event and is listed as overdue; a subject whose deadline is still
ahead does not; every drawn subject becomes one task, once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date

import httpx
import psycopg
import pytest

from services.results.application import today_in_china
from tests.integration.draw_events import LEADER, publish_draw
from tests.integration.register_events import publish_departments, wait_for_departments
from tests.support import Infra, ServiceProcess, token, wait_until

# It fakes the draw service's events on the draw stream (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra
FAST = {"SSJ_DEADLINE_WATCH_SECONDS": "0.3", "SSJ_DISPATCH_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def replicas(infra: Infra) -> Iterator[list[ServiceProcess]]:
    first = ServiceProcess(infra, "results", **FAST).start()
    publish_departments(infra, ["SAMR", "TAX"])
    wait_for_departments(infra, "results", ["SAMR", "TAX"])
    second = ServiceProcess(infra, "results", **FAST).start()
    yield [first, second]
    for proc in (first, second):
        proc.stop()


def _overdue_events(infra: Infra, subject_id: str, name: str = "ResultOverdue") -> int:
    with psycopg.connect(infra.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM results.resultsapplication_events "
            "WHERE topic LIKE %s AND convert_from(state, 'UTF8') LIKE %s",
            (f"%{name}", f"%{subject_id}%"),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_result_past_its_deadline_is_noticed_once_across_replicas(
    replicas: list[ServiceProcess], infra: Infra
) -> None:
    past = publish_draw(infra, "2026-01-05", subjects=2)  # due 2026-02-02, long past
    ahead = publish_draw(infra, date.today().isoformat(), subjects=1)
    auth = {"Authorization": f"Bearer {token(infra, LEADER, 'SAMR', 'inspector')}"}
    http = httpx.Client(base_url=replicas[0].url, headers=auth, timeout=10)

    def listed(draw_id: str, overdue: bool) -> list[dict[str, object]]:
        params = {"draw_id": draw_id, "overdue": str(overdue).lower()}
        return list(http.get("/v1/assignments", params=params).json()["items"])

    noticed = wait_until(lambda: len(rows := listed(past["subject"], True)) == 2 and rows)
    # Noticed on China's calendar day (UTC+8), a day ahead of UTC in the evening.
    assert {r["overdue_on"] for r in noticed} == {today_in_china().isoformat()}
    assert {r["due_on"] for r in noticed} == {"2026-02-02"}
    wait_until(lambda: len(listed(ahead["subject"], False)) == 1)
    # More passes (about three a second), by whichever replica leads: still one notice.
    time.sleep(1.0)
    for proc in replicas:
        assert httpx.get(f"{proc.url}/healthz").status_code == 200
    for row in noticed:
        assert _overdue_events(infra, str(row["subject_id"])) == 1
    assert listed(ahead["subject"], True) == []


def test_every_drawn_subject_is_dispatched_once_across_replicas(
    replicas: list[ServiceProcess], infra: Infra
) -> None:
    event = publish_draw(infra, date.today().isoformat(), subjects=30)
    auth = {"Authorization": f"Bearer {token(infra, LEADER, 'SAMR', 'inspector')}"}

    def dispatched(url: str) -> bool:
        rows = httpx.get(f"{url}/v1/tasks", params={"draw_id": event["subject"]}, headers=auth)
        return len(rows.json()["items"]) == 30

    for proc in replicas:
        wait_until(lambda url=proc.url: dispatched(url))
    time.sleep(1.0)  # more passes, by whichever replica leads
    for subject in event["data"]["subjects"]:
        assert _overdue_events(infra, subject["subject_id"], "TaskDispatched") == 1


def test_a_replica_killed_mid_flow_loses_nothing_and_sends_each_credit_fact_once(
    replicas: list[ServiceProcess], infra: Infra
) -> None:
    """kill -9 right after each answer of a task's flow (dispatch, submission, review): the
    other replica takes over the relay and the consumers, and a fresh process of the killed
    one joins again; every step is on the stream once, the credit fact once."""
    import asyncio
    import json

    import nats

    from tests.integration.task_flow import report, tasks_of

    event = publish_draw(infra, date.today().isoformat(), subjects=1)
    leader = {"Authorization": f"Bearer {token(infra, LEADER, 'SAMR', 'inspector')}"}
    reviewer = {"Authorization": f"Bearer {token(infra, 'rev-kill', 'SAMR', 'reviewer')}"}

    def restart(n: int) -> None:
        assert replicas[n].proc is not None
        replicas[n].proc.kill()  # SIGKILL: no shutdown, no flush
        replicas[n].proc.wait()
        replicas[n].start()

    with httpx.Client(base_url=replicas[0].url, headers=leader, timeout=20) as http:
        (task,) = tasks_of(http, event["subject"], 1)
    restart(0)
    path = f"/v1/tasks/{task['id']}"
    submitted = httpx.post(
        f"{replicas[0].url}{path}/submission",
        json={"report": report(task)},
        headers=leader,
        timeout=20,
    )
    assert submitted.status_code == 200, submitted.text
    restart(0)
    approved = httpx.post(
        f"{replicas[1].url}{path}/review", json={"decision": "approve"}, headers=reviewer
    )
    assert approved.status_code == 200 and approved.json()["state"] == "published"
    restart(1)
    settings = infra.settings()

    async def on_the_wire() -> list[str]:
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                f"{settings.subject_prefix('results')}.>",
                stream=settings.stream_name("results"),
                ordered_consumer=True,
            )
            names = []
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    return names
                body = json.loads(msg.data)
                if task["id"] in (body["subject"], body["data"].get("task_id")):
                    names.append(body["type"].split(".")[2])
        finally:
            await nc.close()

    def all_sent() -> list[str] | None:
        names = asyncio.run(on_the_wire())
        return names if "CreditRecorded" in names else None

    names = wait_until(all_sent, timeout=60)
    assert Counter(names) == Counter(
        [
            "TaskDispatched",
            "InspectionRecorded",
            "ResultSubmitted",
            "ResultApproved",
            "ResultPublished",
            "CreditRecorded",
        ]
    )

    def published() -> bool:
        params = {"state": "published", "draw_id": event["subject"]}
        rows = httpx.get(f"{replicas[1].url}/v1/tasks", params=params, headers=leader).json()
        return [r["id"] for r in rows["items"]] == [task["id"]]

    wait_until(published, timeout=60)
