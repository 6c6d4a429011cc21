"""A tiny event-sourced application and a deliberately non-idempotent read model, for
testing libs/common (event store, relay, consumer) on their own.

Every application class here has its own service name, hence its own PostgreSQL schema
and its own JetStream stream, so test modules do not see each other's events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg
from eventsourcing.domain import Aggregate, event

from libs.common.consumer import Handler
from libs.common.envelope import InboundEvent
from libs.common.eventstore import EventStoreApp

# Read model: a counter per consumer (``n = n + 1`` is not idempotent, so applying an
# event twice shows up) and a log of every application in the order it happened.
READ_MODEL_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.counts (
    consumer text PRIMARY KEY,
    n int NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.applied (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    event_id text NOT NULL,
    stream_seq bigint NOT NULL
)
"""


class Account(Aggregate):
    """A test account: a creation event and a repeatable later event."""

    @event("Opened")
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.balance = Decimal(0)

    @event("Deposited")
    def deposit(self, amount: Decimal, ref: uuid.UUID) -> None:
        """Add ``amount``; ``ref`` is the caller's reference for the deposit."""
        self.balance += amount


class AccountsApp(EventStoreApp):
    """Base of the test applications; subclasses only choose a service name."""

    service = "accounts"


class LedgerTestApp(AccountsApp):
    """Event-store tests (schema ``ledgertest``)."""

    service = "ledgertest"


class ChainTestApp(AccountsApp):
    """Hash-chained event-store tests (schema ``chaintest``)."""

    service = "chaintest"
    hash_chained = True


class TallyTestApp(AccountsApp):
    """Source stream of the consumer tests (schema ``tallytest``)."""

    service = "tallytest"


class CrashTestApp(AccountsApp):
    """Application of the crash-proof tests, run by :mod:`tests.integration.crash_worker`."""

    service = "crashtest"


CRASH_READ_SCHEMA = "crashread"
CRASH_CONSUMER = "tally"


def relay_app_class(service: str) -> type[AccountsApp]:
    """An application class of its own (own schema, table and stream) for one relay test."""
    return type(f"{service.capitalize()}App", (AccountsApp,), {"service": service})


def open_accounts(app: AccountsApp, accounts: int, deposits: int) -> int:
    """Accounts opened together, deposits interleaved across them; returns events saved."""
    opened = [Account(f"主体{i}") for i in range(accounts)]
    app.save(*opened)
    for d in range(deposits):
        for account in opened:
            account.deposit(Decimal(d + 1), uuid.uuid4())
            app.save(account)
    return accounts * (1 + deposits)


def counting_handler(
    schema: str, consumer: str, fail: Callable[[InboundEvent], bool] | None = None
) -> Handler:
    """A handler that counts and logs each application; raises after writing if ``fail``."""

    async def handle(conn: asyncpg.Connection, ev: InboundEvent) -> None:
        await conn.execute(
            f"INSERT INTO {schema}.counts (consumer, n) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            consumer,
        )
        await conn.execute(f"UPDATE {schema}.counts SET n = n + 1 WHERE consumer = $1", consumer)
        await conn.execute(
            f"INSERT INTO {schema}.applied (consumer, event_id, stream_seq) VALUES ($1, $2, $3)",
            consumer,
            ev.id,
            ev.stream_seq,
        )
        if fail is not None and fail(ev):
            raise HandlerFailed(ev.id)

    return handle


class HandlerFailed(Exception):
    """Raised by a test handler after it has written, to prove the rollback."""


async def poll(
    predicate: Callable[[], Awaitable[object]], timeout: float = 20.0, interval: float = 0.05
) -> object:
    """Async twin of :func:`tests.support.wait_until` (that one blocks the event loop)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
