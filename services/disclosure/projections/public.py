"""Public read models, built only from events of the other four services."""

from __future__ import annotations

from typing import Any

import asyncpg

from libs.common.envelope import InboundEvent
from services.disclosure.domain.public import (
    public_member,
    public_replacement,
    public_subject,
)
from services.disclosure.projections.items import DDL as ITEMS_DDL
from services.disclosure.projections.items import ITEM_EVENTS, record_item_version
from services.disclosure.projections.plans import DDL as PLANS_DDL
from services.disclosure.projections.plans import apply_plan
from services.disclosure.projections.results import DDL as RESULTS_DDL

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items (
        item_id uuid PRIMARY KEY, code text NOT NULL, department text NOT NULL,
        name text NOT NULL, category text NOT NULL, ratio double precision NOT NULL,
        methods jsonb NOT NULL, legal_basis text NOT NULL,
        published boolean NOT NULL DEFAULT false, published_at timestamptz)""",
    """CREATE TABLE IF NOT EXISTS {schema}.plans (
        plan_id uuid PRIMARY KEY, year int NOT NULL, title text NOT NULL, mode text NOT NULL,
        initiating_department text NOT NULL, participating_departments jsonb NOT NULL,
        items jsonb NOT NULL, batches jsonb NOT NULL, published_at timestamptz)""",
    # 抽取 as disclosed: announced at once (pool hash, commitment, entropy source), then
    # executed (secret, entropy, seed, subjects with groups), then replacements.
    """CREATE TABLE IF NOT EXISTS {schema}.public_draws (
        draw_id uuid PRIMARY KEY, batch_id text NOT NULL, plan_id uuid NOT NULL,
        batch_name text NOT NULL, items jsonb NOT NULL, initiating_department text NOT NULL,
        announced_at timestamptz NOT NULL, announcement_hash text NOT NULL,
        protocol text NOT NULL, pool_hash text NOT NULL, pool_size int NOT NULL,
        strata_rules jsonb NOT NULL, commitment text NOT NULL, entropy_source text NOT NULL,
        entropy_not_before text, executed_at timestamptz, secret text, entropy text,
        seed text, strata jsonb, subjects jsonb NOT NULL DEFAULT '[]',
        replacements jsonb NOT NULL DEFAULT '[]')""",
    # How the subjects were selected: sha256 (the protocol's stream) or rfc3797.
    "ALTER TABLE {schema}.public_draws ADD COLUMN IF NOT EXISTS selection text NOT NULL "
    "DEFAULT 'sha256'",
    # A draw voided before its entropy time (ssj-draw-3): when, and the reason's code.
    "ALTER TABLE {schema}.public_draws ADD COLUMN IF NOT EXISTS voided_at timestamptz",
    "ALTER TABLE {schema}.public_draws ADD COLUMN IF NOT EXISTS void_reason_code text",
    # How the pool was made (ssj-draw-3 pool_spec, its two long lists as sizes).
    "ALTER TABLE {schema}.public_draws ADD COLUMN IF NOT EXISTS pool_spec jsonb",
    # ssj-draw-3 publishes the strata's Merkle roots, not the hash of the pool's lines
    # (which would let a small pool's risk classes be guessed and checked).
    "ALTER TABLE {schema}.public_draws ADD COLUMN IF NOT EXISTS pool_roots jsonb",
    "ALTER TABLE {schema}.public_draws ALTER COLUMN pool_hash DROP NOT NULL",
    """CREATE TABLE IF NOT EXISTS {schema}.results (
        record_id uuid PRIMARY KEY, draw_id uuid NOT NULL, plan_id uuid NOT NULL,
        subject_identifier text NOT NULL, subject_name text NOT NULL,
        department text NOT NULL, inspection_type text NOT NULL, inspected_on date NOT NULL,
        outcome text NOT NULL, outcome_text text NOT NULL, findings jsonb NOT NULL,
        corrections int NOT NULL DEFAULT 0, disclosed_at timestamptz NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS results_subject ON {schema}.results (subject_identifier)",
    *PLANS_DDL,
    *RESULTS_DDL,
    *ITEMS_DDL,
]


