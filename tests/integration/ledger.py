"""A minimal event-sourced application for testing the shared machinery on its own."""

from __future__ import annotations

import asyncpg
from eventsourcing.domain import Aggregate, event

from libs.common.envelope import InboundEvent
from libs.common.eventstore import EventStoreApp

APPLIED_DDL = """CREATE TABLE IF NOT EXISTS ledger.applied (
    event_id text PRIMARY KEY, stream_seq bigint NOT NULL, times int NOT NULL);
CREATE TABLE IF NOT EXISTS ledger.applied_in_batches (
    event_id text PRIMARY KEY, stream_seq bigint NOT NULL, times int NOT NULL)"""


class Entry(Aggregate):
    """One ledger entry."""

    @event("EntryAdded")
    def __init__(self, n: int) -> None:
        self.n = n

    @event("EntryAmended")
    def amend(self, n: int) -> None:
        """A later event in the same stream."""
        self.n = n


class LedgerApp(EventStoreApp):
    """Test application with its own schema ``ledger``."""

    service = "ledger"


async def count_applications(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Deliberately not idempotent: applying an event twice shows up as times = 2."""
    await conn.execute(
        """INSERT INTO ledger.applied (event_id, stream_seq, times) VALUES ($1, $2, 1)
           ON CONFLICT (event_id) DO UPDATE SET times = ledger.applied.times + 1""",
        ev.id,
        ev.stream_seq,
    )


async def count_applications_in_batches(
    conn: asyncpg.Connection, events: list[InboundEvent]
) -> None:
    """The same count, one statement per fetched batch."""
    await conn.executemany(
        """INSERT INTO ledger.applied_in_batches (event_id, stream_seq, times) VALUES ($1, $2, 1)
           ON CONFLICT (event_id) DO UPDATE SET times = ledger.applied_in_batches.times + 1""",
        [(ev.id, ev.stream_seq) for ev in events],
    )
