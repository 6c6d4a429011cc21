"""Counts of subjects for many pool filters in one request (the planner's merge
suggestions and ratios: services/registry/counting.py)."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter
from pydantic import Field

from libs.common.answers import Answer
from libs.common.commands import Command, Part
from libs.common.text import Code
from services.registry.api.deps import Pool, Reader
from services.registry.api.subjects import RiskClassCount
from services.registry.counting import (
    COLUMNS,
    CUBE_SQL,
    PAGES_SQL,
    SubjectCube,
    page_ranges,
)

router = APIRouter(prefix="/v1", tags=["subjects"])
MAX_QUERIES = 1000
MAX_POOLS = 16
# Ranges of the subjects' pages grouped side by side, each on a connection: the cores
# PostgreSQL may use for one request on the machine the figures were taken on (2).
PARTS = 2
# subjects_view is written by the "views" consumer alone (durable name registry-views),
# which records the stream position it has applied in the same transaction: the same
# position, the same subjects.
POSITION_SQL = """SELECT coalesce(max(stream_seq), 0) FROM registry.consumer_position
                  WHERE consumer = 'registry-views'"""


class PoolFilter(Part):
    """抽查对象范围 — the draw's pool filter (an empty list restricts nothing, except
    ``statuses``: empty means operating subjects)."""

    region_prefixes: list[Annotated[str, Field(pattern=r"^[0-9]{2,6}$")]] = Field(
        default_factory=list, max_length=300
    )
    kinds: list[Literal["for_profit", "non_profit", "non_market"]] = Field(
        default_factory=list, max_length=3
    )
    industries: list[Annotated[str, Field(pattern=r"^[A-Z][0-9]{0,2}$")]] = Field(
        default_factory=list, max_length=120
    )
    risk_classes: list[Literal["A", "B", "C", "D"]] = Field(default_factory=list, max_length=4)
    tags: list[Code] = Field(default_factory=list, max_length=100)
    statuses: list[Literal["operating", "deregistered", "revoked", "moved_out", "cancelled"]] = (
        Field(default_factory=list, max_length=5)
    )
    flags: list[Literal["abnormal_operation", "serious_violation"]] = Field(
        default_factory=list, max_length=2
    )


class CountQuery(Part):
    """Subjects matching every pool listed (the overlap of several batch pools)."""

    all_of: list[PoolFilter] = Field(min_length=1, max_length=MAX_POOLS)


class CountsIn(Command):
    """Up to 1,000 queries, answered in order."""

    # Counted with every default written out (a pool sent as ``{}`` takes some 100 bytes):
    # the planner sends at most 200 queries a request, well inside.
    max_bytes = 512 * 1024

    queries: list[CountQuery] = Field(min_length=1, max_length=MAX_QUERIES)


class CountsOut(Answer):
    """The counts, in the order of the queries, and what they were counted from."""

    counts: list[RiskClassCount]
    subjects: int = Field(description="subjects counted from (closed ones excluded)")
    as_of: int = Field(description="the registry stream position of the subjects")
    groups: int = Field(description="groups of alike subjects the counts ran over")
    seconds: float = Field(description="time taken")


class CubeCache:
    """The cube of this process, rebuilt when the subjects have changed since (one build at
    a time: requests arriving meanwhile wait for it rather than build their own)."""

    def __init__(self) -> None:
        self.position = -1
        self.cube: SubjectCube | None = None
        self.lock = asyncio.Lock()

    async def get(self, db: asyncpg.Pool) -> tuple[SubjectCube, int]:
        """The cube as of the subjects' current position, and that position."""
        async with self.lock, db.acquire() as conn:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                position = int(await conn.fetchval(POSITION_SQL))
                if self.cube is None or position != self.position:
                    rows = await _group(db, conn)
                    self.cube = await asyncio.to_thread(SubjectCube.from_aggregates, rows)
                    self.position = position
            return self.cube, self.position


async def _group(db: asyncpg.Pool, conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The groups of every subject ``conn``'s transaction sees, in :data:`PARTS` ranges of
    pages grouped side by side (hashing a million rows is the cost: 1.2 s on one core,
    0.75 s on two), every other part on a connection of its own that imports the snapshot
    of ``conn`` (so every part sees the same subjects, at the same position)."""
    snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
    ranges = page_ranges(int(await conn.fetchval(PAGES_SQL)), PARTS)
    async with AsyncExitStack() as stack:
        others = [await stack.enter_async_context(db.acquire()) for _ in ranges[1:]]
        for other in others:
            await stack.enter_async_context(
                other.transaction(isolation="repeatable_read", readonly=True)
            )
            await other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        # Every part finishes before any connection is given back, even when one failed.
        parts = await asyncio.gather(
            *(_part(c, r) for c, r in zip([conn, *others], ranges, strict=True)),
            return_exceptions=True,
        )
    for part in parts:
        if isinstance(part, BaseException):
            raise part
    return [part for part in parts if not isinstance(part, BaseException)]


async def _part(
    conn: asyncpg.Connection, pages: tuple[tuple[int, int], tuple[int, int]]
) -> dict[str, Any]:
    # JIT compiling the grouping costs more than it saves; hashing is the plan (sorting text
    # under the database's collation took twice as long, chosen when a range's size was
    # misjudged); the groups of half a million subjects take some 20 MB to hash (4 MB would
    # spill to disk); parallel workers of one part would only take the other part's core.
    for setting in (
        "jit = off",
        "enable_sort = off",
        "work_mem = '64MB'",
        "max_parallel_workers_per_gather = 0",
    ):
        await conn.execute(f"SET LOCAL {setting}")
    row = await conn.fetchrow(CUBE_SQL, *pages)
    return dict(row) if row is not None else dict.fromkeys((*COLUMNS, "n"))


CACHE = CubeCache()


@router.post(
    "/subject-counts",
    response_model=CountsOut,
    summary="Count subjects for many pool filters at once",
)
async def count_subjects(body: CountsIn, who: Reader, db: Pool) -> dict[str, Any]:
    """For each query, the subjects every one of its pools admits, in all and per
    credit-risk class, as the draw would find them in its pool (closed subjects never).
    ``as_of`` is the registry stream position the subjects were counted at."""
    started = time.perf_counter()
    cube, position = await CACHE.get(db)
    queries = [[p.model_dump() for p in q.all_of] for q in body.queries]
    counts = await asyncio.to_thread(lambda: [cube.count(q) for q in queries])
    return {
        "counts": counts,
        "subjects": cube.subjects,
        "as_of": position,
        "groups": cube.size,
        "seconds": round(time.perf_counter() - started, 3),
    }
