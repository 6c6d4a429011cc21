"""Staged bulk writes: the events of one long operation (a province-wide import), written as
they are made and committed all at once.

A million events cannot wait in memory until the end, nor hold the events table's lock for
a minute. A :class:`BulkWriter` opens one transaction, COPYs each part of the events into a
temporary table as soon as it is made, and at :meth:`BulkWriter.commit` moves them into the
events table with one ``INSERT … SELECT`` under the same EXCLUSIVE lock as every other save
(so notification ids still commit in order, as the relay needs). Until then nothing is
visible; a crash, an exception or :meth:`BulkWriter.rollback` leaves nothing behind, the
temporary table included.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg import sql

from libs.common.context import event_metadata
from libs.common.idempotency_commit import ClaimLost, is_claim_lost, mark_committed

if TYPE_CHECKING:
    from libs.common.eventstore import EventStoreApp

STAGING = "ssj_staged_events"
IDLE_LIMIT = "30min"  # how long a bulk transaction may wait between statements


class BulkWriter(AbstractContextManager["BulkWriter"]):
    """Events staged in one transaction; committed together or not at all."""

    def __init__(self, app: EventStoreApp) -> None:
        if app.hash_chained:
            raise ValueError("hash-chained streams are saved one aggregate at a time")
        self.app = app
        self.staged = 0
        self._meta = event_metadata(app.service)
        self._connection_cm: Any = app.connection()
        self._conn: psycopg.Connection[Any] = self._connection_cm.__enter__()
        self._tx = self._conn.transaction()
        self._tx.__enter__()
        self._done = False
        # The transaction waits while rows are read and checked (a re-import of an unchanged
        # file writes nothing for a minute): the store's short idle-in-transaction limit
        # would end it, so this one gets a long one.
        self._conn.execute(
            sql.SQL("SET LOCAL idle_in_transaction_session_timeout = {}").format(
                sql.Literal(IDLE_LIMIT)
            )
        )
        self._conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (seq bigserial, originator_id uuid, "
                "originator_version int8, topic text, state bytea) ON COMMIT DROP"
            ).format(sql.Identifier(STAGING))
        )

    def write(self, events: Iterable[Any]) -> int:
        """Stamp these domain events with the operation's metadata, encode and stage them;
        how many were staged."""
        to_stored = self.app.mapper.to_stored_event
        stored = []
        for event in events:
            object.__setattr__(event, "meta", dict(self._meta))
            stored.append(to_stored(event))
        if not stored:
            return 0
        with self._conn.cursor() as cur:
            copy_stored(cur, sql.Identifier(STAGING), stored)
        self.staged += len(stored)
        return len(stored)

    def commit(self) -> int:
        """Move every staged event into the events table and commit; how many."""
        app = self.app
        try:
            if self.staged:
                self._conn.execute("SET LOCAL jit = off")  # a second of compiling, for one plan
                app.lock_events_table(self._conn)
                with self._conn.cursor() as cur:
                    mark_committed(cur, app.schema)
                self._conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (originator_id, originator_version, topic, state) "
                        "SELECT originator_id, originator_version, topic, state FROM {} "
                        "ORDER BY seq"
                    ).format(app.events_sql, sql.Identifier(STAGING))
                )
        except psycopg.errors.UniqueViolation as exc:
            self._finish(exc)
            raise IntegrityError(str(exc)) from exc
        except BaseException as exc:
            self._finish(exc)
            if is_claim_lost(exc):
                raise ClaimLost() from exc
            raise
        self._finish(None)  # the commit; its own failure propagates as it is
        if self.staged:
            app.notify_saved()
        return self.staged

    def rollback(self) -> None:
        """Drop everything staged."""
        if not self._done:
            self._finish(_Rollback())

    def _finish(self, exc: BaseException | None) -> None:
        self._done = True
        error = (type(exc), exc, exc.__traceback__) if exc is not None else (None, None, None)
        try:
            self._tx.__exit__(*error)
        finally:
            self._connection_cm.__exit__(None, None, None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self._finish(exc if exc is not None else _Rollback())


def copy_stored(cur: Any, table: sql.Composable, stored: Iterable[StoredEvent]) -> None:
    """Binary COPY of stored events into ``table`` (an events table or its staging copy)."""
    copy_sql = sql.SQL(
        "COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
    ).format(table)
    with cur.copy(copy_sql) as copy:
        copy.set_types(["uuid", "int8", "text", "bytea"])
        for e in stored:
            copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))


class _Rollback(Exception):
    """Ends the transaction without committing (never raised to callers)."""
