"""Results recorded before inspection tasks existed (``ResultRecorded``,
``ResultCorrected`` of the retired ``POST /v1/results``): still applied, so a rebuild shows
them as before."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent
from services.disclosure.domain.national import normalise_name
from services.disclosure.domain.public import inspection_type, outcome_text, public_finding
from services.disclosure.name_search import index_name


async def apply_legacy_result(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Results recorded before inspection tasks (ResultRecorded, ResultCorrected), in the
    national disclosure system's terms; findings keep their item and result code, never the
    inspector's note. The department disclosed is the draw's (the initiating department of
    its batch), never the recorder's token's."""
    d = ev.data
    if ev.name == "ResultRecorded":
        department = d.get("inspecting_department") or await conn.fetchval(
            # Results recorded before the event carried it: the draw's own department.
            "SELECT initiating_department FROM disclosure.public_draws WHERE draw_id = $1",
            d["draw_id"],
        )
        directed = await conn.fetchval(
            """SELECT (b->>'directed')::boolean FROM disclosure.plans p,
               jsonb_array_elements(p.batches) b
               WHERE p.plan_id = $1 AND b->>'batch_id' = $2""",
            d["plan_id"],
            d["batch_id"],
        )
        await conn.execute(
            """INSERT INTO disclosure.results (record_id, draw_id, plan_id, subject_identifier,
               subject_name, department, inspection_type, inspected_on, outcome, outcome_text,
               findings, disclosed_at, name_key)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8::text::date,$9,$10,$11,now(),$12)
               ON CONFLICT (record_id) DO NOTHING""",
            ev.subject,
            d["draw_id"],
            d["plan_id"],
            d["subject_identifier"],
            d["subject_name"],
            department or d["recorded_by_department"],
            inspection_type(bool(directed)),
            d["inspected_on"],
            d["outcome"],
            outcome_text(d["outcome"]),
            [public_finding(f) for f in d["findings"]],
            normalise_name(d["subject_name"]),
        )
        await index_name(conn, ev.subject, d["subject_name"])
    elif ev.name == "ResultCorrected":
        await conn.execute(
            """UPDATE disclosure.results SET outcome = $2, outcome_text = $3, findings = $4,
               corrections = corrections + 1 WHERE record_id = $1""",
            ev.subject,
            d["outcome"],
            outcome_text(d["outcome"]),
            [public_finding(f) for f in d["findings"]],
        )
