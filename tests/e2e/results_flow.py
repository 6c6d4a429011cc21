"""Step 4 of the cycle (``make demo``): every drawn subject but the last two inspected by
its group, submitted, reviewed by a reviewer of the implementing department and published;
problems ordered to be corrected, one followed to its re-inspection and closure; then the
credit events other platforms receive."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, timedelta
from typing import Any

import nats

from libs.common.nats_cluster import servers
from tests.integration.task_flow import report


def _tasks(scenario: Any, draw_id: str, count: int, who: dict[str, str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = scenario.call(
            "GET", "results", "/v1/tasks", who, params={"draw_id": draw_id, "limit": 1000}
        )["items"]
        if len(rows) >= count:
            return rows
        time.sleep(0.5)
    raise TimeoutError(f"the draw's {count} subjects were not dispatched as tasks")


def inspect_and_publish(scenario: Any, draw: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Identifier → (task id, category) of every result published."""
    office = scenario.auth("demo-office", "OFFICE", "office")
    rows = {r["subject_id"]: r for r in _tasks(scenario, draw["id"], len(draw["subjects"]), office)}
    today = date.today()
    published: dict[str, tuple[str, str]] = {}
    followed = False
    for i, subject in enumerate(draw["subjects"][:-2]):
        leader = subject["inspectors"][0]
        group = scenario.auth(leader["inspector_id"], leader["department"], "inspector")
        reviewer = scenario.auth(
            f"demo-reviewer-{leader['department']}", leader["department"], "reviewer"
        )
        task_id = rows[subject["subject_id"]]["id"]
        task = scenario.call("GET", "results", f"/v1/tasks/{task_id}", group)
        category = "problem_corrected" if i % 4 == 3 else "no_problem"
        body = report(task, category=category, failing=1 if category != "no_problem" else 0)
        path = f"/v1/tasks/{task_id}"
        scenario.call("POST", "results", f"{path}/submission", group, json={"report": body})
        scenario.call("POST", "results", f"{path}/review", reviewer, json={"decision": "approve"})
        if category != "no_problem":
            order = {
                "decided_on": today.isoformat(),
                "deadline": (today + timedelta(days=15)).isoformat(),
                "decision_no": f"责改〔{today.year}〕{i}号",
            }
            scenario.call("POST", "results", f"{path}/follow-up/order", group, json=order)
            if not followed:
                followed = True
                scenario.call(
                    "POST",
                    "results",
                    f"{path}/follow-up/reinspection",
                    group,
                    json={"reinspected_on": today.isoformat(), "corrected": True},
                )
                scenario.call(
                    "POST",
                    "results",
                    f"{path}/follow-up/closure",
                    group,
                    json={"outcome": "corrected", "decided_on": today.isoformat()},
                )
                scenario.say(
                    f"   {subject['identifier']}: 责令改正 → 复查 → 已改正 (follow-up closed)"
                )
        published[subject["identifier"]] = (task_id, category)
    return published


def credit_events(scenario: Any) -> list[dict[str, Any]]:
    """The credit events on the results stream (``ssj.results.creditnotice.>``)."""
    settings = scenario.settings

    async def read() -> list[dict[str, Any]]:
        nc = await nats.connect(servers(settings.nats_url))
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                f"{settings.subject_prefix('results')}.creditnotice.>",
                stream=settings.stream_name("results"),
                ordered_consumer=True,
            )
            got: list[dict[str, Any]] = []
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    return got
                got.append(json.loads(msg.data))
        finally:
            await nc.close()

    return asyncio.run(read())
