"""冻结抽查对象库 — freeze a batch's eligible pool inside PostgreSQL.

At province scale the pool is a million subjects. Building its canonical lines, sorting
them, hashing them and storing the snapshot all happen in the database (one transaction,
one temporary table), so the million rows never cross into Python; only the hash, the size
and the conflict and previous-inspector pairs about pool subjects come back.

The lines are those of ``services.draw.protocol.canonical.pool_line``: identifiers and
region codes are canonical already (the registry validates them); supervising units are
put in canonical form with Python's own :func:`~services.draw.protocol.canonical.field`
(there are few distinct units), so the result is exactly what the protocol specifies;
tests/integration/test_draw_service.py checks every frozen line against ``pool_line``.

Speed (1M subjects): the pool is read in canonical order from the index
``pool_subjects_canonical`` (an index-only scan, where no tag filter needs the table),
and sorted again, in memory (``work_mem``), in a subquery whose order the aggregate
reads; a sort of rows already in order is one pass. A temporary table is never scanned in
parallel and parallel plans are switched off besides, so nothing can reorder it; the
draw checks the order again when it loads the snapshot. The snapshot is stored
lz4-compressed where the server has lz4 (see ``DrawApplication``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services.draw.domain.announce import POOL_FILTERS
from services.draw.domain.errors import InvalidDraw, PoolEmpty
from services.draw.protocol.canonical import FULL_LIST, STRATA
from services.draw.protocol.canonical import field as canonical

CLOSED = ("deregistered", "revoked", "cancelled")  # 注销, 吊销, 撤销: never in a pool
FILTERS = POOL_FILTERS


@dataclass(frozen=True)
class FrozenSummary:
    """What the announcement needs of a pool frozen in the database."""

    pool_hash: str
    pool_size: int
    conflicts: list[tuple[str, str]]  # (inspector id, identifier), pool subjects only
    previous: list[tuple[str, str]]  # (inspector id, identifier), pool subjects only
    strata_sizes: dict[str, int] = field(default_factory=dict)  # members per stratum
    # Subjects the filters match that a rule kept out: [identifier, rule, draw id, item].
    excluded: list[list[str]] = field(default_factory=list)
    # Where the draw's copy of the registry stood: {"stream_seq", "event_id"}.
    registry_position: dict[str, Any] = field(default_factory=dict)
    # Open draws (announced, not executed or voided) sharing subjects: [draw id, shared].
    overlaps: list[list[Any]] = field(default_factory=list)


def filters(batch: dict[str, Any]) -> dict[str, list[str]]:
    """The batch's pool filters, every key present."""
    spec = batch.get("pool") or {}
    return {key: [str(v) for v in spec.get(key) or []] for key in FILTERS}


async def _check_full_list(conn: asyncpg.Connection, full_list: list[str]) -> None:
    rows = await conn.fetch(
        "SELECT identifier, status FROM draw.pool_subjects WHERE identifier = ANY ($1::text[])",
        full_list,
    )
    found = {r["identifier"]: r["status"] for r in rows}
    missing = sorted(set(full_list) - set(found))
    closed = sorted(i for i, status in found.items() if status in CLOSED)
    if missing or closed:
        raise InvalidDraw(
            f"the 100 % list names subjects that are unknown {missing} or closed {closed}"
        )


