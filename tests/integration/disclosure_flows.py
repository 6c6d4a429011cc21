"""A results and a disclosure process with a published plan and five drawn subjects taken
through the results service (on time, late, a problem followed to its end, a refusal, one
never reviewed), for the disclosure tests (tests/integration/test_disclosure_*.py). The
registry, planner and draw services are not started: their events are published as their
relays would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.results.application import today_in_china
from tests.integration.draw_events import LEADER, draw_event, publish
from tests.integration.register_events import (
    publish_departments,
    publish_items,
    wait_for_departments,
)
from tests.integration.stream_events import publish_events
from tests.integration.task_flow import report, tasks_of, until_state
from tests.support import Infra, ServiceProcess, token, wait_until

FORM_ITEM = {
    "code": "SAMR-R1",
    "department": "SAMR",
    "name": "食品经营许可检查",
    "methods": ["on_site", "documentary", "online", "other_department"],
    "sub_items": [{"code": "R1A", "name": "许可证在有效期内"}],
}
PLAN_ID, BATCH_ID = str(uuid.uuid4()), str(uuid.uuid4())
PLAN_NUMBER, TASK_NUMBER = "420200-2026-007", "420200-2026-007-01"
FORMULA_NAME = '=HYPERLINK("http://evil.example","点击")商贸有限公司'


def _plan_event(name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"planner:test-{uuid.uuid4()}",
        "source": "/ssj/planner",
        "type": f"ssj.planner.{name}.v1",
        "subject": PLAN_ID,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "aggregate": "Plan",
        "aggregateversion": version,
        "actorsub": "office-1",
        "actordept": "OFFICE",
        "actorroles": "office",
        "correlationid": str(uuid.uuid4()),
        "data": data,
    }


def publish_plan(infra: Infra) -> None:
    """A published plan with one batch (任务), as the planner's relay would put it."""
    created = _plan_event(
        "PlanCreated",
        1,
        {
            "year": today_in_china().year,
            "title": "黄石市2026年食品经营双随机联合抽查计划",
            "mode": "comprehensive",
            "initiating_department": "SAMR",
            "participating_departments": ["TAX"],
            "items": [],
            "batches": [
                {
                    "batch_id": BATCH_ID,
                    "task_number": TASK_NUMBER,
                    "name": "食品经营者联合检查",
                    "directed": False,
                }
            ],
            "number": PLAN_NUMBER,
        },
    )
    published = _plan_event("PlanPublished", 2, {})
    publish_events(infra, "planner", [created, published])


def run_stack(infra: Infra, **env: str) -> Iterator[dict[str, ServiceProcess]]:
    """For a module fixture: the two processes with the registry's and planner's events."""
    procs = {
        "results": ServiceProcess(
            infra, "results", SSJ_DISPATCH_SECONDS="0.2", SSJ_DEADLINE_WATCH_SECONDS="0.3"
        ).start(),
        "disclosure": ServiceProcess(infra, "disclosure", **env).start(),
    }
    publish_departments(infra, ["SAMR", "TAX"])
    publish_items(infra, [FORM_ITEM])
    publish_plan(infra)
    for schema in ("results", "disclosure"):
        wait_for_departments(infra, schema, ["SAMR", "TAX"])
    yield procs
    for proc in procs.values():
        proc.stop()


def public_client(stack: dict[str, ServiceProcess]) -> Iterator[httpx.Client]:
    """For a module fixture: a client of the disclosure service, without a token."""
    with httpx.Client(base_url=stack["disclosure"].url, timeout=20) as client:
        yield client


def _client(proc: ServiceProcess, infra: Infra, sub: str, dept: str, role: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, role)}"}
    return httpx.Client(base_url=proc.url, headers=auth, timeout=20)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def ago(days: int) -> str:
    return (today_in_china() - timedelta(days=days)).isoformat()


def make_flows(infra: Infra, stack: dict[str, ServiceProcess]) -> dict[str, dict[str, Any]]:
    """Five drawn subjects through the results service: on time, late, a problem followed
    to its end, a refusal, and one submitted but never reviewed, long past its deadline."""
    results = stack["results"]
    leader = _client(results, infra, LEADER, "SAMR", "inspector")
    reviewer = _client(results, infra, "rev-samr", "SAMR", "reviewer")
    event = draw_event(str(uuid.uuid4()), ago(3), subjects=5)
    event["data"].update(plan_id=PLAN_ID, batch_id=BATCH_ID)
    # A name a spreadsheet would run as a formula (whoever registers a company types it).
    event["data"]["subjects"][0]["name"] = FORMULA_NAME
    time_to_know_the_item(infra)
    publish(infra, [event])
    drawn = tasks_of(leader, event["subject"], 5)
    # The hostile name goes to the clean result (published, so in every export).
    clean = next(t for t in drawn if t["subject_name"] == FORMULA_NAME)
    late, problem, refused, waiting = (t for t in drawn if t is not clean)
    today = today_in_china()

    def submit(task: dict[str, Any], body: dict[str, Any]) -> None:
        ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))

    def approve(task: dict[str, Any]) -> dict[str, Any]:
        return ok(reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}))

    submit(clean, report(clean))
    approve(clean)
    long_ago = {
        "inspected_from": ago(60),
        "inspected_to": ago(59),
        "notice": {"given": True, "way": "phone", "on": ago(61)},
    }
    submit(late, report(late, **long_ago))
    assert approve(late)["published"]["late"] is True
    submit(
        problem,
        report(problem, category="problem_pending", failing=1, pending_kind="correction_ordered"),
    )
    approve(problem)
    order = {"decided_on": today.isoformat(), "deadline": (today + timedelta(days=10)).isoformat()}
    ok(leader.post(f"/v1/tasks/{problem['id']}/follow-up/order", json=order))
    again = {"reinspected_on": today.isoformat(), "corrected": False, "finding": "仍未改正"}
    ok(leader.post(f"/v1/tasks/{problem['id']}/follow-up/reinspection", json=again))
    closure = {
        "outcome": "transferred",
        "decided_on": today.isoformat(),
        "receiving_department": "黄石市税务局",
    }
    ok(leader.post(f"/v1/tasks/{problem['id']}/follow-up/closure", json=closure))
    refusal = report(refused, category="refused", items=[])
    refusal["non_cooperation"] = {"case": "denied_entry", "description": "拒绝检查人员进入"}
    submit(refused, refusal)
    approve(refused)
    submit(waiting, report(waiting, **long_ago))  # never reviewed
    for task in (clean, late, problem, refused):
        until_state(leader, task["id"], state="published")
    leader.close()
    reviewer.close()
    return {
        "clean": clean,
        "late": late,
        "problem": problem,
        "refused": refused,
        "waiting": waiting,
    }


def time_to_know_the_item(infra: Infra) -> None:
    """The results service copies the item's forms at dispatch: it must know the item."""
    import psycopg

    def known() -> bool:
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM results.items WHERE code = 'SAMR-R1'")
            return found.fetchone() is not None

    wait_until(known, timeout=30)


def results_of(public: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return ok(public.get("/v1/public/results", params={"limit": 1000, **params}))["items"]


def all_shown(public: httpx.Client, flows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = {flows[k]["id"]: k for k in ("clean", "late", "problem", "refused")}

    def shown() -> dict[str, dict[str, Any]] | None:
        rows = {ids[r["record_id"]]: r for r in results_of(public) if r["record_id"] in ids}
        done = (
            len(rows) == 4
            and rows["problem"]["follow_up"][-1:]
            and rows["problem"]["follow_up"][-1]["step"] == "transferred"
        )
        return rows if done else None

    return wait_until(shown, timeout=30)
