"""Read models of inspection tasks (检查任务) from the service's own stream, and the item
list's check forms and methods from the registry's (copied into a task when dispatched)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from libs.common.envelope import InboundEvent
from services.results.domain.categories import PROBLEM_CATEGORIES
from services.results.domain.publication import PUBLICATION_WORKING_DAYS
from services.results.projections.calendars import calendar

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items (
        item_id uuid PRIMARY KEY, code text NOT NULL UNIQUE, name text NOT NULL,
        methods jsonb NOT NULL,
        sub_items jsonb NOT NULL, check_form jsonb NOT NULL, version int NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.tasks (
        task_id uuid PRIMARY KEY, draw_id uuid NOT NULL, subject_id uuid NOT NULL,
        batch_id text NOT NULL, plan_id uuid NOT NULL, subject_identifier text NOT NULL,
        subject_name text NOT NULL, implementing_department text NOT NULL,
        initiating_department text NOT NULL, inspectors jsonb NOT NULL, state text NOT NULL,
        ends_on date NOT NULL, due_on date, dispatched_on date NOT NULL,
        category text, inspected_to date, submitted_on date, late boolean NOT NULL DEFAULT false,
        returns int NOT NULL DEFAULT 0, reviewed_on date, published_on date,
        publication_due date, published_late boolean, edition int NOT NULL DEFAULT 0,
        correction_pending boolean NOT NULL DEFAULT false, files int NOT NULL DEFAULT 0,
        follow_up text NOT NULL DEFAULT 'none', decided_on date, follow_up_deadline date,
        follow_up_outcome text, publication_overdue_on date, follow_up_overdue_on date,
        version int NOT NULL, updated_at timestamptz NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS tasks_draw ON {schema}.tasks (draw_id)",
    "CREATE INDEX IF NOT EXISTS tasks_state ON {schema}.tasks (state, implementing_department)",
    "CREATE INDEX IF NOT EXISTS tasks_subject ON {schema}.tasks (subject_identifier)",
    "ALTER TABLE {schema}.assignments ADD COLUMN IF NOT EXISTS task_id uuid",
    "CREATE INDEX IF NOT EXISTS assignments_undispatched ON {schema}.assignments (draw_id) "
    "WHERE task_id IS NULL",
    # Every task command reads its assignment (the group as the draw has it now) by task.
    "CREATE INDEX IF NOT EXISTS assignments_task ON {schema}.assignments (task_id)",
    # The dispatcher looks for replaced subjects every pass: few rows, found at once.
    "CREATE INDEX IF NOT EXISTS assignments_replaced ON {schema}.assignments (task_id) "
    "WHERE replaced_by IS NOT NULL",
]
_ITEM_FIELDS = ("name", "methods", "sub_items", "check_form")
# The events after which the publication deadline may be known.
_DUE_EVENTS = frozenset({"ResultSubmitted", "CorrectionOrdered", "FollowUpClosed"})


async def apply_items(conn: asyncpg.Connection, events: list[InboundEvent]) -> None:
    """The item list's forms and methods (the registry stream is mostly subjects: a batch
    at a time, nearly all passed over)."""
    for ev in events:
        d = ev.data
        if ev.name == "ItemRegistered":
            await conn.execute(
                """INSERT INTO results.items (item_id, code, name, methods, sub_items,
                   check_form, version) VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (item_id) DO NOTHING""",
                ev.subject,
                d["code"],
                d["name"],
                d["methods"],
                d.get("sub_items") or [],
                d.get("check_form") or [],
                ev.aggregate_version,
            )
        elif ev.name == "ItemChanged":
            changes = {k: v for k, v in d["changes"].items() if k in _ITEM_FIELDS}
            if changes:
                sets = "".join(f", {k} = ${n}" for n, k in enumerate(changes, start=3))
                await conn.execute(
                    f"UPDATE results.items SET version = $2{sets} "
                    "WHERE item_id = $1 AND version < $2",
                    ev.subject,
                    ev.aggregate_version,
                    *changes.values(),
                )


async def apply_task(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """A task as it stands, for lists, the deadline watch and statistics."""
    d, task = ev.data, ev.subject
    version = ev.aggregate_version
    if ev.name == "TaskDispatched":
        await conn.execute(
            """INSERT INTO results.tasks (task_id, draw_id, subject_id, batch_id, plan_id,
               subject_identifier, subject_name, implementing_department, initiating_department,
               inspectors, state, ends_on, due_on, dispatched_on, version, updated_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'dispatched',$11::text::date,
               $12::text::date,$13::text::date,$14,$15) ON CONFLICT (task_id) DO NOTHING""",
            task,
            d["draw_id"],
            d["subject_id"],
            d["batch_id"],
            d["plan_id"],
            d["subject_identifier"],
            d["subject_name"],
            d["implementing_department"],
            d["initiating_department"],
            d["group"],
            d["ends_on"],
            d["due_on"],
            d["dispatched_on"],
            version,
            ev.time,
        )
        await conn.execute(
            "UPDATE results.assignments SET task_id = $3 WHERE draw_id = $1 AND subject_id = $2",
            d["draw_id"],
            d["subject_id"],
            task,
        )
        return
    if ev.name == "ResultSubmitted":
        # 录入: the result is on record (the entry deadline of 002 is met or missed).
        await conn.execute(
            "UPDATE results.assignments SET record_id = $3 WHERE draw_id = $1 AND subject_id = $2",
            d["draw_id"],
            d["subject_id"],
            task,
        )
    changes = _changes(ev.name, d)
    sets = "".join(
        f", {column} = {expr.format(p=f'${n}')}"
        for n, (column, expr, _) in enumerate(changes, start=4)
    )
    statement = (
        f"UPDATE results.tasks SET version = $2, updated_at = $3{sets} "
        "WHERE task_id = $1 AND version < $2"
    )
    values = (task, version, ev.time, *(value for _, _, value in changes))
    if ev.name not in _DUE_EVENTS:
        await conn.execute(statement, *values)
        return
    # The row as it now stands comes back with the change (one round trip, not two).
    row = await conn.fetchrow(
        f"{statement} RETURNING category, inspected_to, decided_on, publication_due", *values
    )
    if row is not None:  # None: applied before, with its deadline
        await _publication_due(conn, task, row)


async def _publication_due(conn: asyncpg.Connection, task: Any, row: asyncpg.Record) -> None:
    """公示期限 as soon as it is known (the watch reads it): 20 working days from the
    inspection's end, or for a result with problems from the handling decision."""
    if row["publication_due"] is not None or row["category"] is None:
        return
    start = row["decided_on"] if row["category"] in PROBLEM_CATEGORIES else row["inspected_to"]
    if start is None:
        return
    due = (await calendar(conn)).add_working_days(start, PUBLICATION_WORKING_DAYS)
    await conn.execute(
        "UPDATE results.tasks SET publication_due = $2 WHERE task_id = $1", task, due.due_on
    )


