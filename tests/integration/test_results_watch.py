"""The deadline watch (逾期监测) and the dispatcher (派发) with two replicas of the results
service on one database: a drawn subject whose result is past its deadline and not entered
gets one ResultOverdue event and is listed as overdue; a subject whose deadline is still
ahead does not; every drawn subject becomes one task, once."""

from __future__ import annotations

import time
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
