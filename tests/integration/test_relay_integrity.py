"""The relay keeps its promises when the stream and the database are not the same history
(a database reset under streams that stayed; a stream that lost acknowledged messages) and
when an event will not go out: it refuses, republishes or stops loudly, never skips."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.common import cli
from libs.common.auth import issue_token
from libs.common.bus import ensure_stream, reset_streams, stream_config
from libs.common.consumer import Consumer
from libs.common.envelope import InboundEvent
from libs.common.eventstore import BULK_BYTES
from libs.common.health import router as health_router
from libs.common.own_stream import OwnStore
from libs.common.relay import (
    LOST_MESSAGES,
    MAX_BACKOFF_SECONDS,
    NOT_PUBLISHABLE,
    TRANSIENT_BACKOFF_SECONDS,
    Relay,
    next_backoff,
)
from libs.common.relay_head import MISMATCH
from libs.common.relay_wire import CONTENT_HASH_HEADER, no_span, parse_headers
from libs.common.service import migrate, open_pool
from libs.common.settings import CommonSettings
from tests.integration.common_app import Account, AccountsApp, open_accounts, poll, relay_app_class
from tests.support import Infra

READ_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.seen (
    event_id text PRIMARY KEY,
    subject text NOT NULL,
    stream_seq bigint NOT NULL
)
"""


@pytest.fixture
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


async def relay_for(
    settings: CommonSettings, js: JetStreamContext, pool: asyncpg.Pool
) -> tuple[AccountsApp, Relay]:
    app = await asyncio.to_thread(relay_app_class(settings.service), settings)
    relay = Relay(app, js, pool)
    await relay.setup()
    return app, relay


async def publish_all(relay: Relay) -> list[int]:
    passes = []
    while published := await relay.publish_pending():
        passes.append(published)
    return passes


