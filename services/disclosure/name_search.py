"""Finding disclosed results by a fragment of the subject's name (企业名称模糊查询): through
the names' character pairs, one row per pair and result in ``result_name_pairs``, kept in
``record_id`` order by its primary key.

A fragment's results are the rows of its rarest pair (joined with its second-rarest, when
it has two or more) whose normalised name contains the whole fragment, read in
``record_id`` order: the page's first rows come out of the index, so a fragment that
matches half the province (``公司``, ``武汉``) costs what a rare one costs. A GIN index on
the pairs, before, fetched every matching row to sort them (7 ms a two-character search at
a million results, a second for ``公司``).

How rare a pair is comes from PostgreSQL's statistics of the table (its most common
values, read every few minutes); a pair not among them is rarer than all that are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from libs.common.snapshots import Snapshot
from services.disclosure.domain.national import bigrams, normalise_name, pairs_of

# Pairs whose frequency is known: enough for the common words of company names (有限, 公司,
# 商贸, the cities) at any size; the rest are rare.
PAIR_STATISTICS = 1000
FREQUENCIES_REFRESH_SECONDS = 300.0
log = logging.getLogger(__name__)

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.result_name_pairs (
        pair text NOT NULL, record_id uuid NOT NULL, PRIMARY KEY (pair, record_id))""",
    f"ALTER TABLE {{schema}}.result_name_pairs ALTER COLUMN pair SET STATISTICS {PAIR_STATISTICS}",
    # Results disclosed before the pairs had a table of their own: their pairs, once.
    """INSERT INTO {schema}.result_name_pairs (pair, record_id)
       SELECT DISTINCT substr(r.name_key, i, 2), r.record_id
         FROM {schema}.results r, generate_series(1, length(r.name_key) - 1) i
        WHERE NOT EXISTS (SELECT FROM {schema}.result_name_pairs)
       ON CONFLICT DO NOTHING""",
    "DROP INDEX IF EXISTS {schema}.results_name",
    "ALTER TABLE {schema}.results DROP COLUMN IF EXISTS name_bigrams",
]

FREQUENCIES_SQL = """SELECT most_common_vals::text::text[] AS pairs,
       most_common_freqs AS frequencies
  FROM pg_stats WHERE schemaname = 'disclosure' AND tablename = 'result_name_pairs'
   AND attname = 'pair'"""


async def index_name(conn: asyncpg.Connection, record_id: Any, name: str) -> None:
    """Record a result's name pairs (its name never changes: a later edition keeps it)."""
    await conn.execute(
        """INSERT INTO disclosure.result_name_pairs (pair, record_id)
           SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING""",
        bigrams(name),
        record_id,
    )


class PairFrequencies:
    """How often each common pair occurs (share of all pairs), from the table's statistics;
    one copy per process, read again every :data:`FREQUENCIES_REFRESH_SECONDS`. Only the
    order of a search's joins depends on it, never what is found: a copy that cannot be
    read is an empty one (every pair alike) until the next try."""

    def __init__(self) -> None:
        self._db: asyncpg.Pool | None = None
        self._snapshot = Snapshot(self._load, dict[str, float](), FREQUENCIES_REFRESH_SECONDS)

    async def _load(self) -> dict[str, float]:
        try:
            row = await self._db.fetchrow(FREQUENCIES_SQL) if self._db else None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("name pair statistics unreadable (名称检索统计不可读): %s", exc)
            return {}
        if row is None or row["pairs"] is None:  # not analysed yet: every pair alike
            return {}
        return dict(zip(row["pairs"], row["frequencies"], strict=True))

    async def rarest(self, db: asyncpg.Pool, key: str) -> list[str]:
        """The distinct pairs of ``key`` (a normalised fragment), rarest first (ties in the
        fragment's order)."""
        self._db = db
        known = await self._snapshot.current()
        return sorted(pairs_of(key), key=lambda pair: known.get(pair, 0.0))


FREQUENCIES = PairFrequencies()


def name_source(pairs: list[str], key: str, arg: Callable[[Any], str]) -> tuple[str, str]:
    """The FROM clause and the condition of results whose name contains ``key`` (its
    pairs rarest first, at least one): rows come in ``a.record_id`` order."""
    source = "disclosure.result_name_pairs a JOIN disclosure.results r ON r.record_id = a.record_id"
    if len(pairs) > 1:
        source += (
            " JOIN disclosure.result_name_pairs b "
            f"ON b.record_id = a.record_id AND b.pair = {arg(pairs[1])}"
        )
    return source, f"a.pair = {arg(pairs[0])} AND strpos(r.name_key, {arg(key)}) > 0"


def searchable(fragment: str) -> str | None:
    """The fragment as searched (normalised), or None when it has no pair to look up."""
    key = normalise_name(fragment)
    return key if len(key) >= 2 else None
