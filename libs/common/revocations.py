"""吊销名单 — the deny-list of revoked tokens, as every service keeps it.

The office revokes a token by its ``jti`` at the registry (``TokenRevoked`` on the registry
stream); every service copies the revocations into ``{schema}.revoked_tokens`` with the
shared register consumer (:mod:`libs.common.departments`) and refuses a revoked ``jti``
with 401. A request costs no query: each process holds the list in memory and reloads it
from the table at most once every :data:`REFRESH_SECONDS`, so a revocation takes effect
within the consumer's lag plus that second.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg
from fastapi import Request

from libs.common.envelope import InboundEvent
from libs.common.problems import Problem
from libs.common.snapshots import Snapshot

log = logging.getLogger(__name__)
# As libs.common.auth.CLOCK_LEEWAY_SECONDS (auth imports this module): how far a token's
# iat may lie in the future.
CLOCK_SKEW_SECONDS = 30
DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.revoked_tokens (
        jti text PRIMARY KEY, expires_at timestamptz NOT NULL, revoked_at timestamptz)""",
]


async def apply(conn: asyncpg.Connection, schema: str, ev: InboundEvent) -> None:
    """Record one ``TokenRevoked``; applying it again changes nothing."""
    if ev.name != "TokenRevoked":
        return
    # Parsed here, not by PostgreSQL, which refuses offsets past ±15:59 that ISO 8601 (and
    # events stored before the door turned every instant to UTC) may hold.
    expires_at = datetime.fromisoformat(str(ev.data["expires_at"])).astimezone(UTC)
    await conn.execute(
        f'INSERT INTO "{schema}".revoked_tokens (jti, expires_at, revoked_at) '
        "VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
        ev.data["jti"],
        expires_at,
        ev.time,
    )


class DenyList:
    """The revoked ``jti`` of one service, reloaded from its table at most once a second.

    A service whose schema has no ``revoked_tokens`` table (an app assembled without the
    register consumer, such as a test's) has nothing to deny; every service of
    ``services/*/main.py`` has one (tests/unit/test_register_wiring.py).
    """

    def __init__(self, pool: asyncpg.Pool, schema: str, max_ttl_seconds: float) -> None:
        self.pool = pool
        self.schema = schema
        # No token outlives this after its revocation (its iat was before it), whatever
        # expires_at the office gave: a mistaken, early expires_at cannot revive a token.
        self.keep_seconds = max_ttl_seconds + CLOCK_SKEW_SECONDS
        self._jtis = Snapshot(self._load, frozenset[str]())

    async def revoked(self, jti: str) -> bool:
        """Whether ``jti`` is revoked (and not yet expired)."""
        return jti in await self._jtis.current()

    async def _load(self) -> frozenset[str]:
        try:
            async with self.pool.acquire() as conn:
                table = await conn.fetchval(
                    "SELECT to_regclass(format('%I.revoked_tokens', $1::text))", self.schema
                )
                rows = (
                    []
                    if table is None
                    else await conn.fetch(
                        f'SELECT jti FROM "{self.schema}".revoked_tokens '
                        "WHERE expires_at > now() OR coalesce(revoked_at, now()) > "
                        "now() - make_interval(secs => $1)",
                        self.keep_seconds,
                    )
                )
        except (asyncpg.PostgresError, OSError) as exc:
            # Failing closed: a token this service cannot check is not let through.
            log.warning("cannot read the token deny-list (吊销名单): %s", exc)
            raise Problem(
                503, "Service unavailable", "the token deny-list cannot be read; retry shortly"
            ) from exc
        return frozenset(r["jti"] for r in rows)


async def refuse_revoked(request: Request, jti: str) -> None:
    """Raise a 401 problem when the office has revoked the token ``jti``.

    An app without a database pool (a unit test's) keeps no deny-list.
    """
    state = request.app.state
    pool = getattr(state, "pool", None)
    if pool is None:
        return
    deny: DenyList | None = getattr(state, "token_denylist", None)
    if deny is None or deny.pool is not pool:
        settings = state.settings
        deny = DenyList(pool, settings.service, settings.token_max_ttl_seconds)
        state.token_denylist = deny
    if await deny.revoked(jti):
        raise Problem(401, "Unauthorized", "invalid token: the token has been revoked")
