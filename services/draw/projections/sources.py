"""The registered entropy sources 公开随机源, as the draw's own read model lists them."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

DDL = [
    """
    CREATE TABLE IF NOT EXISTS draw.entropy_sources (
        code text PRIMARY KEY, name text NOT NULL, publisher text NOT NULL,
        format jsonb NOT NULL, schedule jsonb, registered_at timestamptz NOT NULL)
    """
]


async def apply(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """A source registered: list it (a redelivery changes nothing)."""
    if ev.name != "EntropySourceRegistered":
        return
    d = ev.data
    await conn.execute(
        """INSERT INTO draw.entropy_sources (code, name, publisher, format, schedule,
                                             registered_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING""",
        d["code"],
        d["name"],
        d["publisher"],
        d["format"],
        d["schedule"],
        ev.time,
    )
