"""The deadline watch (逾期监测): drawn subjects whose result is past its deadline and not
entered get a ``ResultOverdue`` event, once each. One process of the results service's
replicas runs it (libs/common/workers.py); the notice's id is the subject's, so even two
watches at once record it once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from eventsourcing.persistence import IntegrityError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.results.application import ResultsApplication, today_in_china
from services.results.domain.overdue import OverdueNotice, overdue_id

# Assignments looked at per pass (the rest wait for the next pass).
PASS_LIMIT = 1000
OVERDUE = """
    SELECT draw_id::text, subject_id::text, batch_id, plan_id::text, identifier,
           initiating_department, due_on, due_on_provisional
    FROM results.assignments
    WHERE record_id IS NULL AND replaced_by IS NULL AND overdue_on IS NULL AND due_on < $1
    ORDER BY due_on, draw_id, subject_id LIMIT $2
"""


class WatchSettings(BaseSettings):
    """``SSJ_DEADLINE_WATCH_SECONDS``: seconds between passes of the watch (default 300)."""

    model_config = SettingsConfigDict(env_prefix="SSJ_", extra="ignore")

    deadline_watch_seconds: float = 300.0


def interval() -> float:
    """Seconds between passes."""
    return max(0.1, WatchSettings().deadline_watch_seconds)


def notice(app: ResultsApplication, row: dict[str, Any], today: str) -> bool:
    """Record one notice; False if another watch recorded it first."""
    if overdue_id(row["draw_id"], row["subject_id"]) in app.repository:
        return False
    found = OverdueNotice(
        draw_id=row["draw_id"],
        subject_id=row["subject_id"],
        batch_id=row["batch_id"],
        plan_id=row["plan_id"],
        subject_identifier=row["identifier"],
        department=row["initiating_department"],
        due_on=row["due_on"].isoformat(),
        provisional=bool(row["due_on_provisional"]),
        noticed_on=today,
    )
    try:
        app.save(found)
    except IntegrityError:
        return False
    return True


async def watch_pass(app: ResultsApplication, pool: asyncpg.Pool) -> int:
    """One pass: notices for the subjects past their deadline (China's calendar day)."""
    today = today_in_china()
    rows = [dict(r) for r in await pool.fetch(OVERDUE, today, PASS_LIMIT)]
    done = 0
    for row in rows:
        done += await asyncio.to_thread(notice, app, row, today.isoformat())
    return done
