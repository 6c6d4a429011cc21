"""Streams of synthetic CloudEvents and consumers on them, for the consumer's leadership,
poison-event and stream-integrity tests (each test uses a stream of its own)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import asyncpg
from nats.js import JetStreamContext

from libs.common.bus import ensure_stream
from libs.common.consumer import Consumer, Handler
from libs.common.envelope import InboundEvent
from libs.common.settings import CommonSettings
from tests.integration.common_app import counting_handler

SCHEMA = "consumerread"

# Fast retries and a short lease, so the tests wait seconds rather than minutes.
FAST = {
    "consumer_retry_seconds": 0.05,
    "consumer_retry_max_seconds": 0.4,
    "consumer_poison_attempts": 3,
    "leader_lease_seconds": 6.0,
}


def cloudevent(source: str, n: int, **data: object) -> bytes:
    """The ``n``-th event of a synthetic source service, as the relay would publish it."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"{source}:{n}",
            "source": f"/ssj/{source}",
            "type": f"ssj.{source}.account.Deposited.v1",
            "subject": f"account-{n % 3}",
            "time": "2026-01-01T00:00:00+00:00",
            "datacontenttype": "application/json",
            "data": {"n": n, **data},
        }
    ).encode()


async def publish(
    js: JetStreamContext,
    settings: CommonSettings,
    source: str,
    numbers: Iterable[int],
    body: Callable[[str, int], bytes] = cloudevent,
) -> None:
    """Publish events ``numbers`` of ``source`` to its stream (created if missing)."""
    await ensure_stream(js, settings, source)
    for n in numbers:
        await js.publish(
            f"{settings.subject_prefix(source)}.account.Deposited",
            body(source, n),
            headers={"Nats-Msg-Id": f"{source}:{n}"},
        )


def make_consumer(
    settings: CommonSettings,
    js: JetStreamContext,
    pool: asyncpg.Pool,
    source: str,
    name: str,
    *,
    tag: str | None = None,
    handler: Handler | None = None,
    batch: int = 5,
    fail: Callable[[InboundEvent], bool] | None = None,
) -> Consumer:
    """A consumer of ``source`` whose handler logs each application under ``tag`` (in the
    ``applied`` table) unless another handler is given."""
    consumer = Consumer(
        settings=settings.model_copy(update={**FAST, "consumer_batch": batch}),
        schema=SCHEMA,
        name=name,
        source=source,
        handler=handler or counting_handler(SCHEMA, tag or name, fail),
        js=js,
        pool=pool,
    )
    consumer.leadership.retry_seconds = 0.1
    return consumer


async def applied(pool: asyncpg.Pool, *tags: str) -> list[tuple[str, int]]:
    """(tag, stream seq) of every application under ``tags``, in the order they happened."""
    rows = await pool.fetch(
        f"SELECT consumer, stream_seq FROM {SCHEMA}.applied WHERE consumer = ANY($1) ORDER BY id",
        list(tags),
    )
    return [(r["consumer"], r["stream_seq"]) for r in rows]


async def position(pool: asyncpg.Pool, consumer: Consumer) -> int:
    """The consumer's committed position (0 before the first)."""
    value = await pool.fetchval(
        f"SELECT stream_seq FROM {SCHEMA}.consumer_position WHERE consumer = $1",
        consumer.durable,
    )
    return int(value or 0)
