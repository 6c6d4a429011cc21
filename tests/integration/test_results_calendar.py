"""The working calendar of the results service as a real process: a deadline reaching into
a year nobody has published is provisional (weekdays); the office loads the year (HTTP or
``ssj calendar load``), recorded as an event, and every such deadline — the public answer
and the drawn subjects' result deadlines — is counted again on it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.draw_events import LEADER, publish_draw
from tests.integration.register_events import publish_departments, wait_for_departments
from tests.support import ROOT, Infra, ServiceProcess, token, wait_until

# It fakes the draw service's events on the draw stream (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra
# A year no package will know for a long time, as the office might load it (made up):
# Friday 5 June a holiday, Saturday 26 December worked.
YEAR = {"holidays": ["2099-01-01", "2099-06-05"], "workdays": ["2099-12-26"]}


@pytest.fixture(scope="module")
def results(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "results", SSJ_DEADLINE_WATCH_SECONDS="0.5").start()
    publish_departments(infra, ["SAMR", "TAX"])
    wait_for_departments(infra, "results", ["SAMR", "TAX"])
    yield proc
    proc.stop()


def _deadline(url: str, start: str, days: int) -> dict[str, object]:
    answer = httpx.get(f"{url}/v1/calendar/deadline", params={"from": start, "working_days": days})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_deadline_into_an_unknown_year_is_provisional_until_the_year_is_loaded(
    results: ServiceProcess, infra: Infra
) -> None:
    url = results.url
    assert _deadline(url, "2099-06-01", 20) == {
        "from": "2099-06-01",
        "working_days": 20,
        "due_on": "2099-06-29",
        "provisional": True,
    }
    assert _deadline(url, "2026-09-30", 3)["provisional"] is False
    event = publish_draw(infra, "2099-06-01", subjects=2)
    leader = httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token(infra, LEADER, 'SAMR', 'inspector')}"},
    )

    def rows() -> list[dict[str, object]]:
        found = leader.get("/v1/assignments", params={"draw_id": event["subject"]}).json()
        return list(found["items"])

    drawn = wait_until(lambda: len(r := rows()) == 2 and r)
    assert {(r["due_on"], r["due_on_provisional"]) for r in drawn} == {("2099-06-29", True)}

    def tasks() -> list[dict[str, object]]:
        found = leader.get("/v1/tasks", params={"draw_id": event["subject"]}).json()
        return list(found["items"])

    dispatched = wait_until(lambda: len(t := tasks()) == 2 and t)
    assert {t["due_on"] for t in dispatched} == {"2099-06-29"}

    operator = {"Authorization": f"Bearer {token(infra, 'op', 'SAMR', 'operator')}"}
    office = {"Authorization": f"Bearer {token(infra, 'office', 'OFFICE', 'office')}"}
    assert httpx.put(f"{url}/v1/calendar/2099", json=YEAR, headers=operator).status_code == 403
    weekday = {"holidays": [], "workdays": ["2099-06-15"]}
    refused = httpx.put(f"{url}/v1/calendar/2099", json=weekday, headers=office)
    assert refused.status_code == 422 and "weekdays" in refused.json()["detail"]
    loaded = httpx.put(f"{url}/v1/calendar/2099", json=YEAR, headers=office)
    assert loaded.status_code == 200 and loaded.json()["changed"] is True
    again = httpx.put(f"{url}/v1/calendar/2099", json=YEAR, headers=office)
    assert again.json()["changed"] is False

    # Friday 5 June is a holiday now: the twentieth working day is Tuesday 30 June, firm.
    assert _deadline(url, "2099-06-01", 20) == {
        "from": "2099-06-01",
        "working_days": 20,
        "due_on": "2099-06-30",
        "provisional": False,
    }

    def recounted_rows() -> list[dict[str, object]] | None:
        found = rows()
        return found if not any(r["due_on_provisional"] for r in found) else None

    recounted = wait_until(recounted_rows)
    assert {r["due_on"] for r in recounted} == {"2099-06-30"}
    # Each task's deadline counted again, by an event on the task (期限重算).
    wait_until(lambda: {t["due_on"] for t in tasks()} == {"2099-06-30"})
    for task in dispatched:
        view = leader.get(f"/v1/tasks/{task['id']}").json()
        assert view["due_on"] == "2099-06-30"
        assert view["version"] == task["version"] + 1
        assert view["recounted"] == {
            "year": 2099,
            "due_on": "2099-06-30",
            "due_on_provisional": False,
            "publication_due": None,
            "publication_due_provisional": None,
        }
    year = httpx.get(f"{url}/v1/calendar/2099").json()
    assert year == {"year": 2099, "source": "office", **YEAR}
    assert httpx.get(f"{url}/v1/calendar/2026").json()["source"] == "package"


def _cli_load(infra: Infra, path: Path) -> subprocess.CompletedProcess[str]:
    """``ssj calendar load PATH`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "libs.common.cli", "calendar", "load", str(path)],
        env=infra.env(SSJ_SERVICE="results"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_loads_a_year_as_the_api_does(
    results: ServiceProcess, infra: Infra, tmp_path: Path
) -> None:
    path = tmp_path / "2098.json"
    path.write_text(json.dumps({"year": 2098, "holidays": ["2098-01-03"], "workdays": []}))
    run = _cli_load(infra, path)
    assert run.returncode == 0, run.stderr
    assert "2098: 1 holidays" in run.stdout
    year = httpx.get(f"{results.url}/v1/calendar/2098").json()
    assert year["source"] == "office" and year["holidays"] == ["2098-01-03"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"year": 2098, "holidays": ["2099-01-01"]}))
    refused = _cli_load(infra, bad)
    assert refused.returncode == 2 and "not in 2098" in refused.stderr
    # A year PostgreSQL's dates cannot hold would stop the projection for good.
    bad.write_text(json.dumps({"year": 0, "holidays": []}))
    refused = _cli_load(infra, bad)
    assert refused.returncode == 2 and "not a year from 2000 to 2100" in refused.stderr


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30", "working_days": 1},
        {"from": "1999-12-31", "working_days": 1},
        {"from": "2026-01-01", "working_days": 367},
        {"from": "2026-01-01", "working_days": -1},
    ],
)
def test_hostile_deadline_questions_are_422(results: ServiceProcess, params: dict) -> None:
    answer = httpx.get(f"{results.url}/v1/calendar/deadline", params=params)
    assert answer.status_code == 422, answer.text
