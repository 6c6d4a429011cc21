"""One active relay or consumer per name, however many replicas of a service run.

A PostgreSQL session advisory lock, held on a connection of its own, makes one process the
leader; the others stand by and take over when the lock is released.

The lock is a lease with a bounded term (``lease_seconds``), so a leader that vanishes or
is cut off is replaced within tens of seconds, not after the server's two-hour TCP
keepalive default:

- On the server, the lock session runs with ``idle_session_timeout`` = the lease: a
  session that says nothing for that long (process frozen, host gone, network partition)
  is ended by PostgreSQL, which releases the lock. TCP keepalives (5 s idle, 2 s apart, 3
  probes) and ``tcp_user_timeout`` end it sooner when the peer is gone at the TCP level.
- In the leader, a heartbeat runs :meth:`Leadership.verify` every third of the lease, and
  the owner verifies before every batch; a check that fails or takes longer than a third
  of the lease closes the connection. So a leader learns it lost the lock before the lease
  can have passed to another process, and stops applying.
- At commit, :meth:`Leadership.check_held_on` runs inside the owner's batch transaction
  (on another connection): a leader cut off between its last check and its commit cannot
  commit, because the lock is no longer held by its lock session.

Requires PostgreSQL 14 or later (``idle_session_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

log = logging.getLogger(__name__)


def named_lock(name: str, row: str = "") -> str:
    """SQL: whether the ``pg_locks`` row ``row`` (an alias and dot, or nothing) is the
    granted advisory lock a :class:`Leadership` of the name ``name`` (an SQL text
    expression) takes: pg_try_advisory_lock(bigint) of hashtext(name), which pg_locks shows
    as the key's high half in classid, its low half in objid, objsubid 1."""
    return (
        f"{row}locktype = 'advisory' AND {row}granted AND {row}objsubid = 1 AND "
        f"(({row}classid::bigint << 32) | {row}objid::bigint) = hashtext({name})::bigint"
    )


# Whether a session holds the advisory lock of a name.
_HOLDS = f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE {named_lock('$1')} AND pid = {{pid}})"

# Server-side TCP keepalives of the lock session: a peer gone at the TCP level is noticed
# after about idle + interval × count seconds.
KEEPALIVE_IDLE = 5
KEEPALIVE_INTERVAL = 2
KEEPALIVE_COUNT = 3


class LeadershipLost(Exception):
    """This process no longer holds the lock it needs to go on."""


class Leadership:
    """The right to run one named background loop, held as a lease."""

    def __init__(
        self,
        database_url: str,
        name: str,
        retry_seconds: float = 2.0,
        lease_seconds: float = 15.0,
        held_as: str = "leading",
    ) -> None:
        """``held_as``: what the logs say this process is doing while it holds the lock
        (a process mark, :mod:`libs.common.liveness`, leads nothing)."""
        self.database_url = database_url
        self.name = name
        self.held_as = held_as
        self.retry_seconds = retry_seconds
        self.lease_seconds = lease_seconds
        # A check that takes longer than this counts as a lost lock.
        self.check_seconds = lease_seconds / 3
        self._conn: asyncpg.Connection | None = None
        self._pid: int | None = None
        self._checked_at = 0.0
        self._checking = asyncio.Lock()  # one query at a time on the lock connection
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        """True while the lock's connection is open (see :meth:`verify` for a real check)."""
        return self._conn is not None and not self._conn.is_closed()

    @property
    def pid(self) -> int | None:
        """Backend process id of the lock session while held."""
        return self._pid if self.held else None

    async def _connect(self) -> asyncpg.Connection:
        lease_ms = str(int(self.lease_seconds * 1000))
        return await asyncpg.connect(
            self.database_url,
            timeout=self.check_seconds,
            command_timeout=self.check_seconds,
            server_settings={
                "application_name": f"ssj leader {self.name}"[:63],
                "idle_session_timeout": lease_ms,
                "statement_timeout": str(int(self.check_seconds * 1000)),
                "tcp_keepalives_idle": str(KEEPALIVE_IDLE),
                "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL),
                "tcp_keepalives_count": str(KEEPALIVE_COUNT),
                "tcp_user_timeout": lease_ms,
            },
        )

    async def acquire(self) -> None:
        """Wait until this process holds the lock."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._connect()
                if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.name):
                    self._conn, self._pid = conn, conn.get_server_pid()
                    self._checked_at = time.monotonic()
                    self._heartbeat = asyncio.create_task(
                        self._beat(conn), name=f"lease-{self.name}"
                    )
                    log.info("%s: %s (lease %.0f s)", self.name, self.held_as, self.lease_seconds)
                    return
                log.info("%s: another session holds the lock; standing by", self.name)
            except Exception as exc:  # the database is unreachable or went away: retry
                log.warning("%s: cannot take the lock (%r); retrying", self.name, exc)
            if conn is not None:
                conn.terminate()
            await asyncio.sleep(self.retry_seconds)

    async def verify(self) -> bool:
        """True if this session still holds the lock, checked on the lock connection.

        A check that fails or does not answer within a third of the lease closes the
        connection and forgets it (the caller stops leading and may acquire again).
        """
        conn = self._conn
        if conn is None or conn.is_closed():
            self._forget(conn)
            return False
        try:
            async with self._checking:
                holds = await asyncio.wait_for(
                    conn.fetchval(_HOLDS.format(pid="pg_backend_pid()"), self.name),
                    self.check_seconds,
                )
        except Exception as exc:  # any failure (asyncpg has internal errors too) is a loss
            log.warning(
                "%s: lost the lock's connection (%r); no longer %s", self.name, exc, self.held_as
            )
            holds = False
        if holds:
            self._checked_at = time.monotonic()
            return True
        self._forget(conn)
        return False

    async def check_held_on(self, conn: asyncpg.Connection) -> None:
        """Raise :class:`LeadershipLost` unless our lock session still holds the lock,
        checked on ``conn`` (inside the caller's transaction, just before it commits)."""
        pid = self.pid
        if pid is None or not await conn.fetchval(_HOLDS.format(pid="$2"), self.name, pid):
            raise LeadershipLost(f"{self.name}: the lock is no longer held by this process")

    async def _beat(self, conn: asyncpg.Connection) -> None:
        """Keep the lease while the owner is busy or idle: verify when nothing else has
        for a third of the lease."""
        while self._conn is conn:
            wait = self._checked_at + self.check_seconds - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if not await self.verify():
                return

    def _forget(self, conn: asyncpg.Connection | None) -> None:
        if conn is not None:
            conn.terminate()  # at once: a graceful close could hang on a dead peer
        if self._conn is conn:
            self._conn, self._pid = None, None
            heartbeat, self._heartbeat = self._heartbeat, None
            if heartbeat is not None and heartbeat is not asyncio.current_task():
                heartbeat.cancel()

    def abandon(self) -> None:
        """Give the lock up now, without waiting (ending the session releases it)."""
        self._forget(self._conn)

    async def release(self) -> None:
        """Give the lock up (closing the connection releases it)."""
        conn = self._conn
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat
        self._conn, self._pid = None, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), self.check_seconds)
            except Exception:
                conn.terminate()
