"""The event-store base on real PostgreSQL: metadata, append-only trigger, hash chain."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from opentelemetry import trace

from libs.common.context import Actor, CommandContext, command_context
from libs.common.tracing import setup_tracing
from tests.integration.ledger import Entry, LedgerApp
from tests.support import Infra


class ChainedLedgerApp(LedgerApp):
    """Same aggregate, hash-chained stream, own schema."""

    service = "chainedledger"
    hash_chained = True


@pytest.fixture(scope="module")
def chained(infra: Infra) -> Iterator[ChainedLedgerApp]:
    app = ChainedLedgerApp(infra.settings("chainedledger"))
    yield app
    app.close()


@pytest.fixture
def conn(infra: Infra) -> Iterator[psycopg.Connection]:
    with psycopg.connect(infra.database_url, autocommit=True) as c:
        yield c


def _table(app: LedgerApp) -> str:
    return f'"{app.schema}"."{app.events_table}"'


def test_saved_events_carry_actor_correlation_and_trace(chained: ChainedLedgerApp) -> None:
    ctx = CommandContext(actor=Actor("op-7", "TAX", ("operator",)), correlation_id="c-1")
    setup_tracing("test")  # the SDK provider, as every service process installs it
    tracer = trace.get_tracer("test")
    with command_context(ctx), tracer.start_as_current_span("request") as span:
        entry = Entry(1)
        chained.save(entry)
    (stored,) = chained.events.get(entry.id)
    meta = stored.meta  # type: ignore[attr-defined]
    assert meta["actor"] == {"sub": "op-7", "dept": "TAX", "roles": ["operator"]}
    assert meta["correlation_id"] == "c-1"
    assert meta["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert meta["traceparent"].split("-")[1] == meta["trace_id"]


def test_event_without_a_caller_is_recorded_as_the_service_itself(
    chained: ChainedLedgerApp,
) -> None:
    entry = Entry(2)
    chained.save(entry)
    (stored,) = chained.events.get(entry.id)
    assert stored.meta["actor"]["sub"] == "system:chainedledger"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET topic = 'forged'",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
    ],
    ids=["update", "delete", "truncate"],
)
def test_stored_events_cannot_be_changed_or_removed(
    chained: ChainedLedgerApp, conn: psycopg.Connection, statement: str
) -> None:
    chained.save(Entry(3))
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        conn.execute(statement.format(table=_table(chained)))


def test_second_writer_of_the_same_version_is_rejected(chained: ChainedLedgerApp) -> None:
    entry = Entry(4)
    chained.save(entry)
    first = chained.repository.get(entry.id)
    second = chained.repository.get(entry.id)
    first.amend(5)
    second.amend(6)
    chained.save(first)
    with pytest.raises(IntegrityError):
        chained.save(second)


def test_hash_chain_is_intact_and_reveals_a_forged_event(
    chained: ChainedLedgerApp, conn: psycopg.Connection
) -> None:
    entry = Entry(10)
    chained.save(entry)
    aggregate = chained.repository.get(entry.id)
    for n in range(3):
        aggregate.amend(11 + n)
        chained.save(aggregate)
    assert chained.verify_chain(entry.id) == []

    # Forge version 2 as an attacker with superuser rights would: bypass the trigger.
    table = _table(chained)
    conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        where = "WHERE originator_id = %s AND originator_version = 2"
        (state,) = conn.execute(f"SELECT state FROM {table} {where}", (entry.id,)).fetchone()
        forged = json.loads(bytes(state))
        assert forged["n"] == 11
        forged["n"] = 99
        conn.execute(
            f"UPDATE {table} SET state = %s {where}", (json.dumps(forged).encode(), entry.id)
        )
    finally:
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    problems = chained.verify_chain(entry.id)
    assert len(problems) == 1 and problems[0].startswith("version 3")


def test_a_large_save_goes_in_whole_in_order_and_once(chained: ChainedLedgerApp) -> None:
    """Thousands of events (or megabytes) in one save take the COPY path: all of them in
    one transaction, notification ids contiguous in save order, chained, append-only."""
    from libs.common.eventstore import BULK_EVENTS

    before = chained.max_notification_id()
    entries = [Entry(n) for n in range(BULK_EVENTS + 500)]
    recordings = chained.save(*entries)
    assert [r.notification.id for r in recordings] == list(
        range(before + 1, before + len(entries) + 1)
    )
    assert chained.max_notification_id() == before + len(entries)
    stored = chained.notifications_after(before, len(entries))
    assert [n.originator_id for n in stored] == [e.id for e in entries]
    assert chained.verify_chain(entries[-1].id) == []
    assert chained.repository.get(entries[7].id).n == 7

    # Two writers amend the same aggregates: the second bulk save is refused whole.
    first = [chained.repository.get(e.id) for e in entries[:BULK_EVENTS]]
    second = [chained.repository.get(e.id) for e in entries[:BULK_EVENTS]]
    for a, b in zip(first, second, strict=True):
        a.amend(1)
        b.amend(2)
    chained.save(*first)
    written = chained.max_notification_id()
    with pytest.raises(IntegrityError):
        chained.save(Entry(-1), *second)
    assert chained.max_notification_id() == written


class BulkLedgerApp(LedgerApp):
    """Own schema, and the store's idle-in-transaction limit cut to one second."""

    service = "bulkledger"


def test_bulk_writes_are_invisible_until_commit_and_outlive_the_idle_limit(
    infra: Infra,
) -> None:
    import time

    app = BulkLedgerApp(
        infra.settings("bulkledger"), env={"POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "1"}
    )
    try:
        before = app.max_notification_id()
        entries = [Entry(n) for n in range(30)]
        with app.bulk_writer() as bulk:
            assert bulk.write(e for entry in entries[:10] for e in entry.collect_events()) == 10
            time.sleep(1.5)  # reading the rest of a large file, longer than the store allows
            bulk.write(e for entry in entries[10:] for e in entry.collect_events())
            assert app.max_notification_id() == before  # nothing visible yet
            assert bulk.commit() == 30
        stored = app.notifications_after(before, 100)
        assert [n.originator_id for n in stored] == [e.id for e in entries]
        assert app.repository.get(entries[29].id).n == 29
        meta = json.loads(stored[0].state)["meta"]
        assert meta["actor"]["sub"] == "system:bulkledger"

        # Left without commit (an exception, a rejected file): nothing stays.
        with pytest.raises(RuntimeError), app.bulk_writer() as bulk:
            bulk.write(Entry(99).collect_events())
            raise RuntimeError("the file turned out bad")
        with app.bulk_writer() as bulk:
            bulk.write(Entry(98).collect_events())
            bulk.rollback()
        assert app.max_notification_id() == before + 30

        # A record that exists already (someone else wrote it) fails the whole commit.
        with pytest.raises(IntegrityError), app.bulk_writer() as bulk:
            fresh = Entry(40)
            clash = Entry(41).collect_events()
            object.__setattr__(clash[0], "originator_id", entries[0].id)  # its version 1
            bulk.write([*fresh.collect_events(), *clash])
            bulk.commit()
        assert app.max_notification_id() == before + 30
        assert fresh.id not in app.repository
    finally:
        app.close()