# The eligible pool, in canonical order. Parameters: $1 statuses, $2 risk classes, $3
# region prefixes, $4 kinds, $5 industry prefixes, $6 tags, $7 flags, $8 general item codes
# (subjects drawn for one this year are out), $9 year, $10 the 100 % list. The prefix
# patterns are worked out once (ARRAY(...)), not once a row.
MATCHES = """
    status = ANY ($1::text[]) AND risk_class = ANY ($2::text[])
      AND (cardinality($3::text[]) = 0 OR region_code LIKE ANY (
             ARRAY(SELECT p || '%' FROM unnest($3::text[]) AS p)))
      AND (cardinality($4::text[]) = 0 OR kind = ANY ($4))
      AND (cardinality($5::text[]) = 0 OR industry LIKE ANY (
             ARRAY(SELECT p || '%' FROM unnest($5::text[]) AS p)))
      AND (cardinality($6::text[]) = 0 OR tags ?| $6::text[])
      AND (cardinality($7::text[]) = 0
           OR (abnormal_operation AND 'abnormal_operation' = ANY ($7))
           OR (serious_violation AND 'serious_violation' = ANY ($7)))
"""
POOL = f"""
    CREATE TEMP TABLE frozen_pool ON COMMIT DROP AS
    SELECT subject_id, identifier, region_code, risk_class AS stratum, supervising_unit AS unit
    FROM draw.pool_subjects s
    WHERE {MATCHES}
      AND (cardinality($8::text[]) = 0 OR NOT EXISTS (
             SELECT 1 FROM draw.inspected i WHERE i.subject_id = s.subject_id
             AND i.year = $9 AND i.item_code = ANY ($8)))
      AND NOT (identifier = ANY ($10::text[]))
    ORDER BY identifier COLLATE "C"
"""
# The subjects the filters match that the same-year rule (同一年度同一事项已查) kept out,
# with the draw that drew them: the few rows of draw.inspected, not the million subjects.
EXCLUDED = f"""
    SELECT DISTINCT ON (s.identifier) s.identifier, i.draw_id::text AS draw_id, i.item_code
    FROM draw.inspected i JOIN draw.pool_subjects s USING (subject_id)
    WHERE i.year = $9 AND i.item_code = ANY ($8::text[]) AND {MATCHES}
      AND NOT (s.identifier = ANY ($10::text[]))
    ORDER BY s.identifier, i.item_code
"""

# How many of the frozen pool's subjects each open draw's pool holds too (nothing to read
# when no draw is open, the usual case).
OVERLAPS = r"""
    SELECT o.draw_id::text AS draw_id, count(*) AS shared
    FROM draw.open_draws o
    JOIN draw.pool_snapshots p ON p.pool_hash = o.pool_hash
    CROSS JOIN LATERAL string_to_table(p.lines, E'
') AS l(line)
    JOIN frozen_pool f ON f.identifier = split_part(l.line, E'	', 1)
    GROUP BY o.draw_id ORDER BY o.draw_id
"""

# The 100 % list ($1), in the stratum $2, whatever the filters say.
FULL_LIST_ROWS = """
    INSERT INTO frozen_pool
    SELECT subject_id, identifier, region_code, $2, supervising_unit
    FROM draw.pool_subjects WHERE identifier = ANY ($1::text[])
"""

# The canonical lines, in order (one pass where the pool is in order already); units not
# in canonical form yet are mapped $1 → $2.
# Hashed and stored in the same statement.
SNAPSHOT = r"""
    WITH ordered AS (
      SELECT f.identifier || E'\t' || f.stratum || E'\t' || f.region_code || E'\t'
               || coalesce(c.canon, f.unit) AS line
      FROM frozen_pool f LEFT JOIN unnest($1::text[], $2::text[]) AS c(raw, canon)
        ON c.raw = f.unit
      ORDER BY f.identifier COLLATE "C"),
    agg AS (SELECT string_agg(line, E'\n') AS lines FROM ordered),
    hashed AS MATERIALIZED (
      SELECT encode(sha256(convert_to(lines, 'UTF8')), 'hex') AS pool_hash, lines FROM agg),
    stored AS (
      INSERT INTO draw.pool_snapshots (pool_hash, lines)
      SELECT pool_hash, lines FROM hashed
      ON CONFLICT (pool_hash) DO NOTHING)
    SELECT pool_hash FROM hashed
"""


