"""This process's mark in PostgreSQL: an advisory lock held for as long as the process lives,
so that another replica can tell at once that a request's owner has died.

An ``Idempotency-Key`` claim (:mod:`libs.common.idempotency`) lapses when its lease runs
out (a minute, renewed while the request runs). A process killed mid-request held its keys
that long: each retry of its clients was told "request in progress" for up to a minute,
and ``make chaos`` measured it as the time the load took to stop. Each process now holds the
session advisory lock of a name of its own (:class:`~libs.common.leader.Leadership`: its own
connection, heartbeat, keepalives and ``idle_session_timeout``) and writes that name on
the claims it takes. PostgreSQL releases the lock the moment the session ends, and the
session of a killed process ends when the kernel closes its socket; a claim whose holder's
lock is gone has lapsed, whatever its lease says (:func:`holder_gone`).

This only shortens the wait. What makes a takeover safe is still the claim's owner token,
which fences the saves (:mod:`libs.common.idempotency_commit`): a process that merely lost
its lock session for a moment (PostgreSQL restarted) and whose claim was taken over
meanwhile stores nothing of that request (``ClaimLost``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from libs.common.leader import Leadership, named_lock

log = logging.getLogger(__name__)

# Seconds between looks at the lock session (taken again when it was lost).
KEEP_SECONDS = 2.0
# The mark's session lease is the claims' lease, and never under the leaders' default.
MIN_LEASE_SECONDS = 15.0


def holder_gone(holder: str) -> str:
    """SQL: whether the process named by the text expression ``holder`` no longer holds its
    lock in this database (false for a claim without a holder: only its lease counts)."""
    # Advisory locks are per database: the same name may be held in another one.
    return f"""({holder} IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_locks l WHERE {named_lock(holder, "l.")}
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))"""


class ProcessMark:
    """The advisory lock of a name only this process uses, held from :meth:`start` to
    :meth:`stop` and taken again whenever its session is lost."""

    def __init__(self, database_url: str, lease_seconds: float) -> None:
        """``lease_seconds``: the claims' lease. The mark's session is kept as long (its
        ``idle_session_timeout``, a third of it for a check to answer), so a process that
        stalls or checks slowly loses its claims no sooner than their lease would lapse;
        only a session that ends (the process died, the connection broke, PostgreSQL
        restarted) frees them sooner."""
        self.name = f"ssj process {uuid.uuid4()}"
        self._lock = Leadership(
            database_url,
            self.name,
            retry_seconds=1.0,
            lease_seconds=max(lease_seconds, MIN_LEASE_SECONDS),
            held_as="marked alive (its Idempotency-Key claims are known to be its own)",
        )
        self._keeper: asyncio.Task[None] | None = None

    @property
    def holder(self) -> str | None:
        """What a claim taken now records as its holder: this mark's name while it is held;
        None while it is not (being taken again), so that such a claim lapses only with its
        lease and is not taken over at once."""
        return self.name if self._lock.held else None

    async def start(self) -> None:
        """Take the lock (waits until the database answers) and keep it."""
        await self._lock.acquire()
        self._keeper = asyncio.create_task(self._keep(), name="process-mark")

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(KEEP_SECONDS)
            if not self._lock.held:
                log.warning("process mark lost (进程标记丢失); taking it again")
                await self._lock.acquire()

    async def stop(self) -> None:
        """Give the lock up: this process's claims are then seen as its owner gone."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        await self._lock.release()
