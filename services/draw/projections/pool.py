"""The draw service's own copy of what it needs from the registry, the planner and the
results service, and of its own past draws.

Subjects and inspectors come from registry events, batches from planner events, recorded
inspections from results events, earlier selections and groups from the draw's own
events; the draw never reads another service's tables.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from libs.common.envelope import InboundEvent

_SUBJECT_FIELDS = ("name", "kind", "region_code", "industry", "tags", "supervising_unit")
_INSPECTOR_FIELDS = ("name", "region_code", "categories", "unit", "department")

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.pool_subjects (
        subject_id uuid PRIMARY KEY, identifier text NOT NULL, name text NOT NULL,
        kind text NOT NULL, region_code text NOT NULL, industry text NOT NULL,
        risk_class text NOT NULL, status text NOT NULL)""",
    "ALTER TABLE {schema}.pool_subjects ADD COLUMN IF NOT EXISTS tags jsonb NOT NULL DEFAULT '[]'",
    "ALTER TABLE {schema}.pool_subjects ADD COLUMN IF NOT EXISTS supervising_unit text NOT NULL "
    "DEFAULT ''",
    "ALTER TABLE {schema}.pool_subjects ADD COLUMN IF NOT EXISTS abnormal_operation boolean "
    "NOT NULL DEFAULT false",
    "ALTER TABLE {schema}.pool_subjects ADD COLUMN IF NOT EXISTS serious_violation boolean "
    "NOT NULL DEFAULT false",
    "ALTER TABLE {schema}.pool_subjects ADD COLUMN IF NOT EXISTS status_changed_at timestamptz",
    "CREATE INDEX IF NOT EXISTS pool_subjects_region ON {schema}.pool_subjects (region_code)",
    "CREATE UNIQUE INDEX IF NOT EXISTS pool_subjects_identifier "
    "ON {schema}.pool_subjects (identifier)",
    # The pool in canonical order with every column a frozen line needs (see freeze.py):
    # freezing reads it as an index-only scan instead of sorting a million rows.
    "CREATE INDEX IF NOT EXISTS pool_subjects_canonical "
    'ON {schema}.pool_subjects (identifier COLLATE "C") '
    "INCLUDE (subject_id, status, risk_class, region_code, supervising_unit, kind, industry, "
    "abnormal_operation, serious_violation)",
    """CREATE TABLE IF NOT EXISTS {schema}.pool_inspectors (
        inspector_id uuid PRIMARY KEY, name text NOT NULL, department text NOT NULL,
        region_code text NOT NULL, categories jsonb NOT NULL, status text NOT NULL)""",
    "ALTER TABLE {schema}.pool_inspectors ADD COLUMN IF NOT EXISTS unit text NOT NULL DEFAULT ''",
    """CREATE TABLE IF NOT EXISTS {schema}.conflicts (
        inspector_id uuid NOT NULL, subject_id uuid NOT NULL, active boolean NOT NULL,
        PRIMARY KEY (inspector_id, subject_id))""",
    """CREATE TABLE IF NOT EXISTS {schema}.batches (
        batch_id text PRIMARY KEY, plan_id uuid NOT NULL, year int NOT NULL,
        name text NOT NULL, initiating_department text NOT NULL,
        participating_departments jsonb NOT NULL, items jsonb NOT NULL, pool jsonb NOT NULL,
        ratios jsonb NOT NULL, directed boolean NOT NULL, starts_on date NOT NULL,
        ends_on date NOT NULL, published boolean NOT NULL DEFAULT false)""",
    "ALTER TABLE {schema}.batches ADD COLUMN IF NOT EXISTS spec jsonb NOT NULL DEFAULT '{{}}'",
    # 同一年度同一事项已查: (subject, general item, year) drawn by an earlier draw.
    """CREATE TABLE IF NOT EXISTS {schema}.inspected (
        subject_id uuid NOT NULL, item_code text NOT NULL, year int NOT NULL,
        draw_id uuid NOT NULL, PRIMARY KEY (subject_id, item_code, year))""",
    # Who inspected each subject last time (the latest draw's group, after replacements).
    """CREATE TABLE IF NOT EXISTS {schema}.last_group (
        subject_id uuid PRIMARY KEY, draw_id uuid NOT NULL, inspector_ids jsonb NOT NULL,
        drawn_at timestamptz NOT NULL)""",
    # Registry facts a v3 replacement (递补) names as its evidence: the registry event that
    # recorded a subject's status, an inspector's status, a conflict, and when.
    "ALTER TABLE {schema}.pool_subjects ADD COLUMN IF NOT EXISTS status_event text",
    "ALTER TABLE {schema}.pool_inspectors ADD COLUMN IF NOT EXISTS status_changed_at timestamptz",
    "ALTER TABLE {schema}.pool_inspectors ADD COLUMN IF NOT EXISTS status_event text",
    "ALTER TABLE {schema}.conflicts ADD COLUMN IF NOT EXISTS changed_at timestamptz",
    "ALTER TABLE {schema}.conflicts ADD COLUMN IF NOT EXISTS event text",
    # Draws announced and neither executed nor voided yet: a new announcement names those
    # whose pools overlap its own (ssj-draw-3, pool_spec.overlaps).
    """CREATE TABLE IF NOT EXISTS {schema}.open_draws (
        draw_id uuid PRIMARY KEY, pool_hash text NOT NULL, announced_at timestamptz NOT NULL)""",
    # Every (source, issue, draw time) an announcement named (ssj-draw-3): issues and times
    # of one source must rise together, one time per issue.
    """CREATE TABLE IF NOT EXISTS {schema}.source_issues (
        source text NOT NULL, issue text NOT NULL, scheduled_at timestamptz NOT NULL,
        draw_id uuid NOT NULL, PRIMARY KEY (source, issue, draw_id))""",
    # Drawn subjects whose inspection result is on record: no longer replaceable (递补).
    """CREATE TABLE IF NOT EXISTS {schema}.results_recorded (
        draw_id uuid NOT NULL, subject_id uuid NOT NULL, recorded_at timestamptz NOT NULL,
        PRIMARY KEY (draw_id, subject_id))""",
]


