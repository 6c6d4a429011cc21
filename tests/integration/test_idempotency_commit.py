"""An Idempotency-Key is marked as carried out in the very transaction that stores its
command's events, and only by the request that still holds it.

First on the event store itself (both ways a save is written: the small insert and COPY, and
the bulk writer), then through a real disclosure process killed, as kill -9 would, between
storing an export's record and answering: its retry, once the dead claim lapses, is told
"already carried out" and nothing is recorded twice (before, it exported a second time)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from libs.common.faults import CRASH_EXIT_CODE
from libs.common.idempotency_commit import Claim, ClaimLost, holding
from libs.common.idempotency_table import DDL
from tests.integration.ledger import Entry, LedgerApp
from tests.support import Infra, ServiceProcess, token


class ClaimLedgerApp(LedgerApp):
    """The test ledger in a schema of its own, with the services' idempotency table."""

    service = "claimledger"


@pytest.fixture(scope="module")
def ledger(infra: Infra) -> Iterator[ClaimLedgerApp]:
    app = ClaimLedgerApp(infra.settings("claimledger"))
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute(DDL.format(schema=app.schema))  # type: ignore[arg-type]
    yield app
    app.close()


def _claim(infra: Infra, schema: str, key: str, owner: uuid.UUID) -> None:
    """A key held by ``owner``, as the middleware inserts it when a request starts."""
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.idempotency_keys (caller, key, request_hash, owner, lease_until) "
                "VALUES ('c', %s, 'h', %s, now() + interval '1 minute')"
            ).format(sql.Identifier(schema)),
            (key, owner),
        )


def _committed_at(infra: Infra, schema: str, key: str) -> object:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT committed_at FROM {}.idempotency_keys WHERE key = %s").format(
                sql.Identifier(schema)
            ),
            (key,),
        ).fetchone()
    assert row is not None
    return row[0]


def _stored(app: LedgerApp, entry: Entry) -> int:
    return len(app.recorder.select_events(entry.id))


@pytest.mark.parametrize("events", [1, 2_500], ids=["insert", "copy"])
def test_a_save_marks_the_key_of_its_request_in_the_same_transaction(
    infra: Infra, ledger: ClaimLedgerApp, events: int
) -> None:
    key, owner = f"k-{uuid.uuid4()}", uuid.uuid4()
    _claim(infra, ledger.schema, key, owner)
    assert _committed_at(infra, ledger.schema, key) is None
    entries = [Entry(n) for n in range(events)]
    with holding(Claim(ledger.schema, "c", key, owner)):
        ledger.save(*entries)
    assert _committed_at(infra, ledger.schema, key) is not None
    assert all(_stored(ledger, e) == 1 for e in entries[:3])


@pytest.mark.parametrize("events", [1, 2_500], ids=["insert", "copy"])
def test_a_request_whose_key_was_taken_over_stores_nothing(
    infra: Infra, ledger: ClaimLedgerApp, events: int
) -> None:
    key = f"k-{uuid.uuid4()}"
    _claim(infra, ledger.schema, key, uuid.uuid4())  # a retry now holds the key
    entries = [Entry(n) for n in range(events)]
    with holding(Claim(ledger.schema, "c", key, uuid.uuid4())), pytest.raises(ClaimLost):
        ledger.save(*entries)
    assert _stored(ledger, entries[0]) == 0
    assert _committed_at(infra, ledger.schema, key) is None


@pytest.mark.parametrize("events", [1, 2_500], ids=["insert", "copy"])
def test_a_request_whose_key_was_taken_over_and_dropped_stores_nothing(
    infra: Infra, ledger: ClaimLedgerApp, events: int
) -> None:
    """The retry that took the key over ended without an answer worth keeping (a 5xx) and
    deleted the row: the first attempt, still running, must not store its events then
    either (its client would get an answer no row records, and the next retry would run
    the command again)."""
    key = f"k-{uuid.uuid4()}"  # no row: taken over, then dropped by the taker
    entries = [Entry(n) for n in range(events)]
    with holding(Claim(ledger.schema, "c", key, uuid.uuid4())), pytest.raises(ClaimLost):
        ledger.save(*entries)
    assert _stored(ledger, entries[0]) == 0


def test_the_bulk_writer_is_fenced_too(infra: Infra, ledger: ClaimLedgerApp) -> None:
    key, owner = f"k-{uuid.uuid4()}", uuid.uuid4()
    _claim(infra, ledger.schema, key, owner)
    kept = Entry(1)
    with holding(Claim(ledger.schema, "c", key, owner)), ledger.bulk_writer() as writer:
        writer.write(kept.collect_events())
        writer.commit()
    assert _stored(ledger, kept) == 1
    assert _committed_at(infra, ledger.schema, key) is not None

    lost = Entry(2)
    with (
        holding(Claim(ledger.schema, "c", key, uuid.uuid4())),
        ledger.bulk_writer() as writer,
        pytest.raises(ClaimLost),
    ):
        writer.write(lost.collect_events())
        writer.commit()
    assert _stored(ledger, lost) == 0


