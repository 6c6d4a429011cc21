"""The office's list of proposals (部门拟发起的年度联合抽查计划), with their status."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.proposals_view (
        proposal_id uuid PRIMARY KEY, year int NOT NULL, region text NOT NULL,
        department text NOT NULL, title text NOT NULL, items jsonb NOT NULL,
        pool jsonb NOT NULL, methods jsonb NOT NULL, starts_on date NOT NULL,
        ends_on date NOT NULL, ratios jsonb NOT NULL, counts jsonb NOT NULL,
        partners jsonb NOT NULL, note text NOT NULL, status text NOT NULL,
        late_reasons jsonb NOT NULL, withdrawal_reason text NOT NULL DEFAULT '',
        plan_id uuid, plan_number text NOT NULL DEFAULT '', filed_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL, version int NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS proposals_view_year ON {schema}.proposals_view "
    "(year, region, proposal_id)",
]
# Amendable fields, each a column of the list.
_COLUMNS = frozenset(
    {"title", "items", "pool", "methods", "starts_on", "ends_on", "ratios", "counts"}
    | {"partners", "note"}
)


async def apply_proposal(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Proposal events → one row per proposal; each applies once (version guard)."""
    d = ev.data
    if ev.name == "ProposalFiled":
        await conn.execute(
            """INSERT INTO planner.proposals_view (proposal_id, year, region, department,
               title, items, pool, methods, starts_on, ends_on, ratios, counts, partners,
               note, status, late_reasons, filed_at, updated_at, version)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::text::date,$10::text::date,$11,$12,$13,$14,
                       'filed',$15,$16,$16,$17)
               ON CONFLICT (proposal_id) DO NOTHING""",
            ev.subject,
            d["year"],
            d["region"],
            d["department"],
            d["title"],
            d["items"],
            d["pool"],
            d["methods"],
            d["starts_on"],
            d["ends_on"],
            d["ratios"],
            d["counts"],
            d["partners"],
            d["note"],
            [{"step": "filed", "reason": d["late_reason"]}] if d["late_reason"] else [],
            ev.time,
            ev.aggregate_version,
        )
        return
    sets: list[str] = []
    args: list[object] = []
    if ev.name == "ProposalAmended":
        for key, value in d["changes"].items():
            if key not in _COLUMNS:
                continue  # a field this list does not show
            args.append(value)
            cast = "::text::date" if key in ("starts_on", "ends_on") else ""
            sets.append(f"{key} = ${len(args) + 3}{cast}")
    elif ev.name == "ProposalWithdrawn":
        args.append(d["reason"])
        sets += ["status = 'withdrawn'", f"withdrawal_reason = ${len(args) + 3}"]
    elif ev.name == "ProposalMerged":
        args += [d["plan_id"], d["plan_number"]]
        sets += ["status = 'merged'", "plan_id = $4::text::uuid", "plan_number = $5"]
    else:
        return
    late = d.get("late_reason") or ""
    step = {"ProposalAmended": "amended", "ProposalWithdrawn": "withdrawn"}.get(ev.name, "")
    late_entry = [{"step": step, "reason": late}] if late else []
    args.append(late_entry)
    sets.append(f"late_reasons = late_reasons || ${len(args) + 3}::jsonb")
    await conn.execute(
        f"""UPDATE planner.proposals_view SET {", ".join(sets)}, updated_at = $2,
            version = $3 WHERE proposal_id = $1 AND version < $3""",
        ev.subject,
        ev.time,
        ev.aggregate_version,
        *args,
    )
