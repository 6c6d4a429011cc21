"""A consumer's leadership on real PostgreSQL and NATS: no failure after taking the lock
ends the loop, a loop that ends lets go, a leader cut off from its lock stops applying
before another takes over, and two leaders never apply the same batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import nats
from nats.aio.client import Client as NATS

from libs.common.consumer import Consumer
from libs.common.envelope import InboundEvent
from libs.common.infra import EmbeddedNats
from libs.common.leader import Leadership
from tests.integration.common_app import counting_handler, poll
from tests.integration.consumer.support import (
    SCHEMA,
    applied,
    make_consumer,
    position,
    publish,
)
from tests.integration.lock_proxy import LockProxy
from tests.support import Infra


async def test_standby_that_takes_over_while_nats_is_down_consumes_once_it_is_back(
    infra: Infra, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    server = EmbeddedNats(tmp_path / "nats", preferred_port=0)
    server.start()
    port = server.port
    client = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    settings = infra.settings(SCHEMA)
    js = client.jetstream()
    leader = make_consumer(settings, js, pool, "outage", "outage", batch=4)
    standby = make_consumer(settings, js, pool, "outage", "outage", batch=4)
    try:
        await publish(js, settings, "outage", range(1, 11))
        await leader.setup()
        leader.start()
        await poll(lambda: _at(pool, leader, 10))
        standby.start()

        server.stop()  # NATS goes down, then the leader dies
        await leader.stop()
        await poll(lambda: _true(standby.leadership.held))  # the standby takes the lock
        # ... and fails to reach NATS for longer than a request's timeout (5 s), again
        # and again.
        await asyncio.sleep(7)

        server = EmbeddedNats(tmp_path / "nats", preferred_port=port)
        server.start()
        assert server.port == port
        await poll(lambda: _true(client.is_connected))
        await publish(js, settings, "outage", range(11, 21))
        await poll(lambda: _at(pool, standby, 20), timeout=40)
        assert standby.running
        assert [seq for _, seq in await applied(pool, "outage")] == list(range(1, 21))
    finally:
        await standby.stop()
        await leader.stop()
        await client.close()
        server.stop()


async def _at(pool: asyncpg.Pool, consumer: Consumer, seq: int) -> bool:
    return await position(pool, consumer) >= seq


async def _true(value: bool) -> bool:
    return value


async def test_a_consumer_loop_that_ends_lets_go_of_the_lock_and_fails_readiness(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    consumer = make_consumer(settings, nc.jetstream(), pool, "ending", "ending")
    await publish(nc.jetstream(), settings, "ending", range(1, 3))
    await consumer.setup()
    consumer.start()
    await poll(lambda: _at(pool, consumer, 2))
    assert consumer.running and consumer.alarm.current is None
    assert consumer._task is not None
    consumer._task.cancel()  # the loop ends, whatever the reason
    await asyncio.wait({consumer._task})

    assert not consumer.running
    assert consumer.alarm.current is not None
    assert consumer.alarm.current.reason == "consumer_stopped"
    successor = Leadership(infra.database_url, consumer.leadership.name)
    await asyncio.wait_for(successor.acquire(), 5)  # the lock was given up
    await successor.release()
    await consumer.stop()


async def test_two_leaders_before_the_first_position_apply_a_batch_once(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    await publish(nc.jetstream(), settings, "firstrow", range(1, 6))
    counting = counting_handler(SCHEMA, "firstrow")

    async def slow(conn: asyncpg.Connection, ev: InboundEvent) -> None:
        await counting(conn, ev)
        if ev.stream_seq == 1:
            await asyncio.sleep(0.3)  # both transactions are under way before either ends

    js = nc.jetstream()
    one = make_consumer(settings, js, pool, "firstrow", "firstrow", handler=slow)
    two = make_consumer(settings, js, pool, "firstrow", "firstrow", handler=slow)
    await one.setup()
    batch = []
    for seq in range(1, 6):
        msg = await js.get_msg(one.stream, seq)
        batch.append((msg.data or b"", msg.headers, seq))

    counts = await asyncio.gather(one.apply(batch), two.apply(batch))
    assert sorted(counts) == [0, 5]
    assert [seq for _, seq in await applied(pool, "firstrow")] == [1, 2, 3, 4, 5]


async def test_a_leader_that_lost_its_lock_during_a_batch_cannot_commit_it(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "midbatch", range(1, 11))
    in_batch, go_on = asyncio.Event(), asyncio.Event()
    counting_a = counting_handler(SCHEMA, "midbatch-A")

    async def blocking(conn: asyncpg.Connection, ev: InboundEvent) -> None:
        await counting_a(conn, ev)
        if ev.stream_seq == 3 and not go_on.is_set():
            in_batch.set()
            await go_on.wait()

    a = make_consumer(settings, js, pool, "midbatch", "midbatch", handler=blocking, batch=10)
    b = make_consumer(settings, js, pool, "midbatch", "midbatch", tag="midbatch-B", batch=10)
    await a.setup()
    a.start()
    try:
        await asyncio.wait_for(in_batch.wait(), 20)
        assert a.leadership.pid is not None
        await pool.fetchval("SELECT pg_terminate_backend($1)", a.leadership.pid)
        b.start()
        await poll(lambda: _true(b.leadership.held))
        go_on.set()  # A's batch reaches its commit after it lost the lock
        await poll(lambda: _at(pool, b, 10))
    finally:
        go_on.set()
        await a.stop()
        await b.stop()
    rows = await applied(pool, "midbatch-A", "midbatch-B")
    assert [row for row in rows if row[0] == "midbatch-A"] == []
    assert rows == [("midbatch-B", seq) for seq in range(1, 11)]


async def test_a_leader_cut_off_from_its_lock_stops_applying_and_another_takes_over(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "split", range(1, 11))
    proxy = LockProxy(infra.database_url)
    a = make_consumer(settings, js, pool, "split", "split", tag="split-A")
    a.leadership.database_url = await proxy.start()  # A's lock goes through the proxy
    b = make_consumer(settings, js, pool, "split", "split", tag="split-B")
    await a.setup()
    a.start()
    try:
        await poll(lambda: _at(pool, a, 10))
        b.start()
        proxy.cut()  # the server sees A's lock session end; A's side stays open, silent
        await poll(lambda: _true(b.leadership.held))
        await publish(js, settings, "split", range(11, 31))
        await poll(lambda: _at(pool, b, 30), timeout=30)
        await poll(lambda: _true(not a.leadership.held), timeout=10)  # A found out
    finally:
        await a.stop()
        await b.stop()
        await proxy.close()
    rows = await applied(pool, "split-A", "split-B")
    assert [seq for _, seq in rows] == list(range(1, 31))
    assert rows[10:] == [("split-B", seq) for seq in range(11, 31)]
