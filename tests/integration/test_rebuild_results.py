"""``ssj rebuild`` on a real results process: its assignments (from the draw stream) and
its records and tasks (from its own stream, checked against its own event store) are one
unit, rebuilt together while the dispatcher and the consumers run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from libs.common.rebuild import compare_all, compare_read_model, rebuild
from services.results.main import SPEC
from tests.integration.draw_events import LEADER, publish_draw
from tests.integration.read_model_rows import caught_up, snapshot
from tests.integration.register_events import publish_departments, publish_items
from tests.integration.task_flow import report, tasks_of
from tests.support import Infra, ServiceProcess, token, wait_until

# It fakes other services' events on their streams (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra
ITEM = {
    "code": "SAMR-R1",
    "department": "SAMR",
    "name": "食品经营许可检查",
    "methods": ["on_site"],
    "sub_items": [{"code": "R1A", "name": "许可证在有效期内"}],
}


@pytest.fixture(scope="module")
def tasks(infra: Infra) -> Iterator[list[dict[str, Any]]]:
    """Three drawn subjects dispatched as tasks; one inspected and submitted."""
    proc = ServiceProcess(infra, "results", SSJ_DISPATCH_SECONDS="0.2").start()
    publish_departments(infra, ["SAMR", "TAX"])
    publish_items(infra, [ITEM])
    auth = {"Authorization": f"Bearer {token(infra, LEADER, 'SAMR', 'inspector')}"}
    with httpx.Client(base_url=proc.url, headers=auth, timeout=20) as leader:
        wait_until(lambda: _item_known(infra), timeout=30)
        event = publish_draw(infra, (date.today() - timedelta(days=3)).isoformat(), subjects=3)
        dispatched = tasks_of(leader, event["subject"], 3)
        task = dispatched[0]
        done = leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)})
        assert done.status_code == 200, done.text
        wait_until(lambda: caught_up(infra, SPEC), timeout=30)
        yield dispatched
    proc.stop()


def _item_known(infra: Infra) -> bool:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM results.items WHERE code = 'SAMR-R1'").fetchone()
    return found is not None


def test_every_read_model_of_the_results_service_matches_a_rebuild(
    infra: Infra, tasks: list[dict[str, Any]]
) -> None:
    reports = asyncio.run(compare_all(infra.settings(), specs=[SPEC]))

    assert ["results.assignments", "results.records"] in [r.names for r in reports]
    assert all(r.matches for r in reports), [r.differences() for r in reports]


def test_damaged_assignments_and_tasks_are_restored_together(
    infra: Infra, tasks: list[dict[str, Any]]
) -> None:
    wait_until(lambda: caught_up(infra, SPEC), timeout=30)
    before = snapshot(infra, SPEC)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("UPDATE results.assignments SET due_on = due_on + 30")
        conn.execute("DELETE FROM results.tasks WHERE task_id = %s", (tasks[1]["id"],))
        conn.execute("UPDATE results.calendar_years SET holidays = '[]'")

    found = asyncio.run(compare_read_model(infra.settings(), "results.assignments", specs=[SPEC]))
    assert found.names == ["results.assignments", "results.records"]
    differ = {t.table for t in found.tables if not t.same}
    assert {"assignments", "tasks"} <= differ
    done = asyncio.run(rebuild(infra.settings(), "results.records", specs=[SPEC]))

    assert done.committed
    assert snapshot(infra, SPEC) == before