def _set_clause(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))


async def apply_registry(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Subjects and inspectors, as the pool and the roster need them."""
    d = ev.data
    if ev.name == "SubjectRegistered":
        await conn.execute(
            """INSERT INTO draw.pool_subjects (subject_id, identifier, name, kind, region_code,
               industry, risk_class, status, tags, supervising_unit, abnormal_operation,
               serious_violation) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
               ON CONFLICT (subject_id) DO NOTHING""",
            ev.subject,
            d["identifier"],
            d["name"],
            d["kind"],
            d["region_code"],
            d["industry"],
            d["risk_class"],
            d["status"],
            list(d.get("tags") or []),
            d.get("supervising_unit") or "",
            bool(d.get("abnormal_operation", False)),
            bool(d.get("serious_violation", False)),
        )
    elif ev.name == "SubjectChanged":
        changes = {k: v for k, v in d["changes"].items() if k in _SUBJECT_FIELDS}
        if changes:
            await conn.execute(
                f"UPDATE draw.pool_subjects SET {_set_clause(changes)} WHERE subject_id = $1",
                ev.subject,
                *changes.values(),
            )
    elif ev.name == "SubjectStatusChanged":
        await conn.execute(
            "UPDATE draw.pool_subjects SET status = $2, status_changed_at = $3, "
            "status_event = $4 WHERE subject_id = $1",
            ev.subject,
            d["status"],
            ev.time,
            ev.id,
        )
    elif ev.name == "RiskClassChanged":
        await conn.execute(
            "UPDATE draw.pool_subjects SET risk_class = $2 WHERE subject_id = $1",
            ev.subject,
            d["risk_class"],
        )
    elif ev.name == "SubjectListingChanged" and d["list_name"] in (
        "abnormal_operation",
        "serious_violation",
    ):
        await conn.execute(
            f"UPDATE draw.pool_subjects SET {d['list_name']} = $2 WHERE subject_id = $1",
            ev.subject,
            bool(d["listed"]),
        )
    elif ev.name == "InspectorRegistered":
        await conn.execute(
            """INSERT INTO draw.pool_inspectors (inspector_id, name, department, region_code,
               categories, status, unit) VALUES ($1,$2,$3,$4,$5,$6,$7)
               ON CONFLICT (inspector_id) DO NOTHING""",
            ev.subject,
            d["name"],
            d["department"],
            d["region_code"],
            d["categories"],
            d["status"],
            d.get("unit") or "",
        )
    elif ev.name == "InspectorChanged":
        changes = {k: v for k, v in d["changes"].items() if k in _INSPECTOR_FIELDS}
        if changes:
            await conn.execute(
                f"UPDATE draw.pool_inspectors SET {_set_clause(changes)} WHERE inspector_id = $1",
                ev.subject,
                *changes.values(),
            )
    elif ev.name == "InspectorStatusChanged":
        await conn.execute(
            "UPDATE draw.pool_inspectors SET status = $2, status_changed_at = $3, "
            "status_event = $4 WHERE inspector_id = $1",
            ev.subject,
            d["status"],
            ev.time,
            ev.id,
        )
    elif ev.name in ("ConflictDeclared", "ConflictLifted"):
        await conn.execute(
            """INSERT INTO draw.conflicts (inspector_id, subject_id, active, changed_at, event)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (inspector_id, subject_id)
               DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at,
                             event = EXCLUDED.event""",
            d["inspector_id"],
            d["subject_id"],
            ev.name == "ConflictDeclared",
            ev.time,
            ev.id,
        )


async def apply_planner(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Batches of plans; drawable once the plan is published. ``spec`` keeps the whole
    batch as the planner described it (filters, strata, rules)."""
    d = ev.data
    if ev.name in ("PlanCreated", "PlanAdjusted"):
        # An adjustment (调整) carries every batch of the new edition: new ones are drawable
        # at once (the plan is published); changed ones take their new terms (the planner
        # lets a drawn batch change only its end date); removed ones are drawable no more.
        adjusted = ev.name == "PlanAdjusted"
        for batch in d["batches"]:
            await conn.execute(
                """INSERT INTO draw.batches (batch_id, plan_id, year, name,
                   initiating_department, participating_departments, items, pool, ratios,
                   directed, starts_on, ends_on, spec, published)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::text::date,$12::text::date,$13,
                           $14)
                   ON CONFLICT (batch_id) DO UPDATE SET name = EXCLUDED.name,
                     participating_departments = EXCLUDED.participating_departments,
                     items = EXCLUDED.items, pool = EXCLUDED.pool, ratios = EXCLUDED.ratios,
                     directed = EXCLUDED.directed, starts_on = EXCLUDED.starts_on,
                     ends_on = EXCLUDED.ends_on, spec = EXCLUDED.spec, published = true
                   WHERE $14""",
                batch["batch_id"],
                ev.subject,
                d.get("year") or await _plan_year(conn, ev.subject),
                batch["name"],
                d.get("initiating_department") or await _initiating(conn, ev.subject),
                d["participating_departments"],
                d["items"],
                batch["pool"],
                batch["ratios"],
                batch["directed"],
                batch["starts_on"],
                batch["ends_on"],
                batch,
                adjusted,
            )
        if adjusted:
            await conn.execute(
                "UPDATE draw.batches SET published = false WHERE plan_id = $1 "
                "AND NOT (batch_id = ANY ($2::text[]))",
                ev.subject,
                [b["batch_id"] for b in d["batches"]],
            )
    elif ev.name == "PlanPublished":
        await conn.execute(
            "UPDATE draw.batches SET published = true WHERE plan_id = $1", ev.subject
        )


async def _plan_year(conn: asyncpg.Connection, plan_id: str) -> int:
    return int(await conn.fetchval("SELECT year FROM draw.batches WHERE plan_id = $1", plan_id))


async def _initiating(conn: asyncpg.Connection, plan_id: str) -> str:
    return str(
        await conn.fetchval(
            "SELECT initiating_department FROM draw.batches WHERE plan_id = $1", plan_id
        )
    )


async def _remember(
    conn: asyncpg.Connection, ev: InboundEvent, subjects: list[dict[str, Any]]
) -> None:
    general = [i["code"] for i in ev.data["items"] if i.get("category") == "general"]
    await conn.executemany(
        """INSERT INTO draw.inspected (subject_id, item_code, year, draw_id)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        [
            (s["subject_id"], code, ev.data["year"], ev.subject)
            for s in subjects
            for code in general
        ],
    )
    await conn.executemany(
        """INSERT INTO draw.last_group (subject_id, draw_id, inspector_ids, drawn_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id) DO UPDATE
           SET draw_id = EXCLUDED.draw_id, inspector_ids = EXCLUDED.inspector_ids,
               drawn_at = EXCLUDED.drawn_at WHERE draw.last_group.drawn_at <= EXCLUDED.drawn_at""",
        [
            (s["subject_id"], ev.subject, [m["inspector_id"] for m in s["inspectors"]], ev.time)
            for s in subjects
        ],
    )


async def apply_own(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Earlier draws: which are still open, which subjects were drawn for which general
    item this year, and who inspected each subject last (replacements included)."""
    d = ev.data
    if ev.name == "DrawAnnounced":
        spec = d["summary"].get("entropy")
        if isinstance(spec, dict):
            await conn.execute(
                """INSERT INTO draw.source_issues (source, issue, scheduled_at, draw_id)
                   VALUES ($1, $2, $3::text::timestamptz, $4) ON CONFLICT DO NOTHING""",
                spec["source"],
                spec["issue"],
                spec["scheduled_at"],
                ev.subject,
            )
        await conn.execute(
            """INSERT INTO draw.open_draws (draw_id, pool_hash, announced_at)
               VALUES ($1, $2, $3::text::timestamptz) ON CONFLICT (draw_id) DO NOTHING""",
            ev.subject,
            d.get("pool_hash") or d["summary"]["pool_hash"],  # in the summary before v3
            d["summary"]["announced_at"],
        )
    elif ev.name in ("DrawExecuted", "DrawVoided"):
        await conn.execute("DELETE FROM draw.open_draws WHERE draw_id = $1", ev.subject)
    elif ev.name == "SubjectsDrawn":
        await _remember(conn, ev, d["subjects"])
    elif ev.name == "SubjectReplaced":
        # The subject replaced out is not inspected by this draw: it no longer counts as
        # drawn this year, nor as inspected by this draw's group.
        replaced_id = d["replaced"]["subject_id"]
        await conn.execute(
            "DELETE FROM draw.inspected WHERE subject_id = $1 AND draw_id = $2",
            replaced_id,
            ev.subject,
        )
        await conn.execute(
            "DELETE FROM draw.last_group WHERE subject_id = $1 AND draw_id = $2",
            replaced_id,
            ev.subject,
        )
        await _remember(conn, ev, [d["replacement"]])
    elif ev.name == "InspectorReplaced":
        await conn.execute(
            """UPDATE draw.last_group SET inspector_ids = (
                 SELECT coalesce(jsonb_agg(CASE WHEN x = $3 THEN $4 ELSE x END), '[]')
                 FROM jsonb_array_elements_text(inspector_ids) AS x)
               WHERE subject_id = $1 AND draw_id = $2""",
            d["subject_id"],
            ev.subject,
            d["replaced"],
            d["replacement"]["inspector_id"],
        )


async def apply_results(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Inspections on record: their subjects and groups can no longer be replaced."""
    if ev.name in ("ResultRecorded", "ResultSubmitted"):  # submitted: on record
        await conn.execute(
            """INSERT INTO draw.results_recorded (draw_id, subject_id, recorded_at)
               VALUES ($1, $2, coalesce($3, now())) ON CONFLICT DO NOTHING""",
            ev.data["draw_id"],
            ev.data["subject_id"],
            ev.time,
        )
