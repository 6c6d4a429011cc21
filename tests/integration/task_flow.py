"""Builders for inspection tasks (检查任务) in tests: reports that answer a task's forms, and
the steps of the task API as one call each."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.support import wait_until

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n% ssj test\n"


def report(
    task: dict[str, Any],
    category: str = "no_problem",
    failing: int = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """A report of ``task`` (as GET /v1/tasks/{id} shows it): every point of every form
    conforming, except the first ``failing`` points, checked on site, notice by phone the
    day before, signed by the legal representative."""
    today = date.today()
    items, n = [], 0
    for form in task["forms"]:
        methods = [m for m in ("on_site", "online") if not form["methods"] or m in form["methods"]]
        points = []
        for p in form["points"]:
            bad = n < failing
            n += 1
            points.append(
                {
                    "point": p["point"],
                    "state": "not_conforming" if bad else "conforming",
                    "method": methods[0],
                    "finding": "未按规定公示许可信息" if bad else "",
                }
            )
        items.append({"item_code": form["item_code"], "methods": methods, "points": points})
    body: dict[str, Any] = {
        "inspected_from": (today - timedelta(days=1)).isoformat(),
        "inspected_to": today.isoformat(),
        "category": category,
        "items": items,
        "notice": {"given": True, "way": "phone", "on": (today - timedelta(days=2)).isoformat()},
        "signature": {"signed": True, "signatory": "王法人"},
    }
    body.update(overrides)
    return body


def tasks_of(client: httpx.Client, draw_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until the draw's subjects are dispatched as tasks; the tasks in full."""

    def listed() -> list[dict[str, Any]] | None:
        rows = client.get("/v1/tasks", params={"draw_id": draw_id}).json()["items"]
        return rows if len(rows) == count else None

    return [client.get(f"/v1/tasks/{r['id']}").json() for r in wait_until(listed, timeout=30)]


def until_state(client: httpx.Client, task_id: str, **expected: Any) -> dict[str, Any]:
    """Wait until the task's row in the list shows ``expected`` (the projection caught up)."""

    def shown() -> dict[str, Any] | None:
        rows = client.get("/v1/tasks", params={"limit": 1000}).json()["items"]
        row = next((r for r in rows if r["id"] == task_id), None)
        if row and all(str(row.get(k)) == str(v) for k, v in expected.items()):
            return row
        return None

    return wait_until(shown, timeout=30)
