"""A save of the event store in one statement (one round trip, one implicit transaction).

eventsourcing stores a save in a pipelined transaction: ``SET LOCAL lock_timeout``,
``LOCK TABLE … IN EXCLUSIVE MODE`` (so notification ids commit in the order they were
issued, as the relay needs), ``NOTIFY``, the ``INSERT``, a sync, then ``COMMIT`` in a
second round trip. The table lock is therefore held from the first round trip until the
saving thread has read the answer and sent ``COMMIT``, and that thread first has to win
the GIL back from the event loop and the other command threads: under load the lock was
held for milliseconds, and every save of every process of the service queued behind it.

:data:`APPEND_FUNCTION` does the same steps (and marks the request's ``Idempotency-Key``
carried out, :mod:`libs.common.idempotency_commit`) inside PostgreSQL, called as a single
statement on an autocommit connection: the lock lives for the statement's own execution,
never across a client round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry
from psycopg import sql

from libs.common.idempotency_commit import current_claim

APPEND_FUNCTION = sql.SQL(
    """
    CREATE OR REPLACE FUNCTION {schema}.ssj_append_events(
        ids uuid[], versions bigint[], topics text[], states bytea[],
        lock_timeout text, claim_caller text, claim_key text, claim_owner uuid)
    RETURNS SETOF bigint LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('lock_timeout', lock_timeout, true);
      LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
      NOTIFY {channel};
      IF claim_key IS NOT NULL THEN
        PERFORM {schema}.ssj_idempotency_commit(claim_caller, claim_key, claim_owner);
      END IF;
      RETURN QUERY
        INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING notification_id;
    END $$
    """
)


class OneStatementAppend:
    """The small saves of one service's event store (large ones go by COPY, eventstore.py)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.schema: str = app.schema
        self.lock_timeout = f"{app.recorder.datastore.lock_timeout}s"
        # Binary parameters (%b): in text, psycopg escapes every state byte to hex, about
        # 150 µs of a save's CPU for three events of 2 KB; binary sends them as they are.
        self.call = sql.SQL(
            "SELECT * FROM {}.ssj_append_events("
            "%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b, %b, %b, %b::uuid)"
        ).format(sql.Identifier(self.schema))

    def install(self, conn: Any) -> None:
        """Create (or replace) the function; ``conn`` holds the schema's DDL lock."""
        table = self.app.events_table
        conn.execute(
            APPEND_FUNCTION.format(
                schema=sql.Identifier(self.schema),
                table=sql.Identifier(table),
                channel=sql.Identifier(table.replace(".", "_")),
            )
        )

    # Retried as eventsourcing retries its own insert: a connection that dropped (a
    # PostgreSQL restart) is replaced by the pool. A retry that finds its own first
    # attempt committed fails on the unique key; the event store checks for that.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Store ``stored_events`` in one transaction; their notification ids, in order."""
        claim = current_claim(self.schema)
        params = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
            self.lock_timeout,
            claim.caller if claim else None,
            claim.key if claim else None,
            claim.owner if claim else None,
        )
        with self.app.connection() as conn, conn.cursor() as cur:
            cur.execute(self.call, params, prepare=True)
            return [row["ssj_append_events"] for row in cur.fetchall()]
