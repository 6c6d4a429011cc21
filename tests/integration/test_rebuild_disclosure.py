"""``ssj rebuild`` on a real disclosure process, its consumers running: the registry's,
planner's and results service's events published as their relays would, the read models
damaged on purpose and restored row for row, intact ones left as they were, and the
service applying later events after a rebuild."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from libs.common.read_models import read_models, units
from libs.common.rebuild import compare_all, rebuild
from services.disclosure.main import SPEC
from tests.integration import read_model_rows
from tests.integration.disclosure_flows import publish_plan
from tests.integration.register_events import (
    _NAMESPACE,
    _registered,
    publish_departments,
    publish_items,
)
from tests.integration.stream_events import publish_events
from tests.support import ROOT, Infra, ServiceProcess, wait_until

# It fakes other services' events on their streams (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra
ITEMS = [
    {"code": f"SAMR-B{n}", "department": "SAMR", "name": f"食品经营检查{n}"} for n in range(1, 4)
]
MODELS = read_models([SPEC])


def _item_event(code: str, name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        **_registered("X"),
        "type": f"ssj.registry.{name}.v1",
        "subject": str(uuid.uuid5(_NAMESPACE, f"item:{code}")),
        "aggregate": "InspectionItem",
        "aggregateversion": version,
        "data": data,
    }


def _results_event(name: str, subject: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"results:test-{uuid.uuid4()}",
        "source": "/ssj/results",
        "type": f"ssj.results.{name}.v1",
        "subject": subject,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "aggregate": "InspectionTask",
        "aggregateversion": version,
        "actorsub": "system:results",
        "actordept": "",
        "actorroles": "",
        "correlationid": str(uuid.uuid4()),
        "data": data,
    }


def publish_results(infra: Infra) -> None:
    """A missed publication deadline and a correction order, as the results relay would."""
    task = str(uuid.uuid4())
    missed = {
        "task_id": task,
        "kind": "publication",
        "due_on": "2026-03-02",
        "noticed_on": "2026-03-03",
        "subject_identifier": "91420200MA4KXXXX1X",
        "department": "SAMR",
    }
    publish_events(
        infra,
        "results",
        [
            _results_event("DeadlineMissed", str(uuid.uuid4()), 1, missed),
            _results_event("CorrectionOrdered", task, 4, {"decided_on": "2026-03-04"}),
        ],
    )


def caught_up(infra: Infra) -> bool:
    return read_model_rows.caught_up(infra, SPEC)


def snapshot(infra: Infra) -> dict[str, list[str]]:
    return read_model_rows.snapshot(infra, SPEC)


def ssj(infra: Infra, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``ssj`` command with this test's database and namespace."""
    return subprocess.run(
        [sys.executable, "-m", "libs.common.cli", "rebuild", *args],
        env=infra.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def service(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "disclosure").start()
    publish_departments(infra, ["SAMR", "TAX"])
    publish_items(infra, ITEMS)
    publish_events(
        infra,
        "registry",
        [
            _item_event("SAMR-B1", "ItemPublished", 2, {}),
            _item_event("SAMR-B2", "ItemPublished", 2, {}),
            _item_event("SAMR-B2", "ItemChanged", 3, {"changes": {"ratio": 0.1}}),
        ],
    )
    publish_plan(infra)
    publish_results(infra)
    wait_until(lambda: caught_up(infra), timeout=30)
    yield proc
    proc.stop()


def test_every_read_model_matches_a_rebuild_and_rebuilding_changes_nothing(
    infra: Infra, service: ServiceProcess
) -> None:
    before = snapshot(infra)
    assert all(before[t] for t in ("items", "item_versions", "plans", "overdue", "follow_ups"))

    reports = asyncio.run(compare_all(infra.settings(), specs=[SPEC]))
    assert [r.names for r in reports] == [[m.name for m in u] for u in units(MODELS)]
    assert all(r.matches and not r.committed for r in reports), [r.differences() for r in reports]
    for name in MODELS:
        report = asyncio.run(rebuild(infra.settings(), name, specs=[SPEC]))
        assert report.committed and report.matches

    assert snapshot(infra) == before


def test_damaged_read_models_are_restored_by_ssj_rebuild(
    infra: Infra, service: ServiceProcess
) -> None:
    wait_until(lambda: caught_up(infra), timeout=30)
    before = snapshot(infra)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM disclosure.items WHERE code = 'SAMR-B1'")
        conn.execute("UPDATE disclosure.item_versions SET ratio = 0.5 WHERE version = 3")
        conn.execute("UPDATE disclosure.plans SET title = '篡改的计划'")
        conn.execute("DELETE FROM disclosure.departments_view WHERE code = 'TAX'")
        conn.execute("DELETE FROM disclosure.overdue")

    found = ssj(infra, "disclosure.registry", "--check")
    assert found.returncode == 1, found.stderr
    assert "items: 2 rows held, 3 rebuilt" in found.stdout
    assert "rebuilt, not held:" in found.stdout
    for name in ("disclosure.registry", "disclosure.planner", "disclosure.register"):
        done = ssj(infra, name)
        assert done.returncode == 0, done.stderr
        assert "(unchanged)" in done.stdout
    assert "stream sequence" in done.stderr  # progress
    assert ssj(infra, "disclosure.results", "--quiet").returncode == 0

    assert snapshot(infra) == before
    assert ssj(infra, "disclosure.registry", "--check").returncode == 0


def test_the_service_applies_later_events_after_a_rebuild(
    infra: Infra, service: ServiceProcess
) -> None:
    wait_until(lambda: caught_up(infra), timeout=30)
    asyncio.run(rebuild(infra.settings(), "disclosure.registry", specs=[SPEC]))
    publish_items(infra, [{"code": "SAMR-B4", "department": "SAMR", "name": "新增检查"}])
    publish_events(
        infra,
        "registry",
        [
            _item_event("SAMR-B1", "ItemChanged", 3, {"changes": {"name": "改名的检查"}}),
            _item_event("SAMR-B4", "ItemPublished", 2, {}),
        ],
    )
    wait_until(lambda: caught_up(infra), timeout=30)

    rows = snapshot(infra)
    assert sum('"SAMR-B4"' in r for r in rows["item_versions"]) == 2
    assert sum("改名的检查" in r for r in rows["item_versions"]) == 1
    reports = asyncio.run(compare_all(infra.settings(), specs=[SPEC]))
    assert all(r.matches for r in reports), [r.differences() for r in reports]


def test_ssj_rebuild_names_its_read_models(infra: Infra) -> None:
    listed = ssj(infra, "--list")
    assert listed.returncode == 0
    assert "disclosure.results" in listed.stdout
    assert (
        "results.records" in listed.stdout and "rebuilt with results.assignments" in listed.stdout
    )
    unknown = ssj(infra, "disclosure.nothing")
    assert unknown.returncode == 2
    assert "unknown read model 'disclosure.nothing'" in unknown.stderr
    assert "disclosure.registry" in unknown.stderr
