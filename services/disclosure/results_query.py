"""The public results as the API, the portal and the exports read them: one query with
the joins the national fields need, and the filters the public looks up by."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from services.disclosure.domain.national import FOLLOWED_OUTCOMES, national_result
from services.disclosure.domain.public import outcome_text, public_finding
from services.disclosure.name_search import FREQUENCIES, name_source, searchable
from services.disclosure.public_sql import results_select
from services.disclosure.results_json import page_json


@dataclass(frozen=True)
class ResultFilter:
    """What a look-up asks for (None: any); combined with AND."""

    identifier: str | None = None
    name: str | None = None
    region: str | None = None
    department: str | None = None
    plan_id: UUID | None = None
    draw_id: UUID | None = None
    outcome: str | None = None
    late: bool | None = None
    published_from: date | None = None
    published_to: date | None = None


def region_prefix(region: str) -> str:
    """The codes a region covers begin with its code less its trailing 00 pairs (420000:
    the province, every code starting 42)."""
    prefix = region
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return prefix


async def _follow_ups(db: asyncpg.Pool, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    rows = await db.fetch(
        """SELECT task_id, step, "on"::text AS "on", receiving_department
           FROM disclosure.follow_ups WHERE task_id = ANY($1) ORDER BY task_id, version""",
        ids,
    )
    out: dict[UUID, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["task_id"], []).append(dict(row))
    return out


async def _shown(db: asyncpg.Pool, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    followed = [r["record_id"] for r in rows if r["outcome"] in FOLLOWED_OUTCOMES]
    steps = await _follow_ups(db, followed) if followed else {}
    return [
        national_result(
            dict(r),
            outcome_text(r["outcome"]),
            [public_finding(f) for f in r["findings"] or []],
            steps.get(r["record_id"], []),
        )
        for r in rows
    ]


async def _page(
    db: asyncpg.Pool, wanted: ResultFilter, after: UUID | None, limit: int
) -> tuple[str, list[Any]] | None:
    """The joined results of one page, in ``record_id`` order: SQL and its arguments;
    None when nothing can match (a name fragment without a pair once normalised)."""
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    source, order = "disclosure.results r", "r.record_id"
    if wanted.name is not None:
        key = searchable(wanted.name)
        if key is None:  # under two characters once normalised: no pair to look up
            return None
        pairs = await FREQUENCIES.rarest(db, key)
        common_next = len(pairs) > 1 and await FREQUENCIES.far_commoner(db, pairs[1], pairs[0])
        source, matches = name_source(
            pairs, key, arg, alone=generic_plan_suits(wanted), probe_next=common_next
        )
        where.append(matches)
        order = "a.record_id"  # the pairs' index order: the page's rows come first
    if wanted.identifier is not None:
        where.append(f"r.subject_identifier = {arg(wanted.identifier)}")
    if wanted.region is not None:
        where.append(
            "r.department IN (SELECT code FROM disclosure.departments_view "
            f"WHERE region_code LIKE {arg(region_prefix(wanted.region) + '%')})"
        )
    for column in ("department", "plan_id", "draw_id", "outcome", "late"):
        value = getattr(wanted, column)
        if value is not None:
            where.append(f"r.{column} = {arg(value)}")
    if wanted.published_from is not None:
        where.append(f"r.published_on >= {arg(wanted.published_from)}")
    if wanted.published_to is not None:
        where.append(f"r.published_on <= {arg(wanted.published_to)}")
    if after is not None:
        where.append(f"{order} > {arg(after)}")
    page = (
        f"(SELECT r.* FROM {source} WHERE {' AND '.join(where) or 'true'} "
        f"ORDER BY {order} LIMIT {arg(limit)})"
    )
    return results_select(page), args


async def find_results(
    db: asyncpg.Pool, wanted: ResultFilter, *, after: UUID | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Results as disclosed, in ``record_id`` order after ``after``, at most ``limit``."""
    query = await _page(db, wanted, after, limit)
    if query is None:
        return []
    sql, args = query
    rows = await db.fetch(f"{sql} ORDER BY r.record_id", *args)
    return await _shown(db, rows)


