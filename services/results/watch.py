"""The deadline watch (逾期监测), one process of the results service's replicas
(libs/common/workers.py). Each notice's id is derived from what it is about, so even two
watches at once record it once:

- ``ResultOverdue``: a drawn subject's result not entered by its deadline (002 第十六条);
- ``DeadlineMissed`` ``publication``: a reviewed result not published within 20 working days
  of the inspection's end or, with problems, of the handling decision (003);
- ``DeadlineMissed`` ``follow_up``: a correction order past its deadline, not re-inspected.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from eventsourcing.persistence import IntegrityError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.results.application import ResultsApplication, today_in_china
from services.results.domain.missed import MissedDeadline, missed_id
from services.results.domain.overdue import OverdueNotice, overdue_id
from services.results.recount import recount_pass

# Rows looked at per pass and kind (the rest wait for the next pass).
PASS_LIMIT = 1000
OVERDUE = """
    SELECT draw_id::text, subject_id::text, batch_id, plan_id::text, identifier,
           initiating_department, due_on, due_on_provisional
    FROM results.assignments
    WHERE record_id IS NULL AND replaced_by IS NULL AND overdue_on IS NULL AND due_on < $1
    ORDER BY due_on, draw_id, subject_id LIMIT $2
"""
UNPUBLISHED = """
    SELECT task_id::text, 'publication' AS kind, publication_due AS due_on,
           subject_identifier, implementing_department
    FROM results.tasks
    WHERE publication_due < $1 AND published_on IS NULL AND publication_overdue_on IS NULL
    ORDER BY publication_due, task_id LIMIT $2
"""
UNREINSPECTED = """
    SELECT task_id::text, 'follow_up' AS kind, follow_up_deadline AS due_on,
           subject_identifier, implementing_department
    FROM results.tasks
    WHERE follow_up = 'ordered' AND follow_up_deadline < $1 AND follow_up_overdue_on IS NULL
    ORDER BY follow_up_deadline, task_id LIMIT $2
"""


class WatchSettings(BaseSettings):
    """``SSJ_DEADLINE_WATCH_SECONDS``: seconds between passes of the watch (default 300)."""

    model_config = SettingsConfigDict(env_prefix="SSJ_", extra="ignore")

    deadline_watch_seconds: float = 300.0


def interval() -> float:
    """Seconds between passes."""
    return max(0.1, WatchSettings().deadline_watch_seconds)


def _save_once(app: ResultsApplication, aggregate: Any) -> bool:
    if aggregate.id in app.repository:
        return False
    try:
        app.save(aggregate)
    except IntegrityError:
        return False
    return True


def notice(app: ResultsApplication, row: dict[str, Any], today: str) -> bool:
    """Record one missing result; False if another watch recorded it first."""
    if overdue_id(row["draw_id"], row["subject_id"]) in app.repository:
        return False
    return _save_once(
        app,
        OverdueNotice(
            draw_id=row["draw_id"],
            subject_id=row["subject_id"],
            batch_id=row["batch_id"],
            plan_id=row["plan_id"],
            subject_identifier=row["identifier"],
            department=row["initiating_department"],
            due_on=row["due_on"].isoformat(),
            provisional=bool(row["due_on_provisional"]),
            noticed_on=today,
        ),
    )


def missed(app: ResultsApplication, row: dict[str, Any], today: str) -> bool:
    """Record one missed publication or follow-up deadline (once)."""
    due_on = row["due_on"].isoformat()
    if missed_id(row["task_id"], row["kind"], due_on) in app.repository:
        return False
    return _save_once(
        app,
        MissedDeadline(
            task_id=row["task_id"],
            kind=row["kind"],
            due_on=due_on,
            noticed_on=today,
            subject_identifier=row["subject_identifier"],
            department=row["implementing_department"],
        ),
    )


async def watch_pass(app: ResultsApplication, pool: asyncpg.Pool) -> int:
    """One pass: the deadlines of any year loaded since counted again (recount.py), then
    notices for what is past its deadline (China's calendar day)."""
    today = today_in_china()
    done = await recount_pass(app, pool)
    if done:
        # The read model has not applied the recounted deadlines yet: look for missed
        # ones at the next pass, not against the days just replaced.
        return done
    for row in await pool.fetch(OVERDUE, today, PASS_LIMIT):
        done += await asyncio.to_thread(notice, app, dict(row), today.isoformat())
    for query in (UNPUBLISHED, UNREINSPECTED):
        for row in await pool.fetch(query, today, PASS_LIMIT):
            done += await asyncio.to_thread(missed, app, dict(row), today.isoformat())
    return done
