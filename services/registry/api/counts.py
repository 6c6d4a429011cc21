"""Counts of subjects for many pool filters in one request (the planner's merge
suggestions and ratios: services/registry/counting.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter
from pydantic import Field

from libs.common.commands import Command, Part
from libs.common.text import Code
from services.registry.api.deps import Pool, Reader
from services.registry.counting import CUBE_SQL, SubjectCube

router = APIRouter(prefix="/v1", tags=["subjects"])
MAX_QUERIES = 1000
MAX_POOLS = 16
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

    max_bytes = 512 * 1024

    queries: list[CountQuery] = Field(min_length=1, max_length=MAX_QUERIES)


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
                    await conn.execute("SET LOCAL jit = off")
                    row = await conn.fetchrow(CUBE_SQL)
                    columns = dict(row) if row is not None else {}
                    self.cube = await asyncio.to_thread(SubjectCube, columns)
                    self.position = position
            return self.cube, self.position


CACHE = CubeCache()


@router.post("/subject-counts", summary="Count subjects for many pool filters at once")
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