def generic_plan_suits(wanted: ResultFilter) -> bool:
    """Whether the look-up's generic plan is good for every value: by name fragment alone
    (its way in is fixed: :func:`~services.disclosure.name_search.name_source` with
    ``alone``) or by USCC alone (its index; one subject's results, sorted). Other filters
    are planned each time: a generic plan cannot tell a week from a year, nor prune
    ``IS NULL`` tests."""
    given = {f.name for f in fields(wanted) if getattr(wanted, f.name) is not None}
    return given in ({"name"}, {"identifier"})


async def find_results_json(
    db: asyncpg.Pool,
    wanted: ResultFilter,
    *,
    after: UUID | None = None,
    limit: int = 200,
    lookups: asyncpg.Pool | None = None,
) -> bytes:
    """The same page as :func:`find_results`, as the API's JSON answer (``ResultPage``),
    written by PostgreSQL (see :mod:`services.disclosure.results_json`). ``lookups``: a
    pool running generic plans, used when :func:`generic_plan_suits` the look-up (its
    planning cost more than the search itself)."""
    query = await _page(db, wanted, after, limit)
    if query is None:
        return b'{"items":[],"next":null}'
    sql, args = query
    runner = lookups if lookups is not None and generic_plan_suits(wanted) else db
    row = await runner.fetchrow(page_json(sql), *args)
    following = f'"{row["last"]}"' if row["shown"] == limit else "null"
    return f'{{"items":[{row["items"]}],"next":{following}}}'.encode()


async def latest_results(db: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    """The results disclosed last, newest first."""
    rows = await db.fetch(
        results_select(
            "(SELECT * FROM disclosure.results ORDER BY disclosed_at DESC, record_id LIMIT $1)"
        )
        + " ORDER BY r.disclosed_at DESC, r.record_id",
        limit,
    )
    return await _shown(db, rows)


async def one_result(db: asyncpg.Pool, record_id: UUID) -> dict[str, Any] | None:
    """One disclosed result, or None."""
    rows = await db.fetch(f"{results_select()} WHERE r.record_id = $1", record_id)
    return (await _shown(db, rows))[0] if rows else None


async def find_overdue(
    db: asyncpg.Pool,
    kind: str | None = None,
    department: str | None = None,
    after: UUID | None = None,
    limit: int = 200,
) -> list[asyncpg.Record]:
    """Deadlines missed and not yet made good (a publication since made, a re-inspection
    or closing since recorded, ends one), in ``missed_id`` order. A correction is ordered
    once, so any later step follows that order up, whatever day it is dated: one entered
    late but made on time is no longer overdue now."""
    rows = await db.fetch(
        """SELECT o.missed_id, o.task_id, o.kind, o.due_on::text AS due_on,
                  o.noticed_on::text AS noticed_on,
                  o.subject_identifier, o.department, nullif(d.name, '') AS inspecting_authority
           FROM disclosure.overdue o
           LEFT JOIN disclosure.departments_view d ON d.code = o.department
           WHERE ($1::text IS NULL OR o.kind = $1) AND ($2::text IS NULL OR o.department = $2)
             AND ($3::uuid IS NULL OR o.missed_id > $3)
             AND NOT (o.kind = 'publication' AND EXISTS (
                   SELECT 1 FROM disclosure.results r WHERE r.record_id = o.task_id))
             AND NOT (o.kind = 'follow_up' AND EXISTS (
                   SELECT 1 FROM disclosure.follow_ups f WHERE f.task_id = o.task_id
                   AND f.step <> 'ordered'))
           ORDER BY o.missed_id LIMIT $4""",
        kind,
        department,
        after,
        limit,
    )
    return rows
