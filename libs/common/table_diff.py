"""Canonical contents of read-model tables, and what differs between a table and a copy
of it, for the rebuild (:mod:`libs.common.rebuild`) and whoever compares read models.

A row is compared as its ``to_jsonb`` value (column name → value): jsonb compares values,
not spelling, so a ``float8`` or a ``jsonb`` column compares as what it holds. A table's
digest is the MD5 of its rows' MD5s in sorted order: independent of row order and of the
physical layout, equal exactly when the two tables hold the same multiset of rows (up to
MD5 collisions, which nothing here is built to resist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

# How many rows of each side a report shows (the counts are always whole).
SAMPLE_ROWS = 5


def qualified(schema: str, table: str) -> str:
    """``"schema"."table"`` (names are checked identifiers, see read_models)."""
    return f'"{schema}"."{table}"'


@dataclass
class TableDiff:
    """One table before and after a rebuild: row counts, digests, rows on one side only."""

    table: str
    live_rows: int
    rebuilt_rows: int
    live_digest: str
    rebuilt_digest: str
    only_live: int = 0  # rows the table held that the rebuild does not produce
    only_rebuilt: int = 0  # rows the rebuild produces that the table did not hold
    samples_live: list[dict[str, Any]] = field(default_factory=list)
    samples_rebuilt: list[dict[str, Any]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """Whether the table held exactly what the rebuild produces."""
        return self.only_live == 0 and self.only_rebuilt == 0

    def describe(self) -> str:
        """One line for people: the table and what differs."""
        if self.same:
            return f"{self.table}: {self.live_rows} rows, as rebuilt"
        return (
            f"{self.table}: {self.live_rows} rows held, {self.rebuilt_rows} rebuilt; "
            f"{self.only_live} held but not rebuilt, {self.only_rebuilt} rebuilt but not held"
        )


async def digest(conn: asyncpg.Connection, relation: str) -> tuple[int, str]:
    """(rows, digest) of a table (``relation`` already quoted)."""
    row = await conn.fetchrow(
        f"""SELECT count(*) AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS d
            FROM (SELECT md5(to_jsonb(t)::text) AS h FROM {relation} t) rows"""
    )
    assert row is not None
    return int(row["n"]), str(row["d"])


async def keep_copy(conn: asyncpg.Connection, schema: str, table: str, copy: str) -> None:
    """Copy a table's rows into a temporary table dropped at the end of the transaction."""
    await conn.execute(
        f'CREATE TEMP TABLE "{copy}" ON COMMIT DROP AS SELECT * FROM {qualified(schema, table)}'
    )


async def compare(conn: asyncpg.Connection, schema: str, table: str, copy: str) -> TableDiff:
    """The table as it is now (rebuilt) against its copy (as it was)."""
    live_rel, rebuilt_rel = f'pg_temp."{copy}"', qualified(schema, table)
    live_rows, live_digest = await digest(conn, live_rel)
    rebuilt_rows, rebuilt_digest = await digest(conn, rebuilt_rel)
    diff = TableDiff(table, live_rows, rebuilt_rows, live_digest, rebuilt_digest)
    if live_digest == rebuilt_digest:
        return diff
    for first, second, side in ((live_rel, rebuilt_rel, "live"), (rebuilt_rel, live_rel, "new")):
        only = f"""SELECT to_jsonb(a) AS r FROM {first} a
                   EXCEPT ALL SELECT to_jsonb(b) FROM {second} b"""
        count = int(await conn.fetchval(f"SELECT count(*) FROM ({only}) d"))
        sample = [r["r"] for r in await conn.fetch(f"{only} LIMIT {SAMPLE_ROWS}")]
        if side == "live":
            diff.only_live, diff.samples_live = count, sample
        else:
            diff.only_rebuilt, diff.samples_rebuilt = count, sample
    return diff