async def held_ids(js: JetStreamContext, stream: str) -> list[tuple[int, str]]:
    """(sequence, Nats-Msg-Id) of every message the stream holds."""
    state = (await js.stream_info(stream)).state
    out = []
    for seq in range(int(state.first_seq or 1), int(state.last_seq or 0) + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        out.append((seq, (msg.headers or {})["Nats-Msg-Id"]))
    return out


def seen_handler(schema: str) -> Any:
    async def handle(conn: asyncpg.Connection, ev: InboundEvent) -> None:
        await conn.execute(
            f"INSERT INTO {schema}.seen (event_id, subject, stream_seq) VALUES ($1, $2, $3)",
            ev.id,
            ev.subject,
            ev.stream_seq,
        )

    return handle


async def readyz(pool: asyncpg.Pool, nc: NATS, relay: Relay) -> httpx.Response:
    """/readyz of a service holding only this relay."""
    app = FastAPI()
    app.include_router(health_router)
    app.state.pool = pool
    app.state.nc = nc
    app.state.relay = relay
    app.state.consumers = []
    app.state.settings = relay.settings
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        # /readyz shows its checks (alarms) to the office and auditors only.
        office = issue_token(relay.settings, sub="office", dept="OFFICE", roles=["office"])
        return await client.get("/readyz", headers={"Authorization": f"Bearer {office}"})


@pytest.mark.parametrize(
    ("accounts", "deposits", "reason"),
    [
        (1, 2, "the stream is ahead of the database"),  # 3 events under a stream of 8
        (3, 3, "the database's event with that notification id has different content"),
    ],
    ids=["database-behind", "database-different"],
)
async def test_a_database_reset_under_its_streams_is_refused_until_the_streams_are_reset(
    infra: Infra, nc: NATS, accounts: int, deposits: int, reason: str
) -> None:
    # A namespace of its own: the documented recovery deletes all of a namespace's streams.
    namespace = f"{infra.namespace}r{accounts}"
    service, read_schema = f"relayreset{accounts}", f"relayread{accounts}"
    settings = infra.settings(service).model_copy(
        update={"namespace": namespace, "relay_batch": 100, "consumer_retry_max_seconds": 0.3}
    )
    js = nc.jetstream()
    pool = await open_pool(settings, max_size=4)

    def consumer(pool: asyncpg.Pool, app: AccountsApp, relay: Relay) -> Consumer:
        """A read model of the service's own stream, in the service's own database."""
        own = OwnStore(service, app.schema, app.events_table, relay.encoder)
        return Consumer(
            settings=settings,
            schema=read_schema,
            name="seen",
            source=service,
            handler=seen_handler(read_schema),
            js=js,
            pool=pool,
            own_store=own,
        )

    async def applied(pool: asyncpg.Pool) -> list[tuple[str, str]]:
        rows = await pool.fetch(f"SELECT event_id, subject FROM {read_schema}.seen ORDER BY 1")
        return sorted((r["event_id"], r["subject"]) for r in rows)

    try:
        # Before: 8 events published and applied downstream.
        app, relay = await relay_for(settings, js, pool)
        old_total = await asyncio.to_thread(open_accounts, app, 2, 3)
        await publish_all(relay)
        await migrate(pool, read_schema, [READ_DDL])
        before = consumer(pool, app, relay)
        await before.setup()
        before.start()
        try:
            await poll(lambda: _count(pool, read_schema, old_total), timeout=20)
        finally:
            await before.stop()
        app.close()

        # The database is reset (here: its schemas dropped); the streams stay.
        await pool.execute(f"DROP SCHEMA {service} CASCADE; DROP SCHEMA {read_schema} CASCADE")
        await pool.close()
        pool = await open_pool(settings, max_size=4)
        app, relay = await relay_for(settings, js, pool)
        total = await asyncio.to_thread(open_accounts, app, accounts, deposits)

        assert await relay.publish_pending() == 0
        alarm = relay.alarm.current
        assert alarm is not None and alarm.reason == MISMATCH
        assert alarm.details == {
            "stream": relay.stream,
            "stream_last_seq": old_total,
            "stream_msg_id": f"{service}:{old_total}",
            "database_max_id": total,
            "reason": reason,
        }
        assert "ssj streams reset" in alarm.message
        # The new database's own read model does not take the old stream's events.
        await migrate(pool, read_schema, [READ_DDL])
        after = consumer(pool, app, relay)
        await after.setup()
        after.start()
        await poll(lambda: _alarmed(after), timeout=20)
        assert after.alarm.current is not None
        shown_to_operator = after.alarm.current.details
        # The batch it refused ends at a sequence delivery chose (all 8, or fewer).
        seq = shown_to_operator["stream_seq"]
        assert shown_to_operator == {
            "stream": relay.stream,
            "stream_seq": seq,
            "stream_msg_id": f"{service}:{seq}",
            "database_max_id": total,
            "reason": shown_to_operator["reason"],
        }
        assert shown_to_operator["reason"] in {
            "the stream is ahead of the database",
            "the database's event with that notification id has different content",
        }
        assert await applied(pool) == []
        assert await after.lag() == old_total
        assert await held_ids(js, relay.stream) == [
            (n, f"{service}:{n}") for n in range(1, old_total + 1)
        ]  # nothing published
        assert await relay.lag() == total
        answer = await readyz(pool, nc, relay)
        assert answer.status_code == 503
        (shown,) = answer.json()["checks"]["alarms"]
        assert shown["reason"] == MISMATCH
        assert (shown["details"]["stream_last_seq"], shown["details"]["database_max_id"]) == (
            old_total,
            total,
        )

        # Recovery as documented: without --yes nothing happens; with it the streams go.
        argv = ["streams", "reset", "--namespace", namespace]
        assert await asyncio.to_thread(cli.main, argv) == 2
        await js.stream_info(relay.stream)
        assert await asyncio.to_thread(cli.main, [*argv, "--yes"]) == 0
        with pytest.raises(NotFoundError):
            await js.stream_info(relay.stream)

        assert await publish_all(relay) == [total]
        assert relay.alarm.current is None
        assert await relay.lag() == 0
        assert await held_ids(js, relay.stream) == [
            (n, f"{service}:{n}") for n in range(1, total + 1)
        ]
        try:  # the same consumer goes on by itself once the streams agree
            await poll(lambda: _count(pool, read_schema, total), timeout=20)
        finally:
            await after.stop()
        assert after.alarm.current is None
        notifications = await asyncio.to_thread(app.notifications_after, 0, 100)
        rebuilt = sorted((f"{service}:{n.id}", str(n.originator_id)) for n in notifications)
        assert await applied(pool) == rebuilt
        app.close()
    finally:
        await reset_streams(js, namespace)
        await pool.close()


async def _alarmed(consumer: Consumer) -> bool:
    current = consumer.alarm.current
    return current is not None and current.reason == MISMATCH


def oversized(nc: NATS) -> str:
    """An owner name whose event is larger than NATS carries. Saved through the event
    store's COPY path (BULK_BYTES or more): a pipelined INSERT of a megabyte stalls psycopg
    over a Unix socket (the embedded PostgreSQL)."""
    return "x" * (max(nc.max_payload, BULK_BYTES) + 1000)


async def _count(pool: asyncpg.Pool, schema: str, expected: int) -> bool:
    try:
        return int(await pool.fetchval(f"SELECT count(*) FROM {schema}.seen")) == expected
    except asyncpg.UndefinedTableError:
        return False


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(infra.settings("relayintegrity"), max_size=4)
    yield p
    await p.close()


async def test_a_stream_restored_to_an_older_state_is_published_again_from_its_head(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    settings = infra.settings("relayrestored").model_copy(update={"relay_batch": 4})
    app, relay = await relay_for(settings, js, pool)
    try:
        assert await asyncio.to_thread(open_accounts, app, 2, 4) == 10
        await publish_all(relay)
        assert await relay.position() == 10

        # The stream is restored from a backup holding its first 5 messages (as a crash of
        # a single-replica NATS host before it synced would leave it).
        backup = [await js.get_msg(relay.stream, seq) for seq in range(1, 6)]
        await js.delete_stream(relay.stream)
        await ensure_stream(js, settings, settings.service)
        for msg in backup:
            await js.publish(msg.subject or "", msg.data or b"", headers=msg.headers)
        assert await asyncio.to_thread(open_accounts, app, 1, 2) == 3

        assert await relay.lag() == 8  # events 6-13 are not in the stream
        assert await relay.publish_pending() == 4
        assert await relay.position() == 9  # never more than the stream holds
        assert await publish_all(relay) == [4]
        assert await held_ids(js, relay.stream) == [(n, f"relayrestored:{n}") for n in range(1, 14)]
        assert await relay.position() == 13
        assert await relay.lag() == 0
    finally:
        app.close()


async def test_after_a_stream_restore_a_consumer_gets_every_event_once(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    service, read_schema = "relayrestoredread", "restoredread"
    settings = infra.settings(service).model_copy(update={"relay_batch": 100})
    app, relay = await relay_for(settings, js, pool)
    await migrate(pool, read_schema, [READ_DDL])

    async def run_consumer(expected: int) -> None:
        consumer = Consumer(
            settings=settings,
            schema=read_schema,
            name="seen",
            source=service,
            handler=seen_handler(read_schema),
            js=js,
            pool=pool,
        )
        await consumer.setup()
        consumer.start()
        try:
            await poll(lambda: _count(pool, read_schema, expected), timeout=20)
            assert consumer.alarm.current is None
        finally:
            await consumer.stop()

    try:
        await asyncio.to_thread(open_accounts, app, 2, 4)  # 10 events
        await publish_all(relay)
        await run_consumer(10)
        backup = [await js.get_msg(relay.stream, seq) for seq in range(1, 6)]
        await js.delete_stream(relay.stream)
        await ensure_stream(js, settings, service)
        for msg in backup:
            await js.publish(msg.subject or "", msg.data or b"", headers=msg.headers)
        await asyncio.to_thread(open_accounts, app, 1, 2)  # 3 more

        await publish_all(relay)
        await run_consumer(13)
        rows = await pool.fetch(f"SELECT event_id, stream_seq FROM {read_schema}.seen")
        assert sorted((r["stream_seq"], r["event_id"]) for r in rows) == [
            (n, f"{service}:{n}") for n in range(1, 14)
        ]
    finally:
        app.close()


async def test_a_purged_stream_whose_duplicate_window_remembers_its_ids_stops_loudly(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    settings = infra.settings("relaypurged").model_copy(
        update={"relay_batch": 100, "dedupe_window_seconds": 2.0}
    )
    app, relay = await relay_for(settings, js, pool)
    try:
        total = await asyncio.to_thread(open_accounts, app, 2, 2)  # 6 events
        await publish_all(relay)
        await js.purge_stream(relay.stream)  # the stream lost them all

        # Published again, each is dropped as a duplicate of a message no longer held.
        assert await relay.publish_pending() == 0
        alarm = relay.alarm.current
        assert alarm is not None and alarm.reason == LOST_MESSAGES
        assert alarm.details["notification_id"] == 1
        assert await relay.position() == 0
        assert await relay.lag() == total
        assert (await js.stream_info(relay.stream)).state.messages == 0

        async def all_published_again() -> bool:
            await relay.publish_pending()
            return await relay.lag() == 0

        # Once the window has passed for each id (they expire one by one).
        await poll(all_published_again, timeout=30, interval=0.5)
        assert relay.alarm.current is None
        assert [i for _, i in await held_ids(js, relay.stream)] == [
            f"relaypurged:{n}" for n in range(1, total + 1)
        ]
        assert await relay.lag() == 0
    finally:
        app.close()


async def test_an_event_larger_than_nats_carries_raises_the_alarm_and_waits(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    settings = infra.settings("relaytoobig").model_copy(update={"relay_batch": 100})
    app, relay = await relay_for(settings, js, pool)
    try:
        before = await asyncio.to_thread(open_accounts, app, 1, 1)  # 2 events
        await asyncio.to_thread(app.save, Account(oversized(nc)))
        await asyncio.to_thread(open_accounts, app, 1, 0)  # one more behind it

        assert await relay.publish_pending() == before
        alarm = relay.alarm.current
        assert alarm is not None and alarm.reason == NOT_PUBLISHABLE
        details = alarm.details
        assert (details["notification_id"], details["type"]) == (3, "ssj.relaytoobig.Opened.v1")
        assert details["size"] > nc.max_payload
        assert "larger than" in details["error"]
        assert relay.backoff > 0
        assert await relay.publish_pending() == 0
        assert (await js.stream_info(relay.stream)).state.messages == before
        assert await relay.lag() == 2
    finally:
        app.close()


async def test_an_event_the_server_keeps_refusing_raises_the_alarm_which_clears_once_past(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    settings = infra.settings("relayrefusing").model_copy(update={"relay_batch": 100})
    app, relay = await relay_for(settings, js, pool)
    try:
        small = stream_config(settings, settings.service)
        small.max_msg_size = 4000
        await js.update_stream(small)
        before = await asyncio.to_thread(open_accounts, app, 2, 1)  # 4 events
        await asyncio.to_thread(app.save, Account("大" * 3000))  # ~18 kB once escaped
        after = await asyncio.to_thread(open_accounts, app, 1, 1)  # 2 events

        assert await relay.publish_pending() == before
        backoffs = [relay.backoff]
        for _ in range(2):
            assert relay.alarm.current is None  # a refusal may pass: not yet an alarm
            assert await relay.publish_pending() == 0
            backoffs.append(relay.backoff)
        assert backoffs == [0.5, 1.0, 2.0]
        alarm = relay.alarm.current
        assert alarm is not None and alarm.reason == NOT_PUBLISHABLE
        assert alarm.details["notification_id"] == before + 1
        assert alarm.details["type"] == "ssj.relayrefusing.Opened.v1"
        assert alarm.details["size"] > 4000 and alarm.details["error"]

        await ensure_stream(js, settings, settings.service)  # the owner's limits again
        assert await publish_all(relay) == [1 + after]
        assert relay.alarm.current is None and relay.backoff == 0
        assert await relay.lag() == 0
    finally:
        app.close()


async def test_a_relay_that_cannot_get_past_an_event_backs_off_instead_of_retrying_on_each_save(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    settings = infra.settings("relaybackoff").model_copy(
        update={"relay_batch": 100, "relay_idle_seconds": 0.05}
    )
    app, relay = await relay_for(settings, js, pool)
    attempts = 0
    publish = relay.publish_batch

    async def counted(rows: Any, last_seq: int) -> Any:
        nonlocal attempts
        attempts += 1
        return await publish(rows, last_seq)

    relay.publish_batch = counted  # type: ignore[method-assign]
    try:
        await asyncio.to_thread(app.save, Account(oversized(nc)))
        relay.start()
        for _ in range(20):  # every save wakes the relay
            await asyncio.to_thread(app.save, Account(str(uuid.uuid4())))
            await asyncio.sleep(0.1)
        # 2 s: attempts at 0, 0.5, 1.5 s (doubling waits), where waking on every save or
        # every idle timeout would have tried 20 times or more.
        assert 2 <= attempts <= 4
        assert relay.alarm.current is not None
    finally:
        await relay.stop()
        app.close()


@pytest.mark.parametrize("same", [True, False], ids=["same-body", "other-body"])
async def test_a_message_published_before_the_content_hash_is_compared_by_its_body(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, same: bool
) -> None:
    js = nc.jetstream()
    service = f"relaylegacy{int(same)}"
    settings = infra.settings(service).model_copy(update={"relay_batch": 100})
    app, relay = await relay_for(settings, js, pool)
    try:
        await asyncio.to_thread(open_accounts, app, 1, 2)  # 3 events
        rows = await relay.read(0, 100)
        # As an earlier relay published them: no content hash header.
        for i, row in enumerate(rows):
            subject, headers, body, _ = relay.encoder.prepare(row, i, no_span)
            if not same and i == len(rows) - 1:
                body = body.replace(row[1], "00000000-0000-0000-0000-000000000000")
            fields = parse_headers(headers)
            del fields[CONTENT_HASH_HEADER]
            await js.publish(subject, body.encode(), headers=fields)

        assert await relay.publish_pending() == 0
        if same:
            assert relay.alarm.current is None
            assert await relay.position() == len(rows)
        else:
            alarm = relay.alarm.current
            assert alarm is not None and alarm.reason == MISMATCH
            assert alarm.details["reason"] == (
                "the database's event with that notification id has different content"
            )
    finally:
        app.close()


def test_backoff_doubles_up_to_its_ceiling() -> None:
    waits = [0.0]
    for _ in range(10):
        waits.append(next_backoff(waits[-1]))
    assert waits[1:] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert MAX_BACKOFF_SECONDS == 30
    assert next_backoff(4.0, TRANSIENT_BACKOFF_SECONDS) == TRANSIENT_BACKOFF_SECONDS
