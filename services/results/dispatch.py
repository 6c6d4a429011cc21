"""派发 — every drawn subject becomes an inspection task of the group leader's department
(一次性抽取, 派发市、区级相关部门实施), with the check forms of its items as the item list
defines them at that moment. One process of the replicas runs it (libs/common/workers.py);
a task's id is its subject's, so a second dispatch of the same subject is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.results.application import ResultsApplication, today_in_china
from services.results.domain.forms import form_for
from services.results.domain.task import task_id

PASS_LIMIT = 2_000  # subjects per round; a pass goes on while rounds come back full
MAX_ROUNDS = 50
UNDISPATCHED = """
    SELECT draw_id::text, subject_id::text, batch_id, plan_id::text, identifier, name,
           initiating_department, items, inspectors, ends_on, due_on
    FROM results.assignments
    WHERE task_id IS NULL AND replaced_by IS NULL
    ORDER BY draw_id, subject_id LIMIT $1
"""


class DispatchSettings(BaseSettings):
    """``SSJ_DISPATCH_SECONDS``: seconds between passes of the dispatcher (default 2)."""

    model_config = SettingsConfigDict(env_prefix="SSJ_", extra="ignore")

    dispatch_seconds: float = 2.0


def interval() -> float:
    """Seconds between passes."""
    return max(0.1, DispatchSettings().dispatch_seconds)


def leader_department(row: Mapping[str, Any]) -> str:
    """实施部门: the department of the group's leader (the initiating one without a leader)."""
    for member in row["inspectors"]:
        if member.get("role") == "leader" and member.get("department"):
            return str(member["department"])
    return str(row["initiating_department"])


def task_fields(
    row: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]], today: str
) -> dict[str, Any]:
    """The ``TaskDispatched`` of one assignment row, forms from the item list ``items``."""
    return {
        "draw_id": row["draw_id"],
        "subject_id": row["subject_id"],
        "batch_id": row["batch_id"],
        "plan_id": row["plan_id"],
        "subject_identifier": row["identifier"],
        "subject_name": row["name"],
        "implementing_department": leader_department(row),
        "initiating_department": row["initiating_department"],
        "group": list(row["inspectors"]),
        "forms": [form_for({**i, **items.get(str(i["code"]), {})}) for i in row["items"]],
        "ends_on": row["ends_on"].isoformat(),
        "due_on": None if row["due_on"] is None else row["due_on"].isoformat(),
        "dispatched_on": today,
    }


REPLACED = """
    SELECT t.task_id, a.replaced_by::text
    FROM results.tasks t JOIN results.assignments a ON a.task_id = t.task_id
    WHERE a.replaced_by IS NOT NULL AND t.state IN ('dispatched', 'inspected', 'returned')
    LIMIT $1
"""


async def dispatch_pass(app: ResultsApplication, pool: asyncpg.Pool) -> int:
    """Dispatch what the draw has assigned and nobody dispatched yet; withdraw the tasks of
    subjects replaced (递补) before their result was on record."""
    done = 0
    for row in await pool.fetch(REPLACED, PASS_LIMIT):
        done += await asyncio.to_thread(app.withdraw, row["task_id"], row["replaced_by"])
    for _ in range(MAX_ROUNDS):
        rows = [dict(r) for r in await pool.fetch(UNDISPATCHED, PASS_LIMIT)]
        if not rows:
            break
        codes = sorted({str(i["code"]) for r in rows for i in r["items"]})
        items = {
            r["code"]: {**dict(r), "code": r["code"]}
            for r in await pool.fetch(
                "SELECT code, name, methods, sub_items, check_form FROM results.items "
                "WHERE code = ANY($1)",
                codes,
            )
        }
        today = today_in_china().isoformat()
        fields = [task_fields(r, items, today) for r in rows]
        done += await asyncio.to_thread(app.dispatch, fields)
        # The projection records the same when the events come back from the stream; set
        # here so that the next round does not offer the same subjects again.
        await pool.executemany(
            "UPDATE results.assignments SET task_id = $3 WHERE draw_id = $1::uuid "
            "AND subject_id = $2::uuid AND task_id IS NULL",
            [(r["draw_id"], r["subject_id"], task_id(r["draw_id"], r["subject_id"])) for r in rows],
        )
        if len(rows) < PASS_LIMIT:
            break
    return done