async def apply_registry(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """The item list: shown once published."""
    d = ev.data
    if ev.name == "ItemRegistered":
        await conn.execute(
            """INSERT INTO disclosure.items (item_id, code, department, name, category, ratio,
               methods, legal_basis) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
               ON CONFLICT (item_id) DO NOTHING""",
            ev.subject,
            d["code"],
            d["department"],
            d["name"],
            d["category"],
            d["ratio"],
            d["methods"],
            d["legal_basis"],
        )
    elif ev.name == "ItemPublished":
        await conn.execute(
            "UPDATE disclosure.items SET published = true, published_at = $2 WHERE item_id = $1",
            ev.subject,
            ev.time,
        )
    elif ev.name == "ItemWithdrawn":
        await conn.execute(
            "UPDATE disclosure.items SET published = false WHERE item_id = $1", ev.subject
        )
    elif ev.name == "ItemChanged":
        changes = d["changes"]
        await conn.execute(
            """UPDATE disclosure.items SET name = coalesce($2, name),
               category = coalesce($3, category), ratio = coalesce($4, ratio),
               methods = coalesce($5, methods), legal_basis = coalesce($6, legal_basis)
               WHERE item_id = $1""",
            ev.subject,
            changes.get("name"),
            changes.get("category"),
            changes.get("ratio"),
            changes.get("methods"),
            changes.get("legal_basis"),
        )

    if ev.name in ITEM_EVENTS:
        await record_item_version(conn, ev)


async def apply_planner(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Plans and the modes' names (projections/plans.py)."""
    await apply_plan(conn, ev)


def _entropy_named(summary: dict[str, Any]) -> str:
    """The announced entropy as people name it: its source and issue (ssj-draw-3:
    中国福利彩票双色球 第2026141期), or the text an ssj-draw-2 announcement named."""
    spec = summary.get("entropy")
    if isinstance(spec, dict):
        return f"{spec['name']} 第{spec['issue']}期"
    return str(summary.get("entropy_source", ""))


async def apply_draw(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Draws are disclosed when announced and again when executed, secret and seed
    included, so anyone can verify them; replacements (递补) are disclosed with the code of
    their reason (never the reason or approver staff typed)."""
    d = ev.data
    if ev.name == "DrawAnnounced":
        a = d["summary"]
        await conn.execute(
            """INSERT INTO disclosure.public_draws (draw_id, batch_id, plan_id, batch_name,
               items, initiating_department, announced_at, announcement_hash, protocol,
               pool_hash, pool_size, strata_rules, commitment, entropy_source,
               entropy_not_before, selection, pool_spec, pool_roots)
               VALUES ($1,$2,$3,$4,$5,$6,$7::text::timestamptz,$8,$9,$10,$11,$12,$13,$14,$15,
                       $16,$17,$18)
               ON CONFLICT (draw_id) DO NOTHING""",
            ev.subject,
            d["batch_id"],
            d["plan_id"],
            d["batch_name"],
            d["items"],
            d["initiating_department"],
            a["announced_at"],
            d["announcement_hash"],
            a["protocol"],
            a.get("pool_hash"),
            a["pool_size"],
            a["strata"],
            a["commitment"],
            _entropy_named(a),
            a["entropy_not_before"] or None,
            a.get("selection", "sha256"),
            a.get("pool_spec"),
            a.get("pool_roots"),
        )
    elif ev.name == "DrawExecuted":
        await conn.execute(
            """UPDATE disclosure.public_draws SET executed_at = $2::text::timestamptz,
               secret = $3, entropy = $4, seed = $5, strata = $6 WHERE draw_id = $1""",
            ev.subject,
            d["executed_at"],
            d["secret"],
            d["entropy"],
            d["seed"],
            d["strata"],
        )
    elif ev.name == "DrawVoided":  # the reason's code only: staff's words stay internal
        await conn.execute(
            """UPDATE disclosure.public_draws SET voided_at = $2::text::timestamptz,
               void_reason_code = $3 WHERE draw_id = $1""",
            ev.subject,
            d["voided_at"],
            d["reason_code"],
        )
    elif ev.name == "SubjectsDrawn":
        await conn.execute(
            "UPDATE disclosure.public_draws SET subjects = subjects || $2::jsonb "
            "WHERE draw_id = $1",
            ev.subject,
            [public_subject(s) for s in d["subjects"]],
        )
    elif ev.name in ("InspectorReplaced", "SubjectReplaced"):
        subjects = await conn.fetchval(
            "SELECT subjects FROM disclosure.public_draws WHERE draw_id = $1", ev.subject
        )
        if subjects is None:
            return
        request = d["request"]
        at = next(i for i, s in enumerate(subjects) if s["identifier"] == request["identifier"])
        if ev.name == "InspectorReplaced":
            subjects[at]["inspectors"] = [
                public_member(d["replacement"]) if m.get("inspector_id") == d["replaced"] else m
                for m in subjects[at]["inspectors"]
            ]
        else:
            subjects[at] = public_subject(d["replacement"])
        # Only the reason's code: staff's reason and approver stay in the draw service.
        entry = public_replacement(request, ev.time.isoformat() if ev.time else None)
        await conn.execute(
            "UPDATE disclosure.public_draws SET subjects = $2, "
            "replacements = replacements || $3::jsonb WHERE draw_id = $1",
            ev.subject,
            subjects,
            [entry],
        )
