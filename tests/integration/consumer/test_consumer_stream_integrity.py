"""A source stream that went backwards (restored from a backup, recreated, or lost
acknowledged messages in a crash of its host) is reported by its consumers, never skipped
over: JetStream then reuses sequence numbers the consumer has already committed."""

from __future__ import annotations

import asyncio

import asyncpg
from nats.aio.client import Client as NATS

from libs.common import cli as ssj_cli
from libs.common.consumer import Consumer
from libs.common.settings import CommonSettings
from tests.integration.common_app import poll
from tests.integration.consumer.support import SCHEMA, applied, make_consumer, position, publish
from tests.support import Infra


async def consume_all(
    settings: CommonSettings, nc: NATS, pool: asyncpg.Pool, source: str, upto: int
) -> None:
    """Run a consumer of ``source`` until it has applied ``upto`` events, then stop it."""
    consumer = make_consumer(settings, nc.jetstream(), pool, source, source)
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: _at(pool, consumer, upto))
    finally:
        await consumer.stop()


async def _at(pool: asyncpg.Pool, consumer: Consumer, seq: int) -> bool:
    return await position(pool, consumer) >= seq


async def backwards(consumer: Consumer) -> bool:
    alarm = consumer.alarm.current
    return alarm is not None and alarm.reason == "stream_went_backwards"


async def test_a_stream_restored_to_an_earlier_state_is_reported_not_skipped(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "restored", range(1, 11))
    await consume_all(settings, nc, pool, "restored", 10)

    # The stream comes back from a backup holding its first 5; 3 new events follow.
    stream = settings.stream_name("restored")
    await js.delete_stream(stream)
    await publish(js, settings, "restored", [*range(1, 6), 11, 12, 13])

    consumer = make_consumer(settings, js, pool, "restored", "restored")
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: backwards(consumer))
        alarm = consumer.alarm.current
        assert alarm is not None
        assert alarm.details == {
            "stream": stream,
            "committed_seq": 10,
            "stream_first_seq": 1,
            "stream_last_seq": 8,
        }
        assert await consumer.lag() > 0  # not "caught up"
        assert await position(pool, consumer) == 10

        # Recovery: the operator checks the read model against the restored stream (here
        # the first 5 are the same events) and resets the position to where they agree.
        assert await consumer.reset_position(5) == 10
        await poll(lambda: _at(pool, consumer, 8))
        assert consumer.alarm.current is None
        assert await consumer.lag() == 0
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "restored")] == [*range(1, 11), 6, 7, 8]


async def test_a_stream_recreated_and_refilled_past_the_position_is_reported(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "recreated", range(1, 7))
    await consume_all(settings, nc, pool, "recreated", 6)

    stream = settings.stream_name("recreated")
    await js.delete_stream(stream)  # a new, different stream with more messages
    await publish(js, settings, "recreated", range(101, 111))

    consumer = make_consumer(settings, js, pool, "recreated", "recreated")
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: backwards(consumer))
        alarm = consumer.alarm.current
        assert alarm is not None
        assert alarm.details == {
            "stream": stream,
            "committed_seq": 6,
            "committed_event_id": "recreated:6",
            "stream_event_id": "recreated:106",
            "stream_first_seq": 1,
            "stream_last_seq": 10,
        }
        assert await consumer.lag() > 0
        assert await position(pool, consumer) == 6
        assert [seq for _, seq in await applied(pool, "recreated")] == list(range(1, 7))

        # Recovery by rebuilding: the operator empties the read model and resets the
        # position to 0 with `ssj positions` (which asks for --yes first).
        await pool.execute(f"DELETE FROM {SCHEMA}.applied WHERE consumer = 'recreated'")
        cli = ["positions", "--schema", SCHEMA, "--consumer", "recreated", "--source", "recreated"]
        assert await asyncio.to_thread(ssj_cli.main, [*cli, "--to", "0"]) == 2
        assert await position(pool, consumer) == 6
        assert await asyncio.to_thread(ssj_cli.main, [*cli, "--to", "0", "--yes"]) == 0
        await poll(lambda: _at(pool, consumer, 10))
        assert consumer.alarm.current is None
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "recreated")] == list(range(1, 11))


async def test_a_running_consumer_notices_its_stream_restored_under_it(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "underfoot", range(1, 11))
    consumer = make_consumer(settings, js, pool, "underfoot", "underfoot")
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: _at(pool, consumer, 10))
        # The reproduction: the stream comes back holding its first 5, then the
        # relay publishes 3 more, reusing sequences 6-8 the consumer has committed.
        await js.delete_stream(consumer.stream)
        await publish(js, settings, "underfoot", [*range(1, 6), 11, 12, 13])
        await poll(lambda: backwards(consumer), timeout=30)
        assert await consumer.lag() > 0
        assert await position(pool, consumer) == 10
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "underfoot")] == list(range(1, 11))
