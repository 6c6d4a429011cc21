"""期限重算 — deadlines counted again when the office loads a year (domain/calendar.py).

A deadline counted over a year nobody had published was counted on weekdays and marked
provisional. Once the year is loaded, the deadline watch's process (one of the replicas,
libs/common/workers.py) counts again the deadlines of every task that reaches into it and
records a ``DeadlinesRecounted`` on each task whose deadlines it counted, so the watch, the
lists and the case file see the deadline the office's calendar gives, and when it changed.

Which loads were recounted is kept in ``results.recounted_years`` (the load's time per
year), written after the year's tasks, and only once the load is :data:`SETTLE` old: until
then every pass counts again, so a task dispatched from an assignment read just before the
load reached it, or a submission not yet in the read model, is not passed over. A crash
repeats the year. A task records only a day that moved: asked again, it records nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from services.results.application import ResultsApplication

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.recounted_years (
        year int PRIMARY KEY, loaded_at timestamptz NOT NULL)""",
]
# Years loaded (or loaded again) since their tasks were last recounted.
LOADED = """
    SELECT c.year, c.loaded_at FROM results.calendar_years c
    LEFT JOIN results.recounted_years r ON r.year = c.year
    WHERE r.loaded_at IS NULL OR r.loaded_at < c.loaded_at
    ORDER BY c.year
"""
# Tasks with a deadline counted over the year: the entry deadline (from the batch's end) or
# the publication deadline (from the inspection's end or the decision) reaching into it.
REACHING = """
    SELECT task_id, publication_due FROM results.tasks
    WHERE state NOT IN ('published', 'withdrawn') AND ends_on <= make_date($1, 12, 31)
      AND (due_on >= make_date($1, 1, 1) OR publication_due >= make_date($1, 1, 1))
      AND task_id > $2
    ORDER BY task_id LIMIT $3
"""
CHUNK = 500
# How long after a load its tasks are counted again at every pass (see above).
SETTLE = timedelta(minutes=2)


def recount_tasks(app: ResultsApplication, year: int, tasks: list[tuple[UUID, Any]]) -> int:
    """Count each task's deadlines again; returns how many were recorded."""
    return sum(app.recount_deadlines(task, year, due) for task, due in tasks)


async def recount_pass(app: ResultsApplication, pool: asyncpg.Pool) -> int:
    """Recount the tasks of every year loaded since its last recount; how many changed."""
    done = 0
    for loaded in await pool.fetch(LOADED):
        after = UUID(int=0)
        while rows := await pool.fetch(REACHING, loaded["year"], after, CHUNK):
            tasks = [(row["task_id"], row["publication_due"]) for row in rows]
            done += await asyncio.to_thread(recount_tasks, app, loaded["year"], tasks)
            after = tasks[-1][0]
        if datetime.now(UTC) - loaded["loaded_at"] < SETTLE:
            continue  # counted again at the next pass too
        await pool.execute(
            """INSERT INTO results.recounted_years (year, loaded_at) VALUES ($1, $2)
               ON CONFLICT (year) DO UPDATE SET loaded_at = EXCLUDED.loaded_at""",
            loaded["year"],
            loaded["loaded_at"],
        )
    return done