def test_saves_outside_a_keyed_request_or_of_another_schema_are_unaffected(
    infra: Infra, ledger: ClaimLedgerApp
) -> None:
    plain = Entry(3)
    ledger.save(plain)
    # A claim of another service's schema (a consumer's save seen from elsewhere) is not ours.
    with holding(Claim("elsewhere", "c", "k", uuid.uuid4())):
        other = Entry(4)
        ledger.save(other)
    assert _stored(ledger, plain) == 1 and _stored(ledger, other) == 1


def _exports(infra: Infra) -> int:
    """ExportRecorded events in the disclosure's events table (the one the trigger guards)."""
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        table = conn.execute(
            "SELECT event_object_table FROM information_schema.triggers "
            "WHERE trigger_schema = 'disclosure' AND trigger_name = 'ssj_events_append_only'"
        ).fetchone()
        assert table is not None
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE topic LIKE %s").format(
                sql.Identifier("disclosure", table[0])
            ),
            ("%ExportRecorded%",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_command_stored_before_its_process_died_is_not_run_again_by_the_retry(
    infra: Infra,
) -> None:
    # A lease of a minute: the dead process's claim is free as soon as its PostgreSQL
    # session is gone (libs/common/liveness.py), long before the lease would lapse.
    env = {"SSJ_IDEMPOTENCY_CLAIM_SECONDS": "60"}
    office = {
        "Authorization": f"Bearer {token(infra, 'office-k', 'OFFICE', 'office')}",
        "Idempotency-Key": f"export-{uuid.uuid4()}",
    }
    body = {"period_from": "2026-01-01", "period_to": "2026-01-31", "format": "csv"}
    doomed = ServiceProcess(
        infra, "disclosure", SSJ_CRASH_AT="eventstore.after_commit", **env
    ).start()
    try:
        before = _exports(infra)
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"{doomed.url}/v1/exports", json=body, headers=office, timeout=30)
        assert doomed.proc is not None and doomed.proc.wait(30) == CRASH_EXIT_CODE
    finally:
        doomed.stop()
    assert _exports(infra) == before + 1  # the record was stored, the answer never sent

    survivor = ServiceProcess(infra, "disclosure", **env).start()
    try:
        started = time.monotonic()
        while True:
            answer = httpx.post(f"{survivor.url}/v1/exports", json=body, headers=office)
            assert answer.status_code == 409, answer.text
            if answer.json()["title"] != "Request in progress":
                break
            assert time.monotonic() - started < 15, "the dead request's claim was not freed"
            time.sleep(0.3)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["title"] == "Request already carried out"
        # Asked again, the same answer; and the export was recorded once.
        again = httpx.post(f"{survivor.url}/v1/exports", json=body, headers=office)
        assert (again.status_code, again.json()["title"]) == (409, "Request already carried out")
        assert _exports(infra) == before + 1
        # Another key is another request: it runs.
        fresh = httpx.post(
            f"{survivor.url}/v1/exports",
            json=body,
            headers={**office, "Idempotency-Key": f"export-{uuid.uuid4()}"},
        )
        assert fresh.status_code == 200, fresh.text
        assert _exports(infra) == before + 2
    finally:
        survivor.stop()


def test_a_save_whose_first_attempt_committed_unseen_succeeds(
    infra: Infra, ledger: ClaimLedgerApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert committed but its answer was lost (PostgreSQL restarted): eventsourcing
    inserts again and hits its own events. That save succeeded, and says so."""
    recorder: Any = ledger.recorder
    insert = recorder.insert_events

    def committed_then_retried(stored: Any, **kwargs: Any) -> Any:
        insert(stored, **kwargs)  # committed; its answer lost
        return insert(stored, **kwargs)  # the retry: IntegrityError on its own events

    monkeypatch.setattr(recorder, "insert_events", committed_then_retried)
    entry = Entry(7)
    ledger.save(entry)
    assert _stored(ledger, entry) == 1
    monkeypatch.undo()
    entry.amend(11)
    ledger.save(entry)  # and the stream goes on from there
    assert _stored(ledger, entry) == 2


def test_a_real_conflict_is_still_one(infra: Infra, ledger: ClaimLedgerApp) -> None:
    entry = Entry(8)
    ledger.save(entry)
    first, second = ledger.repository.get(entry.id), ledger.repository.get(entry.id)
    first.amend(9)
    second.amend(10)
    ledger.save(first)
    with pytest.raises(IntegrityError):
        ledger.save(second)
    assert ledger.repository.get(entry.id).n == 9
