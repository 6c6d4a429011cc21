"""Results as disclosed (抽查结果公示), from the results service's task events: each
reviewed edition (``ResultPublished``), the follow-up's steps and the deadlines missed.

Only what a reviewed result made public is kept in ``results``; follow-up steps are kept
by task and shown only beside a published result; a missed deadline is listed until it is
made good. Plan and task numbers and the 检查机关's name are joined when read (the planner's
and the register's streams are consumed apart from this one).
"""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent
from services.disclosure.domain.national import normalise_name
from services.disclosure.domain.public import inspection_type, outcome_text, public_finding
from services.disclosure.name_search import DDL as NAME_DDL
from services.disclosure.name_search import index_name
from services.disclosure.projections.legacy_results import apply_legacy_result

DDL = [
    *(
        f"ALTER TABLE {{schema}}.results ADD COLUMN IF NOT EXISTS {column}"
        for column in (
            "batch_id text",
            "pending_kind text",
            "non_cooperation_case text",
            "decided_on date",
            "published_on date",
            "publication_due date",
            "publication_due_provisional boolean NOT NULL DEFAULT false",
            "late boolean NOT NULL DEFAULT false",
            "name_key text NOT NULL DEFAULT ''",
            "editions jsonb NOT NULL DEFAULT '[]'",
            # 更正: the day the latest correction was published (an export's period holds
            # the results published or corrected in it).
            "corrected_on date",
        )
    ),
    # Databases of before the column: filled once from the editions.
    """UPDATE {schema}.results SET corrected_on = (
         SELECT max((x->>'published_on')::date) FROM jsonb_array_elements(editions) x
          WHERE (x->>'edition')::int > 1)
       WHERE corrections > 0 AND corrected_on IS NULL AND jsonb_typeof(editions) = 'array'""",
    "CREATE INDEX IF NOT EXISTS results_corrected ON {schema}.results (corrected_on, record_id) "
    "WHERE corrected_on IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS results_department ON {schema}.results (department, record_id)",
    "CREATE INDEX IF NOT EXISTS results_plan ON {schema}.results (plan_id, record_id)",
    "CREATE INDEX IF NOT EXISTS results_published ON {schema}.results (published_on, record_id)",
    "CREATE INDEX IF NOT EXISTS results_late ON {schema}.results (record_id) WHERE late",
    *NAME_DDL,
    # 后续处置 steps by task (shown beside a published result only).
    """CREATE TABLE IF NOT EXISTS {schema}.follow_ups (
        task_id uuid NOT NULL, version int NOT NULL, step text NOT NULL, "on" date NOT NULL,
        receiving_department text, PRIMARY KEY (task_id, version))""",
    # Deadlines missed (逾期未公示, 责令改正逾期未复查), as the deadline watch noticed them.
    """CREATE TABLE IF NOT EXISTS {schema}.overdue (
        missed_id uuid PRIMARY KEY, task_id uuid NOT NULL, kind text NOT NULL,
        due_on date NOT NULL, noticed_on date NOT NULL, subject_identifier text NOT NULL,
        department text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS overdue_task ON {schema}.overdue (task_id)",
]
FOLLOW_UP_EVENTS = ("CorrectionOrdered", "Reinspected", "FollowUpClosed")


async def apply_results(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """The results stream: published editions, follow-up steps, missed deadlines (and the
    records of before tasks existed)."""
    if ev.name == "ResultPublished":
        await _published(conn, ev)
    elif ev.name in FOLLOW_UP_EVENTS:
        await _follow_up(conn, ev)
    elif ev.name == "DeadlineMissed":
        d = ev.data
        await conn.execute(
            """INSERT INTO disclosure.overdue (missed_id, task_id, kind, due_on, noticed_on,
               subject_identifier, department)
               VALUES ($1,$2,$3,$4::text::date,$5::text::date,$6,$7)
               ON CONFLICT (missed_id) DO NOTHING""",
            ev.subject,
            d["task_id"],
            d["kind"],
            d["due_on"],
            d["noticed_on"],
            d["subject_identifier"],
            d["department"],
        )
    else:
        await apply_legacy_result(conn, ev)


async def _follow_up(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    d = ev.data
    if ev.name == "CorrectionOrdered":
        step, on, receiving = "ordered", d["decided_on"], None
    elif ev.name == "Reinspected":
        step, on, receiving = "reinspected", d["reinspected_on"], None
    else:
        step, on = str(d["outcome"]), d["decided_on"]
        receiving = d.get("receiving_department") or None
    await conn.execute(
        """INSERT INTO disclosure.follow_ups (task_id, version, step, "on",
           receiving_department) VALUES ($1,$2,$3,$4::text::date,$5)
           ON CONFLICT (task_id, version) DO NOTHING""",
        ev.subject,
        ev.aggregate_version,
        step,
        on,
        receiving,
    )


async def _published(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """A reviewed result (检查任务, edition 1) or a reviewed correction (edition 2, …): only
    reviewed results reach the public; a later edition replaces the earlier one's values
    and is added to the editions shown."""
    d = ev.data
    directed = await conn.fetchval(
        """SELECT (b->>'directed')::boolean FROM disclosure.plans p,
           jsonb_array_elements(p.batches) b
           WHERE p.plan_id = $1 AND b->>'batch_id' = $2""",
        d["plan_id"],
        d["batch_id"],
    )
    findings = [public_finding({**i, "outcome": i["result"]}) for i in d["items"]]
    edition = int(d["edition"])
    entry = {
        "edition": edition,
        "published_on": d["published_on"],
        "outcome": d["category"],
        "outcome_text": outcome_text(d["category"]),
    }
    await conn.execute(
        """INSERT INTO disclosure.results (record_id, draw_id, plan_id, subject_identifier,
           subject_name, department, inspection_type, inspected_on, outcome, outcome_text,
           findings, corrections, disclosed_at, batch_id, pending_kind, non_cooperation_case,
           decided_on, published_on, publication_due, publication_due_provisional, late,
           name_key, editions)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8::text::date,$9,$10,$11,$12,$13,$14,$15,$16,
                   $17::text::date,$18::text::date,$19::text::date,$20,$21,$22,
                   jsonb_build_array($23::jsonb))
           ON CONFLICT (record_id) DO UPDATE SET outcome = EXCLUDED.outcome,
             outcome_text = EXCLUDED.outcome_text, findings = EXCLUDED.findings,
             inspected_on = EXCLUDED.inspected_on, corrections = EXCLUDED.corrections,
             pending_kind = EXCLUDED.pending_kind,
             non_cooperation_case = EXCLUDED.non_cooperation_case,
             decided_on = EXCLUDED.decided_on, corrected_on = EXCLUDED.published_on,
             editions = disclosure.results.editions || EXCLUDED.editions
           WHERE disclosure.results.corrections < EXCLUDED.corrections""",
        ev.subject,
        d["draw_id"],
        d["plan_id"],
        d["subject_identifier"],
        d["subject_name"],
        d["department"],
        inspection_type(bool(directed)),
        d["inspected_to"],
        d["category"],
        outcome_text(d["category"]),
        findings,
        edition - 1,
        ev.time,
        d["batch_id"],
        d.get("pending_kind"),
        d.get("non_cooperation_case"),
        d.get("decided_on"),
        d["published_on"],
        d["publication_due"],
        bool(d.get("publication_due_provisional")),
        bool(d.get("late")),
        normalise_name(d["subject_name"]),
        entry,
    )
    await index_name(conn, ev.subject, d["subject_name"])
