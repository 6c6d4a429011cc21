"""Event-store base: an eventsourcing ``Application`` on PostgreSQL, one schema per service.

Adds three things to the library's application:
- every event is stamped, at save time, with the metadata of :mod:`libs.common.context`
  (actor, traceparent, correlation and causation ids);
- streams of applications with ``hash_chained = True`` carry, in each event, the SHA-256 of
  the stored state of its predecessor, so a changed or removed event breaks the chain;
- a trigger on the events table rejects ``UPDATE``, ``DELETE`` and ``TRUNCATE``.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from psycopg import sql

from libs.common.bulk import BulkWriter, copy_stored
from libs.common.context import event_metadata
from libs.common.eventstore_append import OneStatementAppend
from libs.common.eventstore_reads import StoredReads
from libs.common.faults import crash_point
from libs.common.idempotency_commit import ClaimLost, is_claim_lost, mark_committed
from libs.common.settings import CommonSettings
from libs.common.tracing import quiet_statements, tracer

_tracer = tracer("ssj.eventstore")
GENESIS_HASH = "0" * 64
BULK_EVENTS = 2_000  # saves with this many events or more go through COPY
# … or with this many bytes of event state: a pipelined INSERT stalls psycopg for good
# once it outgrows the socket's buffers (about 450 KB over a Unix socket, the embedded
# server's only kind; about 5 MB over TCP), so anything near a buffer goes by COPY.
BULK_BYTES = 128 << 10
# Hashes of the last stored event of recently read or saved streams, so a save links to
# its predecessor without reading it again; only states this small are hashed on reading.
TAIL_CACHE = 20_000
TAIL_STATE_BYTES = 64 << 10


def stored_hash(stored: StoredEvent) -> str:
    """SHA-256 of one stored event's state bytes: the link the next event records."""
    return hashlib.sha256(stored.state).hexdigest()


