"""Stream sequences are not identities (real NATS and PostgreSQL): events published again
at new sequences are not applied twice; another event under the id applied last is
reported, not taken for it; a position reset under a running consumer is followed."""

from __future__ import annotations

import hashlib

import asyncpg
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from libs.common import positions
from libs.common.bus import ensure_stream
from libs.common.relay_wire import CONTENT_HASH_HEADER
from libs.common.settings import CommonSettings
from tests.integration.common_app import poll
from tests.integration.consumer.support import (
    SCHEMA,
    applied,
    cloudevent,
    make_consumer,
    position,
)
from tests.support import Infra


async def publish(
    js: JetStreamContext,
    settings: CommonSettings,
    source: str,
    numbers: range | list[int],
    timeline: str = "first",
    copy: int = 1,
) -> None:
    """Events ``numbers`` of ``source`` as its relay publishes them: with a content hash
    (of ``timeline``: another database's event with the same id hashes differently), and a
    message id per ``copy`` so that JetStream's duplicate window does not drop a copy
    published again (as the relay's is, once that window has passed)."""
    await ensure_stream(js, settings, source)
    for n in numbers:
        body = cloudevent(source, n, timeline=timeline)
        await js.publish(
            f"{settings.subject_prefix(source)}.account.Deposited",
            body,
            headers={
                "Nats-Msg-Id": f"{source}:{n}:{timeline}:{copy}",
                CONTENT_HASH_HEADER: hashlib.sha256(f"{timeline}:{n}".encode()).hexdigest(),
            },
        )


async def _at(pool: asyncpg.Pool, consumer: object, seq: int) -> bool:
    return await position(pool, consumer) >= seq  # type: ignore[arg-type]


async def test_events_published_again_after_a_purge_are_not_applied_twice(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "again", range(1, 7))
    consumer = make_consumer(settings, js, pool, "again", "again")
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: _at(pool, consumer, 6))
        # The stream is purged; the relay publishes the database's events again from the
        # first, at new sequences (7-12), then a new one (13).
        await js.purge_stream(settings.stream_name("again"))
        await publish(js, settings, "again", range(1, 8), copy=2)
        await poll(lambda: _at(pool, consumer, 13))
        assert consumer.alarm.current is None
        assert await consumer.lag() == 0
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "again")] == [1, 2, 3, 4, 5, 6, 13]
    assert consumer.duplicates_total >= 6


async def test_another_event_under_the_id_applied_last_is_reported_and_stays_reported(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    """The source's database was reset and its streams recreated: the new events reuse
    the ids 1, 2, … The consumer's position points at a sequence the new stream reaches
    again, under the same id, with other content."""
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "reset", range(1, 7))
    consumer = make_consumer(settings, js, pool, "reset", "reset")
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: _at(pool, consumer, 6))
    finally:
        await consumer.stop()
    await js.delete_stream(settings.stream_name("reset"))
    await publish(js, settings, "reset", range(1, 11), timeline="second")

    consumer = make_consumer(settings, js, pool, "reset", "reset")
    await consumer.setup()
    consumer.start()
    try:

        async def reported() -> bool:
            alarm = consumer.alarm.current
            return alarm is not None and alarm.reason == "stream_went_backwards"

        await poll(reported)
        alarm = consumer.alarm.current
        assert (
            alarm is not None and "another event under that id" in alarm.details["stream_event_id"]
        )
        assert await consumer.lag() > 0
        await poll(reported, timeout=3)  # and it does not clear by itself
        assert await position(pool, consumer) == 6
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "reset")] == list(range(1, 7))


async def test_a_position_reset_to_zero_under_a_running_consumer_rebuilds_from_the_first(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await publish(js, settings, "rebuilt", range(1, 7))
    consumer = make_consumer(settings, js, pool, "rebuilt", "rebuilt")
    await consumer.setup()
    consumer.start()
    try:
        await poll(lambda: _at(pool, consumer, 6))
        # An operator rebuilds the read model while the service runs: empties its rows and
        # resets the position to 0 from another process (ssj positions).
        await pool.execute(f"DELETE FROM {SCHEMA}.applied WHERE consumer = 'rebuilt'")
        stream = settings.stream_name("rebuilt")
        await positions.reset_position(pool, js, SCHEMA, consumer.durable, stream, 0, "rebuilt")
        await publish(js, settings, "rebuilt", [7, 8])
        await poll(lambda: _at(pool, consumer, 8))
    finally:
        await consumer.stop()
    assert [seq for _, seq in await applied(pool, "rebuilt")] == list(range(1, 9))
