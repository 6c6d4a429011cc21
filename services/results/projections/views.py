"""Results read models: assignments from draws, and this service's own records."""

from __future__ import annotations

from datetime import date

import asyncpg

from libs.common.envelope import InboundEvent
from services.results.domain.deadlines import result_due_on

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.assignments (
        draw_id uuid NOT NULL, subject_id uuid NOT NULL, batch_id text NOT NULL,
        plan_id uuid NOT NULL, identifier text NOT NULL, name text NOT NULL,
        initiating_department text NOT NULL, items jsonb NOT NULL, inspectors jsonb NOT NULL,
        ends_on date NOT NULL, due_on date NOT NULL,
        due_on_provisional boolean NOT NULL, PRIMARY KEY (draw_id, subject_id))""",
    """CREATE TABLE IF NOT EXISTS {schema}.records (
        record_id uuid PRIMARY KEY, draw_id uuid NOT NULL, subject_id uuid NOT NULL,
        subject_identifier text NOT NULL, subject_name text NOT NULL,
        inspected_on date NOT NULL, outcome text NOT NULL, findings jsonb NOT NULL,
        due_on date NOT NULL, late boolean NOT NULL, corrections int NOT NULL DEFAULT 0,
        recorded_at timestamptz NOT NULL, version int NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS records_draw ON {schema}.records (draw_id)",
]


async def apply_draw(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Each drawn subject becomes an assignment with its group and result deadline."""
    if ev.name != "DrawExecuted":
        return
    d = ev.data
    ends_on = date.fromisoformat(d["ends_on"])
    deadline = result_due_on(ends_on)
    groups = {g["subject_id"]: g["inspectors"] for g in d["groups"]}
    await conn.executemany(
        """INSERT INTO results.assignments (draw_id, subject_id, batch_id, plan_id, identifier,
           name, initiating_department, items, inspectors, ends_on, due_on, due_on_provisional)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING""",
        [
            (
                ev.subject,
                s["subject_id"],
                d["batch_id"],
                d["plan_id"],
                s["identifier"],
                s["name"],
                d["initiating_department"],
                d["items"],
                groups[s["subject_id"]],
                ends_on,
                deadline.due_on,
                deadline.provisional,
            )
            for s in d["selection"]
        ],
    )


async def apply_own(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Records as they stand, for listing."""
    d = ev.data
    if ev.name == "ResultRecorded":
        await conn.execute(
            """INSERT INTO results.records (record_id, draw_id, subject_id, subject_identifier,
               subject_name, inspected_on, outcome, findings, due_on, late, recorded_at,
               version) VALUES ($1,$2,$3,$4,$5,$6::text::date,$7,$8,$9::text::date,$10,$11,$12)
               ON CONFLICT (record_id) DO NOTHING""",
            ev.subject,
            d["draw_id"],
            d["subject_id"],
            d["subject_identifier"],
            d["subject_name"],
            d["inspected_on"],
            d["outcome"],
            d["findings"],
            d["due_on"],
            d["late"],
            ev.time,
            ev.aggregate_version,
        )
    elif ev.name == "ResultCorrected":
        await conn.execute(
            """UPDATE results.records SET outcome = $2, findings = $3,
               corrections = corrections + 1, version = $4 WHERE record_id = $1""",
            ev.subject,
            d["outcome"],
            d["findings"],
            ev.aggregate_version,
        )