@contextlib.contextmanager
def schema_ddl(settings: CommonSettings, schema: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection holding the service schema's DDL lock, with the schema created.

    Several processes of one service start together on a new database (every replica of a
    deployment): eventsourcing's ``CREATE … IF NOT EXISTS`` of its table and types is not
    safe against itself ("tuple concurrently updated", a duplicate type name), so the
    schema, eventsourcing's tables and ssj's trigger and function are made one process at
    a time."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (schema,))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (schema,))


class EventStoreApp(StoredReads, Application[UUID]):
    """Base of every service's application (command and query methods live in subclasses)."""

    service: ClassVar[str] = "ssj"
    hash_chained: ClassVar[bool] = False

    def __init__(self, settings: CommonSettings, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.schema = self.service
        pg = settings.postgres
        base_env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg.get("dbname", "postgres"),
            "POSTGRES_HOST": pg.get("host", "127.0.0.1"),
            "POSTGRES_PORT": pg.get("port", "5432"),
            "POSTGRES_USER": pg.get("user", "postgres"),
            "POSTGRES_PASSWORD": pg.get("password", ""),
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "4",
            "CREATE_TABLE": "y",
        }
        base_env.update(env or {})
        self._saved_listeners: list[Callable[[], None]] = []
        with schema_ddl(settings, self.schema) as ddl:
            super().__init__(env=base_env)  # creates eventsourcing's table
            self._append = OneStatementAppend(self)
            self._install_append_only_trigger(ddl)
        self._install_bulk_insert()
        # Per thread: saves run concurrently in the command threads, each linking its own.
        self._local = threading.local()
        self._tails: dict[tuple[UUID, int], str] = {}
        self._install_linked_reuse()
        if self.hash_chained:
            self._install_tail_memory()

    # -- persistence details -------------------------------------------------------------

    @property
    def events_table(self) -> str:
        """Name of the events table inside the service schema."""
        return str(self.recorder.events_table_name)  # type: ignore[attr-defined]

    def _install_append_only_trigger(self, ddl: psycopg.Connection[Any]) -> None:
        stmt = sql.SQL(
            """
            CREATE OR REPLACE FUNCTION {schema}.ssj_reject_event_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'stored events are append-only: % on %.% rejected',
                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
            END $$;
            CREATE OR REPLACE TRIGGER ssj_events_append_only
              BEFORE UPDATE OR DELETE ON {schema}.{table}
              FOR EACH ROW EXECUTE FUNCTION {schema}.ssj_reject_event_change();
            CREATE OR REPLACE TRIGGER ssj_events_no_truncate
              BEFORE TRUNCATE ON {schema}.{table}
              FOR EACH STATEMENT EXECUTE FUNCTION {schema}.ssj_reject_event_change();
            """
        ).format(schema=sql.Identifier(self.schema), table=sql.Identifier(self.events_table))
        ddl.execute(stmt)
        self._append.install(ddl)

    # -- large saves -------------------------------------------------------------------

    def _install_bulk_insert(self) -> None:
        """Route every save through :meth:`_insert`: one statement when small
        (:mod:`libs.common.eventstore_append`), COPY when large.

        A save of :data:`BULK_EVENTS` events or :data:`BULK_BYTES` or more (a bulk import,
        a province-wide draw) goes by COPY, under the same table lock, in one transaction,
        as it did when eventsourcing's pipelined INSERT stalled psycopg for good on a
        message that outgrew the socket's buffers (tests/integration/test_common_eventstore.py
        saves every size).
        """
        recorder: Any = self.recorder
        recorder.insert_events = self._insert

    def _insert(self, stored_events: Sequence[StoredEvent], **_: Any) -> list[int]:
        if not stored_events:
            return []  # nothing to lock the table for, nobody to wake
        size = sum(len(e.state) for e in stored_events)
        if len(stored_events) < BULK_EVENTS and size < BULK_BYTES:
            return self._append.insert(stored_events)
        return self._copy_events(stored_events)

    def _copy_events(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert many events in one transaction, locked as eventsourcing's own insert is
        (:meth:`lock_events_table`), by binary COPY."""
        try:
            with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
                self.lock_events_table(cur)
                mark_committed(cur, self.schema)
                copy_stored(cur, self.events_sql, stored_events)
                cur.execute(
                    sql.SQL("SELECT currval(pg_get_serial_sequence({}, 'notification_id'))").format(
                        sql.Literal(f"{self.schema}.{self.events_table}")
                    )
                )
                row = cur.fetchone()
                last = int(row["currval"])
        except psycopg.errors.UniqueViolation as exc:
            raise IntegrityError(str(exc)) from exc
        # Under the EXCLUSIVE lock nobody else takes numbers from the sequence.
        return list(range(last - len(stored_events) + 1, last + 1))

    def connection(self) -> Any:
        """A connection of the event store's pool (a context manager), for the queries and
        writes eventsourcing has no call for."""
        return self.recorder.datastore.get_connection()  # type: ignore[attr-defined]

    @property
    def events_sql(self) -> sql.Composable:
        """The events table, schema-qualified, for SQL."""
        return sql.Identifier(self.schema, self.events_table)

    def lock_events_table(self, cur: Any) -> None:
        """Prepare the current transaction to add events as eventsourcing's own insert does:
        the store's lock timeout, an EXCLUSIVE lock (so notification ids commit in order, as
        the relay needs) and the NOTIFY its listeners wait for."""
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        cur.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{datastore.lock_timeout}s"))
        )
        cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.events_sql))
        cur.execute(
            sql.SQL("NOTIFY {}").format(sql.Identifier(self.events_table.replace(".", "_")))
        )

    def _install_linked_reuse(self) -> None:
        """Let the save store the stored events that chaining encoded already.

        :meth:`_link` has to encode every event to hash it; eventsourcing then encodes it
        again to store it. For a province-wide draw (tens of MB of JSON) the second
        encoding costs a good part of a second, so the event store takes the first one,
        for exactly the event objects it was made from (checked by identity).
        """
        mapper: Any = self.mapper
        encode = mapper.to_stored_event

        def to_stored_event(event: Any) -> StoredEvent:
            hit = self._linked.pop(id(event), None)
            if hit is not None and hit[0] is event:
                return hit[1]
            return encode(event)

        mapper.to_stored_event = to_stored_event

    @property
    def _linked(self) -> dict[int, tuple[Any, StoredEvent]]:
        """This thread's events encoded by :meth:`_link`, by identity, until stored."""
        linked: dict[int, tuple[Any, StoredEvent]] | None = getattr(self._local, "linked", None)
        if linked is None:
            linked = self._local.linked = {}
        return linked

    def _install_tail_memory(self) -> None:
        """Remember the hash of the last event of every stream read (a command reads its
        aggregate just before it saves), so :meth:`_link` need not read it again. A stored
        event never changes, so the hash of (stream, version) stays true; a save that
        races another for the same version still fails on the unique key."""
        recorder: Any = self.recorder
        select = recorder.select_events

        def select_events(originator_id: UUID, *args: Any, **kwargs: Any) -> Any:
            found = select(originator_id, *args, **kwargs)
            if found and len(found[-1].state) <= TAIL_STATE_BYTES:
                last = found[-1]
                self._remember_tail(last.originator_id, last.originator_version, stored_hash(last))
            return found

        recorder.select_events = select_events

    def _remember_tail(self, aggregate_id: UUID, version: int, digest: str) -> None:
        if len(self._tails) >= TAIL_CACHE:
            self._tails.clear()  # simpler than an LRU; a miss only costs one read
        self._tails[(aggregate_id, version)] = digest

    # -- saving --------------------------------------------------------------------------

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Stamp pending events with metadata (and chain hashes), then store them."""
        pending = [e for obj in objs if obj is not None for e in _pending_events(obj)]
        meta = event_metadata(self.service)
        for event in pending:
            object.__setattr__(event, "meta", dict(meta))
        try:
            # One span for the save's transaction, not one per statement (tracing.py).
            with _tracer.start_as_current_span(f"save {self.service} events") as span:
                span.set_attribute("db.system", "postgresql")
                span.set_attribute("ssj.events", len(pending))
                with quiet_statements():
                    recordings = self._store(pending, objs, kwargs)
        except IntegrityError:
            # An insert retried after its connection dropped (a PostgreSQL restart) finds
            # its own first attempt, which committed: the save succeeded. Any other
            # conflict (another writer's event at this version) is one.
            if not pending or not self._stored_already(pending):
                raise
            recordings = []
        except Exception as exc:
            if is_claim_lost(exc):
                raise ClaimLost() from exc
            raise
        crash_point("eventstore.after_commit")
        self.notify_saved()
        return recordings

    def _store(self, pending: list[Any], objs: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        if not self.hash_chained:
            return super().save(*objs, **kwargs)
        try:
            heads = self._link(pending)
            recordings = super().save(*objs, **kwargs)
        finally:
            self._linked.clear()
        for (aggregate_id, version), digest in heads.items():  # committed: now true
            self._remember_tail(aggregate_id, version, digest)
        return recordings

    def bulk_writer(self) -> BulkWriter:
        """A staged writer for the events of one long operation (see :mod:`libs.common.bulk`)."""
        return BulkWriter(self)

    def notify_saved(self) -> None:
        """Tell the listeners (the relay) that events were committed."""
        for listener in list(self._saved_listeners):
            listener()

    def _link(self, events: Sequence[Any]) -> dict[tuple[UUID, int], str]:
        """Chain each stream's new events to its stored predecessor; returns the hash of
        each stream's last new event."""
        by_aggregate: OrderedDict[UUID, list[Any]] = OrderedDict()
        for event in events:
            by_aggregate.setdefault(event.originator_id, []).append(event)
        heads: dict[tuple[UUID, int], str] = {}
        linked = self._linked
        for aggregate_id, stream in by_aggregate.items():
            first = stream[0].originator_version
            prev = GENESIS_HASH
            if first > 1:
                known = self._tails.get((aggregate_id, first - 1))
                if known is not None:
                    prev = known
                else:
                    before = self.recorder.select_events(aggregate_id, gt=first - 2, lte=first - 1)
                    prev = stored_hash(before[0]) if before else GENESIS_HASH
            for event in stream:
                event.meta["prev_hash"] = prev
                stored = self.mapper.to_stored_event(event)
                linked[id(event)] = (event, stored)  # stored as it is (see above)
                prev = stored_hash(stored)
            heads[(aggregate_id, stream[-1].originator_version)] = prev
        return heads

    def on_saved(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the saving thread) after every successful save."""
        self._saved_listeners.append(listener)

    # -- reading the notification log ----------------------------------------------------

    def notifications_after(self, position: int, limit: int) -> Sequence[Notification]:
        """Stored events with notification id greater than ``position``, in order."""
        return self.recorder.select_notifications(start=position + 1, limit=limit)

    def max_notification_id(self) -> int:
        """Highest notification id written so far (0 when empty)."""
        return int(self.recorder.max_notification_id() or 0)

    def verify_chain(self, aggregate_id: UUID) -> list[str]:
        """Recompute an aggregate's hash chain; return what does not match (empty if intact)."""
        problems: list[str] = []
        prev = GENESIS_HASH
        for stored in self.recorder.select_events(aggregate_id):
            try:
                event = self.mapper.to_domain_event(stored)
            except Exception as exc:  # a forged state may fail to decode in any way
                problems.append(
                    f"version {stored.originator_version}: unreadable ({type(exc).__name__})"
                )
                prev = stored_hash(stored)
                continue
            recorded = (getattr(event, "meta", None) or {}).get("prev_hash")
            if recorded != prev:
                problems.append(
                    f"version {stored.originator_version}: prev_hash {recorded} != {prev}"
                )
            prev = stored_hash(stored)
        return problems


def _pending_events(obj: Any) -> list[Any]:
    events = getattr(obj, "pending_events", None)
    return list(events) if events is not None else [obj]