async def freeze(conn: asyncpg.Connection, batch: dict[str, Any]) -> FrozenSummary:
    """The eligible pool: the batch's filters over operating subjects, minus subjects drawn
    this year for one of the batch's general items (unless the batch is a
    complaint/referral case), plus the 100 % list; stored under its hash."""
    f = filters(batch)
    statuses = [s for s in (f["statuses"] or ["operating"]) if s not in CLOSED]
    classes = f["risk_classes"] or list(STRATA)
    general = [i["code"] for i in batch["items"] if i.get("category") == "general"]
    if batch.get("complaint_referral"):
        general = []
    full_list = [str(i) for i in batch.get("full_list") or []]
    async with conn.transaction():
        # A million rows sorted in memory, no JIT compilation for one-off statements, and
        # no parallel plan that could hand the aggregates their rows out of order.
        await conn.execute(
            "SET LOCAL work_mem = '512MB'; SET LOCAL jit = off; "
            "SET LOCAL max_parallel_workers_per_gather = 0"
        )
        if not f["tags"]:
            # Every column the filter reads is in the pool_subjects_canonical index, which
            # holds the subjects in canonical order: read the pool from it (an index-only
            # scan) rather than sorting a million rows. The planner, unable to estimate the
            # prefix patterns, would guess a small pool and sort. Plans are made for the
            # actual values, so that empty filters drop out.
            await conn.execute(
                "SET LOCAL enable_sort = off; SET LOCAL plan_cache_mode = force_custom_plan"
            )
        if full_list:
            await _check_full_list(conn, full_list)
        # $1-$10 of POOL and EXCLUDED: the filters, the general items, the year, the list.
        matching = (
            statuses,
            classes,
            f["region_prefixes"],
            f["kinds"],
            f["industries"],
            f["tags"],
            f["flags"],
            general,
            int(batch["year"]),
            full_list,
        )
        await conn.execute(POOL, *matching)
        # Both lists are usually empty: ask first, so a million-row join is never planned
        # for nothing.
        any_inspected = bool(general) and await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM draw.inspected WHERE year = $1 "
            "AND item_code = ANY ($2::text[]))",
            int(batch["year"]),
            general,
        )
        excluded = (
            [
                [r["identifier"], "drawn_this_year", r["draw_id"], r["item_code"]]
                for r in await conn.fetch(EXCLUDED, *matching)
            ]
            if any_inspected
            else []
        )
        position = await conn.fetchrow(
            "SELECT stream_seq, event_id FROM draw.consumer_position WHERE consumer = $1",
            "draw-registry",
        )
        if full_list:
            await conn.execute(FULL_LIST_ROWS, full_list, FULL_LIST)
        await conn.execute("SET LOCAL enable_sort = on")
        groups = await conn.fetch(
            "SELECT unit, stratum, count(*) AS n FROM frozen_pool GROUP BY unit, stratum"
        )
        size = sum(r["n"] for r in groups)
        if not size:
            raise PoolEmpty("no subject matches the batch's pool filter")
        strata: dict[str, int] = {}
        for r in groups:
            strata[r["stratum"]] = strata.get(r["stratum"], 0) + r["n"]
        units = {r["unit"] for r in groups}
        changed = [(u, canonical(u)) for u in sorted(units) if canonical(u) != u]
        digest = await conn.fetchval(
            SNAPSHOT, [raw for raw, _ in changed], [canon for _, canon in changed]
        )
        conflicts = [
            (r["inspector_id"], r["identifier"])
            for r in await conn.fetch(
                """SELECT c.inspector_id::text AS inspector_id, f.identifier
                   FROM draw.conflicts c JOIN frozen_pool f USING (subject_id)
                   WHERE c.active"""
            )
        ]
        overlaps = (
            [[r["draw_id"], int(r["shared"])] for r in await conn.fetch(OVERLAPS)]
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM draw.open_draws)")
            else []
        )
        previous: list[tuple[str, str]] = []
        if batch.get("avoid_previous_inspectors", True):
            previous = [
                (r["inspector_id"], r["identifier"])
                for r in await conn.fetch(
                    """SELECT jsonb_array_elements_text(g.inspector_ids) AS inspector_id,
                              f.identifier
                       FROM draw.last_group g JOIN frozen_pool f USING (subject_id)"""
                )
            ]
    return FrozenSummary(
        str(digest),
        int(size),
        conflicts,
        previous,
        strata,
        excluded,
        {"stream_seq": int(position["stream_seq"]), "event_id": position["event_id"] or ""}
        if position is not None
        else {"stream_seq": 0, "event_id": ""},
        overlaps,
    )
