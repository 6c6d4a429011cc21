"""A save in one statement (libs/common/eventstore_append.py): the table lock that orders
notification ids is held for PostgreSQL's own execution of the save, never while the
saving thread runs Python between round trips."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from tests.integration.common_app import Account, LedgerTestApp
from tests.support import Infra

STALL_S = 2.0


@pytest.fixture(scope="module")
def ledger(infra: Infra) -> Iterator[LedgerTestApp]:
    app = LedgerTestApp(infra.settings("appendtest"))
    yield app
    app.close()


def test_a_thread_stalled_in_its_save_holds_back_no_other_save(
    ledger: LedgerTestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first save's thread stalls while it reads its answer (as a thread waiting for
    the GIL does); another save goes through meanwhile. eventsourcing's pipelined save
    read that answer between its INSERT and its COMMIT, with the table locked, and the
    second save waited the whole stall."""
    stalled = threading.local()
    fetchall = psycopg.Cursor.fetchall

    def stalling(self: Any) -> Any:
        rows = fetchall(self)
        if getattr(stalled, "on", False):
            time.sleep(STALL_S)
        return rows

    monkeypatch.setattr(psycopg.Cursor, "fetchall", stalling)
    first, second = Account(owner="first"), Account(owner="second")

    def save_stalling() -> None:
        stalled.on = True
        ledger.save(first)

    worker = threading.Thread(target=save_stalling)
    worker.start()
    time.sleep(0.3)  # the first save is in its stall by now
    started = time.monotonic()
    ledger.save(second)
    took = time.monotonic() - started
    worker.join()
    assert took < STALL_S / 2, f"the second save waited {took:.2f} s for the first one's lock"
    assert ledger.repository.get(first.id).owner == "first"
    assert ledger.repository.get(second.id).owner == "second"


def test_a_conflicting_save_stores_none_of_its_events(ledger: LedgerTestApp) -> None:
    """Two saves of the same version: the second is an IntegrityError, and its other
    events (a new stream) are not stored either: one statement, one transaction."""
    account = Account(owner="o")
    ledger.save(account)
    twin = ledger.repository.get(account.id)
    other = ledger.repository.get(account.id)
    twin.deposit(Decimal(1), uuid.uuid4())
    ledger.save(twin)
    other.deposit(Decimal(5), uuid.uuid4())
    bystander = Account(owner="bystander")
    with pytest.raises(IntegrityError):
        ledger.save(other, bystander)
    assert ledger.repository.get(account.id).balance == 1
    assert bystander.id not in ledger.repository


def test_a_save_of_no_events_takes_no_lock(ledger: LedgerTestApp, infra: Infra) -> None:
    """A save with nothing pending returns at once, even while a bulk write holds the
    table's lock (the one-statement save took the lock and sent a NOTIFY for nothing)."""
    account = Account(owner="idle")
    ledger.save(account)
    unchanged = ledger.repository.get(account.id)
    table = f'"{ledger.schema}"."{ledger.events_table}"'
    with psycopg.connect(infra.database_url) as holder:
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        done = threading.Event()
        threading.Thread(target=lambda: (ledger.save(unchanged), done.set()), daemon=True).start()
        assert done.wait(STALL_S), "a save of no events waited for the table lock"
        holder.rollback()
