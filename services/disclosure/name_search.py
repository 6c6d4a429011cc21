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
from dataclasses import dataclass, field
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

# The common pairs' shares, and the share of any other pair as PostgreSQL's planner takes
# it: what the common ones leave, spread over the other distinct values.
FREQUENCIES_SQL = """SELECT s.most_common_vals::text::text[] AS pairs,
       s.most_common_freqs AS frequencies,
       (1 - (SELECT sum(f) FROM unnest(s.most_common_freqs) f))
         / greatest(CASE WHEN s.n_distinct < 0 THEN -s.n_distinct * c.reltuples
                         ELSE s.n_distinct END - cardinality(s.most_common_freqs), 1) AS other
  FROM pg_stats s JOIN pg_class c ON c.oid = 'disclosure.result_name_pairs'::regclass
 WHERE s.schemaname = 'disclosure' AND s.tablename = 'result_name_pairs'
   AND s.attname = 'pair'"""


async def index_name(conn: asyncpg.Connection, record_id: Any, name: str) -> None:
    """Record a result's name pairs (its name never changes: a later edition keeps it)."""
    await conn.execute(
        """INSERT INTO disclosure.result_name_pairs (pair, record_id)
           SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING""",
        bigrams(name),
        record_id,
    )


# How much commoner the next pair must be for probing it once per entry of the rarest to
# cost less than merging the two lists (a B-tree descent against a step along a leaf).
PROBE_RATIO = 32.0


@dataclass(frozen=True)
class PairStats:
    """Shares of all pairs: each common pair's, and any other pair's (0: no statistics)."""

    common: dict[str, float] = field(default_factory=dict)
    other: float = 0.0


class PairFrequencies:
    """How often each common pair occurs (share of all pairs), from the table's statistics;
    one copy per process, read again every :data:`FREQUENCIES_REFRESH_SECONDS`. Only the
    order of a search's joins depends on it, never what is found: a copy that cannot be
    read is an empty one (every pair alike) until the next try."""

    def __init__(self) -> None:
        self._db: asyncpg.Pool | None = None
        self._snapshot = Snapshot(self._load, PairStats(), FREQUENCIES_REFRESH_SECONDS)

    async def _load(self) -> PairStats:
        try:
            row = await self._db.fetchrow(FREQUENCIES_SQL) if self._db else None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("name pair statistics unreadable (名称检索统计不可读): %s", exc)
            return PairStats()
        if row is None or row["pairs"] is None:  # not analysed yet: every pair alike
            return PairStats()
        common = dict(zip(row["pairs"], row["frequencies"], strict=True))
        return PairStats(common, max(float(row["other"] or 0.0), 0.0))

    async def rarest(self, db: asyncpg.Pool, key: str) -> list[str]:
        """The distinct pairs of ``key`` (a normalised fragment), rarest first (ties in the
        fragment's order)."""
        self._db = db
        known = (await self._snapshot.current()).common
        return sorted(pairs_of(key), key=lambda pair: known.get(pair, 0.0))

    async def far_commoner(self, db: asyncpg.Pool, pair: str, than: str) -> bool:
        """Whether ``pair`` occurs :data:`PROBE_RATIO` times as often as ``than`` or more
        (without statistics, no pair is)."""
        self._db = db
        stats = await self._snapshot.current()
        share = stats.common.get(pair, stats.other)
        return share > 0 and share >= PROBE_RATIO * stats.common.get(than, stats.other)


FREQUENCIES = PairFrequencies()


def name_source(
    pairs: list[str], key: str, arg: Callable[[Any], str], *, alone: bool, probe_next: bool
) -> tuple[str, str]:
    """The FROM clause and the condition of results whose name contains ``key`` (its
    pairs rarest first, at least one): rows come in ``a.record_id`` order.

    ``alone`` (no other filter) fixes the way in, whatever PostgreSQL estimates (a generic
    plan cannot see which pair is rare): the rarest pair's index in ``record_id`` order,
    and one probe of the result per entry that has the next pair, until the page is full.
    Left to choose, PostgreSQL merge-joined the pairs with the results' primary key,
    reading every result to find a rare name (葩有限: 56,000 results of 60,000). With other
    filters it plans freely: a rare department may be the better way in.

    ``probe_next`` (the next pair is far commoner than the rarest): one probe of it per
    entry of the rarest, never a merge with all of its entries (葩有限 merged with 有限's
    650,000: 81 ms; probed, 0.5 ms). Pairs of like frequency are joined: merging two lists
    costs less than probing one with the other."""
    source = "disclosure.result_name_pairs a"
    if len(pairs) > 1:
        next_pair = f"b.pair = {arg(pairs[1])} AND b.record_id = a.record_id"
        source += (
            # A subquery with LIMIT is not flattened into a join: it stays a probe.
            f" JOIN LATERAL (SELECT FROM disclosure.result_name_pairs b WHERE {next_pair} "
            "LIMIT 1) b ON true"
            if probe_next
            else f" JOIN disclosure.result_name_pairs b ON {next_pair}"
        )
    source += (
        " JOIN LATERAL (SELECT * FROM disclosure.results r WHERE r.record_id = a.record_id "
        "LIMIT 1) r ON true"
        if alone
        else " JOIN disclosure.results r ON r.record_id = a.record_id"
    )
    return source, f"a.pair = {arg(pairs[0])} AND strpos(r.name_key, {arg(key)}) > 0"


def searchable(fragment: str) -> str | None:
    """The fragment as searched (normalised), or None when it has no pair to look up."""
    key = normalise_name(fragment)
    return key if len(key) >= 2 else None
