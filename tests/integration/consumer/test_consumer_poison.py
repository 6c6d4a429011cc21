"""Events a consumer cannot apply, on real PostgreSQL and NATS: retried with backoff, not
in a hot loop; reported with the exact event after a bounded number of attempts; the
events before it applied; nothing after it skipped; resumed from it once it applies."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import asyncpg
from nats.aio.client import Client as NATS

from libs.common.consumer import Consumer
from libs.common.envelope import InboundEvent
from tests.integration.common_app import counting_handler, poll
from tests.integration.consumer.support import (
    FAST,
    SCHEMA,
    applied,
    cloudevent,
    make_consumer,
    position,
    publish,
)
from tests.support import Infra


async def alarm_raised(consumer: Consumer, reason: str) -> bool:
    return consumer.alarm.current is not None and consumer.alarm.current.reason == reason


async def test_an_event_the_handler_cannot_apply_is_retried_with_backoff_reported_and_resumed(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "poisoned", range(1, 21))
    broken = True
    attempts: list[float] = []
    counting = counting_handler(SCHEMA, "poisoned")

    async def handler(conn: asyncpg.Connection, ev: InboundEvent) -> None:
        if ev.stream_seq == 8 and broken:
            attempts.append(time.monotonic())
            # What the registry's read model met: text PostgreSQL cannot store.
            await conn.execute("SELECT ($1::text)::jsonb", '{"name": "bad \\u0000 text"}')
        await counting(conn, ev)

    consumer = make_consumer(settings, js, pool, "poisoned", "poisoned", handler=handler)
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: alarm_raised(consumer, "poison_event"))
        alarm = consumer.alarm.current
        assert alarm is not None
        assert alarm.details == {
            "stream": consumer.stream,
            "stream_seq": 8,
            "event_id": "poisoned:8",
            "type": "ssj.poisoned.account.Deposited.v1",
            "error": alarm.details["error"],
        }
        assert "UntranslatableCharacterError" in alarm.details["error"]
        # The batch of 6-10 failed; 6 and 7 were applied one by one, nothing after 8.
        assert await position(pool, consumer) == 7
        assert await consumer.lag() == 13

        # Backoff, not a hot loop: after the first round (the batch, then 8 alone) each
        # retry waits at least 0.05 s, doubling to the cap of 0.4 s.
        await asyncio.sleep(1.5)
        gaps = [b - a for a, b in itertools.pairwise(attempts[1:])]
        assert len(gaps) >= FAST["consumer_poison_attempts"]
        least = [min(0.05 * 2**n, FAST["consumer_retry_max_seconds"]) for n in range(len(gaps))]
        assert all(gap >= wait * 0.9 for gap, wait in zip(gaps, least, strict=True)), gaps
        assert consumer.alarm.current is alarm  # still standing, still the same event

        broken = False  # the fix is deployed: the consumer resumes from event 8
        await poll(lambda: _at(pool, consumer, 20))
        assert consumer.alarm.current is None
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "poisoned")] == list(range(1, 21))


async def _at(pool: asyncpg.Pool, consumer: Consumer, seq: int) -> bool:
    return await position(pool, consumer) >= seq


async def test_a_message_that_does_not_parse_is_reported_and_never_skipped_silently(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()

    def body(source: str, n: int) -> bytes:
        if n == 4:  # a CloudEvent without a type
            return json.dumps({"specversion": "1.0", "id": f"{source}:{n}"}).encode()
        return cloudevent(source, n)

    await publish(js, settings, "unparsable", range(1, 7), body=body)
    consumer = make_consumer(settings, js, pool, "unparsable", "unparsable", batch=10)
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: alarm_raised(consumer, "poison_event"))
        alarm = consumer.alarm.current
        assert alarm is not None
        assert (alarm.details["stream_seq"], alarm.details["event_id"]) == (4, "unparsable:4")
        assert alarm.details["type"] is None
        assert "InvalidCloudEvent" in alarm.details["error"]
        assert await position(pool, consumer) == 3
        await asyncio.sleep(1.0)
        assert await position(pool, consumer) == 3  # 5 and 6 wait behind it

        # No code fix can make it parse: the operator decides to step over it, explicitly.
        assert await consumer.reset_position(4) == 3
        await poll(lambda: _at(pool, consumer, 6))
        assert consumer.alarm.current is None
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "unparsable")] == [1, 2, 3, 5, 6]
    assert FAST["consumer_poison_attempts"] >= 2
