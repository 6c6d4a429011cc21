"""One active relay or consumer per name, however many replicas of a service run.

A PostgreSQL session advisory lock, held on a connection of its own, makes one process the
leader; the others wait and take over when its connection ends (crash, restart, network
loss), which PostgreSQL detects and releases for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

log = logging.getLogger(__name__)


class Leadership:
    """The right to run one named background loop."""

    def __init__(self, database_url: str, name: str, retry_seconds: float = 2.0) -> None:
        self.database_url = database_url
        self.name = name
        self.retry_seconds = retry_seconds
        self._conn: asyncpg.Connection | None = None

    @property
    def held(self) -> bool:
        """True while the lock's connection is open."""
        return self._conn is not None and not self._conn.is_closed()

    async def acquire(self) -> None:
        """Wait until this process holds the lock."""
        while True:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                conn = await asyncpg.connect(self.database_url)
                if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.name):
                    self._conn = conn
                    return
                await conn.close()
                log.info("%s: another process leads; standing by", self.name)
            await asyncio.sleep(self.retry_seconds)

    async def release(self) -> None:
        """Give the lock up (closing the connection releases it)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