async def apply_missed(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """逾期 noticed by the watch: the day, on the task."""
    d = ev.data
    column = "publication_overdue_on" if d["kind"] == "publication" else "follow_up_overdue_on"
    await conn.execute(
        f"UPDATE results.tasks SET {column} = $2 WHERE task_id = $1::text::uuid",
        d["task_id"],
        _day(d["noticed_on"]),
    )


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _set(column: str, value: Any) -> tuple[str, str, Any]:
    return column, "{p}", value


def _changes(name: str, d: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(column, SQL expression of the parameter ``{p}``, value) an event changes."""
    if name == "InspectionRecorded":
        r = d["report"]
        # A result recorded again may change its category and dates: its publication
        # deadline is counted again when it is submitted or decided.
        return [
            _set("state", "inspected"),
            _set("category", r["category"]),
            _set("inspected_to", _day(r["inspected_to"])),
            ("publication_due", "{p}::date", None),
        ]
    if name == "EvidenceAttached":
        return [("files", "files + {p}", 1)]
    if name == "ResultSubmitted":
        return [
            _set("state", "submitted"),
            _set("submitted_on", _day(d["submitted_on"])),
            _set("late", d["late"]),
        ]
    if name == "ResultReturned":
        return [_set("state", "returned"), ("returns", "returns + {p}", 1)]
    if name in ("ResultApproved", "CorrectionApproved"):
        return [
            _set("state", "reviewed"),
            _set("reviewed_on", _day(d["reviewed_on"])),
            _set("correction_pending", False),
        ]
    if name == "ResultPublished":
        return [
            _set("state", "published"),
            _set("published_on", _day(d["published_on"])),
            _set("publication_due", _day(d["publication_due"])),
            _set("published_late", d["late"]),
            _set("edition", d["edition"]),
            _set("category", d["category"]),
        ]
    if name in ("CorrectionSubmitted", "CorrectionReturned"):
        return [_set("correction_pending", name == "CorrectionSubmitted")]
    if name == "CorrectionOrdered":
        return [
            _set("follow_up", "ordered"),
            _set("follow_up_deadline", _day(d["deadline"])),
            ("decided_on", "coalesce(decided_on, {p})", _day(d["decided_on"])),
        ]
    if name == "DeadlinesRecounted":
        changes = [_set("due_on", _day(d["due_on"]))]
        if d.get("publication_due") is not None:
            changes.append(_set("publication_due", _day(d["publication_due"])))
        return changes
    if name == "TaskWithdrawn":
        return [_set("state", "withdrawn")]
    if name == "Reinspected":
        return [_set("follow_up", "reinspected")]
    if name == "FollowUpClosed":
        return [
            _set("follow_up", "closed"),
            _set("follow_up_outcome", d["outcome"]),
            ("decided_on", "coalesce(decided_on, {p})", _day(d["decided_on"])),
        ]
    return []
