"""The table of ``Idempotency-Key`` claims and kept answers (:mod:`libs.common.idempotency`):
its DDL, when a claim is held by nobody any more, and the purge of old rows."""

from __future__ import annotations

import asyncpg

from libs.common import idempotency_commit
from libs.common.liveness import holder_gone

# Rows are kept this long: they hold whole response bodies.
RETENTION_SECONDS = 24 * 3600.0
PURGE_BATCH = 5000

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.idempotency_keys (
    caller text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status int,
    headers jsonb,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
ALTER TABLE {schema}.idempotency_keys ADD COLUMN IF NOT EXISTS owner uuid;
ALTER TABLE {schema}.idempotency_keys ADD COLUMN IF NOT EXISTS lease_until timestamptz;
ALTER TABLE {schema}.idempotency_keys ADD COLUMN IF NOT EXISTS holder text;
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at
    ON {schema}.idempotency_keys (created_at)
"""
DDL = TABLE_DDL + ";\n" + idempotency_commit.DDL


def lapsed(row: str) -> str:
    """SQL: whether the claim of ``row`` (a table alias and dot, or nothing) is held by
    nobody any more: its lease ran out, or its process's session is gone."""
    return (
        f"({row}lease_until IS NULL OR {row}lease_until < now() OR {holder_gone(row + 'holder')})"
    )


async def purge_expired(pool: asyncpg.Pool, schema: str, batch: int = PURGE_BATCH) -> int:
    """Delete keys older than :data:`RETENTION_SECONDS`, ``batch`` rows per statement so no
    statement holds many locks; return how many were deleted."""
    deleted = 0
    while True:
        async with pool.acquire() as conn:
            result = await conn.execute(
                f"""DELETE FROM {schema}.idempotency_keys WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {schema}.idempotency_keys
                        WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))""",
                RETENTION_SECONDS,
                batch,
            )
        count = int(result.split()[-1])
        deleted += count
        if count < batch:
            return deleted
