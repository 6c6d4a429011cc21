"""Results read models: assignments from the draw service's events, and this service's own
records (built from its own stream, like any other consumer would)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import asyncpg

from libs.common.envelope import InboundEvent
from services.results.domain.calendar import FIRST_YEAR, LAST_YEAR
from services.results.domain.deadlines import result_deadline
from services.results.projections.calendars import calendar
from services.results.projections.tasks import DDL as TASKS_DDL
from services.results.projections.tasks import apply_missed, apply_task

log = logging.getLogger(__name__)

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.assignments (
        draw_id uuid NOT NULL, subject_id uuid NOT NULL, batch_id text NOT NULL,
        plan_id uuid NOT NULL, identifier text NOT NULL, name text NOT NULL,
        region_code text NOT NULL, risk_class text NOT NULL,
        initiating_department text NOT NULL, items jsonb NOT NULL, inspectors jsonb NOT NULL,
        ends_on date NOT NULL, due_on date, due_on_unknown text, record_id uuid,
        PRIMARY KEY (draw_id, subject_id))""",
    "CREATE INDEX IF NOT EXISTS assignments_due ON {schema}.assignments (due_on)",
    # 递补: a subject replaced after the draw keeps its row, pointing to its replacement.
    "ALTER TABLE {schema}.assignments ADD COLUMN IF NOT EXISTS replaced_by uuid",
    """CREATE TABLE IF NOT EXISTS {schema}.records (
        record_id uuid PRIMARY KEY, draw_id uuid NOT NULL, batch_id text NOT NULL,
        plan_id uuid NOT NULL, subject_id uuid NOT NULL, subject_identifier text NOT NULL,
        subject_name text NOT NULL, inspected_on date NOT NULL, outcome text NOT NULL,
        findings jsonb NOT NULL, due_on date, late boolean NOT NULL,
        recorded_by_department text NOT NULL, corrections int NOT NULL DEFAULT 0,
        recorded_at timestamptz NOT NULL, version int NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS records_draw ON {schema}.records (draw_id)",
    # A deadline counted over a year nobody has published yet (weekdays): counted again when
    # the office loads the year (CalendarYearLoaded / CalendarYearReplaced).
    "ALTER TABLE {schema}.assignments ADD COLUMN IF NOT EXISTS due_on_provisional boolean "
    "NOT NULL DEFAULT false",
    # 逾期: the day the deadline watch noticed the result missing (ResultOverdue).
    "ALTER TABLE {schema}.assignments ADD COLUMN IF NOT EXISTS overdue_on date",
    """CREATE TABLE IF NOT EXISTS {schema}.calendar_years (
        year int PRIMARY KEY, holidays jsonb NOT NULL, workdays jsonb NOT NULL,
        loaded_at timestamptz NOT NULL)""",
    *TASKS_DDL,
]
TASK_EVENTS = frozenset(
    {
        "TaskDispatched",
        "DeadlinesRecounted",
        "InspectionRecorded",
        "EvidenceAttached",
        "ResultSubmitted",
        "ResultReturned",
        "ResultApproved",
        "ResultPublished",
        "CorrectionSubmitted",
        "CorrectionReturned",
        "CorrectionApproved",
        "CorrectionOrdered",
        "Reinspected",
        "FollowUpClosed",
        "TaskWithdrawn",
    }
)


async def _assign(
    conn: asyncpg.Connection, ev: InboundEvent, subjects: list[dict[str, Any]]
) -> None:
    d = ev.data
    ends_on = date.fromisoformat(d["ends_on"])
    deadline = result_deadline(ends_on, await calendar(conn))
    await conn.executemany(
        """INSERT INTO results.assignments (draw_id, subject_id, batch_id, plan_id, identifier,
           name, region_code, risk_class, initiating_department, items, inspectors, ends_on,
           due_on, due_on_provisional)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT DO NOTHING""",
        [
            (
                ev.subject,
                s["subject_id"],
                d["batch_id"],
                d["plan_id"],
                s["identifier"],
                s["name"],
                s.get("region_code", ""),
                s.get("risk_class", ""),
                d["initiating_department"],
                d["items"],
                s["inspectors"],
                ends_on,
                deadline.due_on,
                deadline.provisional,
            )
            for s in subjects
        ],
    )


async def apply_draw(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Each drawn subject (``SubjectsDrawn``, in parts) becomes an assignment with its group
    and the deadline of 20 working days after the batch ends; replacements (递补) change the
    group, or retire the assignment and add the replacement subject's."""
    d = ev.data
    if ev.name == "SubjectsDrawn":
        await _assign(conn, ev, d["subjects"])
    elif ev.name == "InspectorReplaced":
        await conn.execute(
            """UPDATE results.assignments SET inspectors = (
                 SELECT jsonb_agg(CASE WHEN m->>'inspector_id' = $3 THEN $4::jsonb ELSE m END)
                 FROM jsonb_array_elements(inspectors) AS m)
               WHERE draw_id = $1 AND subject_id = $2""",
            ev.subject,
            d["subject_id"],
            d["replaced"],
            d["replacement"],
        )
    elif ev.name == "SubjectReplaced":
        await conn.execute(
            "UPDATE results.assignments SET replaced_by = $3 "
            "WHERE draw_id = $1 AND subject_id = $2",
            ev.subject,
            d["replaced"]["subject_id"],
            d["replacement"]["subject_id"],
        )
        await _assign(conn, ev, [d["replacement"]])


async def apply_calendar(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """A year loaded (again): kept, and every assignment whose deadline was counted over it
    (or provisionally) counted again on the new calendar."""
    d = ev.data
    year = int(d["year"])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        # Recorded before the command checked the year (ssj calendar load took any): no
        # calendar counts with it, and its dates would stop this projection for good.
        log.warning("calendar year %s passed over: not from %s to %s", year, FIRST_YEAR, LAST_YEAR)
        return
    await conn.execute(
        """INSERT INTO results.calendar_years (year, holidays, workdays, loaded_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT (year) DO UPDATE
           SET holidays = EXCLUDED.holidays, workdays = EXCLUDED.workdays,
               loaded_at = EXCLUDED.loaded_at""",
        year,
        d["holidays"],
        d["workdays"],
        ev.time,
    )
    now = await calendar(conn)
    rows = await conn.fetch(
        """SELECT DISTINCT ends_on FROM results.assignments
           WHERE ends_on <= make_date($1, 12, 31)
             AND (due_on_provisional OR due_on IS NULL OR due_on >= make_date($1, 1, 1))""",
        year,
    )
    for row in rows:
        deadline = result_deadline(row["ends_on"], now)
        await conn.execute(
            """UPDATE results.assignments SET due_on = $2, due_on_provisional = $3,
               due_on_unknown = NULL WHERE ends_on = $1""",
            row["ends_on"],
            deadline.due_on,
            deadline.provisional,
        )


async def apply_own(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Records as they stand (latest values, number of corrections); the calendar."""
    d = ev.data
    if ev.name in TASK_EVENTS:
        await apply_task(conn, ev)
    elif ev.name == "DeadlineMissed":
        await apply_missed(conn, ev)
    elif ev.name.startswith("CalendarYear"):
        await apply_calendar(conn, ev)
    elif ev.name == "ResultOverdue":
        await conn.execute(
            """UPDATE results.assignments SET overdue_on = $3::text::date
               WHERE draw_id = $1::text::uuid AND subject_id = $2::text::uuid""",
            d["draw_id"],
            d["subject_id"],
            d["noticed_on"],
        )
    elif ev.name == "ResultRecorded":
        await conn.execute(
            """INSERT INTO results.records (record_id, draw_id, batch_id, plan_id, subject_id,
               subject_identifier, subject_name, inspected_on, outcome, findings, due_on, late,
               recorded_by_department, recorded_at, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8::text::date,$9,$10,$11::text::date,$12,$13,$14,
               $15) ON CONFLICT (record_id) DO NOTHING""",
            ev.subject,
            d["draw_id"],
            d["batch_id"],
            d["plan_id"],
            d["subject_id"],
            d["subject_identifier"],
            d["subject_name"],
            d["inspected_on"],
            d["outcome"],
            d["findings"],
            d["due_on"],
            d["late"],
            d["recorded_by_department"],
            ev.time,
            ev.aggregate_version,
        )
        await conn.execute(
            """UPDATE results.assignments SET record_id = $3
               WHERE draw_id = $1 AND subject_id = $2""",
            d["draw_id"],
            d["subject_id"],
            ev.subject,
        )
    elif ev.name == "ResultCorrected":
        await conn.execute(
            """UPDATE results.records SET outcome = $2, findings = $3,
               corrections = corrections + 1, version = $4
               WHERE record_id = $1 AND version < $4""",
            ev.subject,
            d["outcome"],
            d["findings"],
            ev.aggregate_version,
        )
