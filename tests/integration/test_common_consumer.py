"""The consumer runner of libs/common on real PostgreSQL and NATS JetStream: each event
applied exactly once, in stream order, and a failing handler leaves no trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from libs.common import consumer_spans
from libs.common.bus import ensure_stream
from libs.common.consumer import LONG_POLL_SECONDS, BatchHandler, Consumer, OutOfOrder
from libs.common.envelope import InboundEvent, InvalidCloudEvent
from libs.common.relay import Relay
from libs.common.service import migrate, open_pool
from tests.integration.common_app import (
    READ_MODEL_DDL,
    HandlerFailed,
    TallyTestApp,
    counting_handler,
    open_accounts,
    poll,
)
from tests.support import Infra

SCHEMA = "tallyread"
SOURCE = "tallytest"


@pytest.fixture(scope="module")
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(infra.settings(SCHEMA), max_size=4)
    await migrate(p, SCHEMA, [READ_MODEL_DDL])
    yield p
    await p.close()


@dataclass(frozen=True)
class Source:
    """The source stream and how many events it holds."""

    stream: str
    total: int


@pytest.fixture(scope="module")
async def source(infra: Infra, nc: NATS, pool: asyncpg.Pool) -> Source:
    """The source stream, filled by the real relay."""
    app = await asyncio.to_thread(TallyTestApp, infra.settings(SOURCE))
    try:
        total = await asyncio.to_thread(open_accounts, app, 4, 4)  # 20 events
        relay = Relay(app, nc.jetstream(), pool)
        await relay.setup()
        while await relay.publish_pending():
            pass
        assert (await nc.jetstream().stream_info(relay.stream)).state.messages == total
        return Source(relay.stream, total)
    finally:
        app.close()


def make_consumer(
    infra: Infra,
    nc: NATS,
    pool: asyncpg.Pool,
    name: str,
    fail: Callable[[InboundEvent], bool] | None = None,
    batch: int = 200,
) -> Consumer:
    settings = infra.settings(SCHEMA).model_copy(update={"consumer_batch": batch})
    return Consumer(
        settings=settings,
        schema=SCHEMA,
        name=name,
        source=SOURCE,
        handler=counting_handler(SCHEMA, name, fail),
        js=nc.jetstream(),
        pool=pool,
    )


Delivery = tuple[bytes, dict[str, str] | None, int]


async def message(nc: NATS, source: Source, seq: int) -> Delivery:
    """Body, headers and stream sequence of one message, as a delivery hands them over."""
    msg = await nc.jetstream().get_msg(source.stream, seq)
    assert msg.data is not None
    return msg.data, msg.headers, seq


async def read_model(pool: asyncpg.Pool, consumer: str) -> dict[str, Any]:
    n = await pool.fetchval(f"SELECT n FROM {SCHEMA}.counts WHERE consumer = $1", consumer)
    rows = await pool.fetch(
        f"SELECT event_id, stream_seq FROM {SCHEMA}.applied WHERE consumer = $1 ORDER BY id",
        consumer,
    )
    position = await pool.fetchval(
        f"SELECT stream_seq FROM {SCHEMA}.consumer_position WHERE consumer = $1",
        f"{SCHEMA}-{consumer}",
    )
    return {
        "count": n,
        "seqs": [r["stream_seq"] for r in rows],
        "ids": [r["event_id"] for r in rows],
        "position": position,
    }


async def test_redelivered_message_is_applied_once(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    consumer = make_consumer(infra, nc, pool, "redelivery")
    await consumer.setup()
    first, second = await message(nc, source, 1), await message(nc, source, 2)

    assert await consumer.handle(*first) is True
    assert await consumer.handle(*first) is False  # redelivered
    assert (await read_model(pool, "redelivery"))["count"] == 1

    assert await consumer.handle(*second) is True
    assert await consumer.handle(*first) is False
    assert await consumer.handle(*second) is False
    assert await read_model(pool, "redelivery") == {
        "count": 2,
        "seqs": [1, 2],
        "ids": [f"{SOURCE}:1", f"{SOURCE}:2"],
        "position": 2,
    }
    assert (consumer.handled_total, consumer.duplicates_total) == (2, 3)


async def test_message_ahead_of_the_committed_position_is_not_applied(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    consumer = make_consumer(infra, nc, pool, "gap")
    await consumer.setup()
    first, third = await message(nc, source, 1), await message(nc, source, 3)
    assert await consumer.handle(*first)
    with pytest.raises(OutOfOrder):
        await consumer.handle(*third)  # 2 has not been applied
    assert await read_model(pool, "gap") == {
        "count": 1,
        "seqs": [1],
        "ids": [f"{SOURCE}:1"],
        "position": 1,
    }


async def test_failing_handler_rolls_back_its_writes_and_the_position(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    batch = [await message(nc, source, seq) for seq in range(1, 6)]
    failing = make_consumer(infra, nc, pool, "rollback", fail=lambda ev: ev.stream_seq == 4)
    await failing.setup()

    with pytest.raises(HandlerFailed):
        await failing.apply(batch)  # 1-3 were written, then 4 failed: none of it stays
    assert await read_model(pool, "rollback") == {
        "count": None,
        "seqs": [],
        "ids": [],
        "position": None,
    }

    assert await failing.apply(batch[:3]) == 3
    with pytest.raises(HandlerFailed):
        await failing.handle(*batch[3])
    after = await read_model(pool, "rollback")
    assert (after["count"], after["seqs"], after["position"]) == (3, [1, 2, 3], 3)

    healthy = make_consumer(infra, nc, pool, "rollback")
    assert await healthy.apply(batch) == 2  # 1-3 recognised, 4 and 5 applied
    after = await read_model(pool, "rollback")
    assert (after["count"], after["seqs"], after["position"]) == (5, [1, 2, 3, 4, 5], 5)


async def wait_caught_up(consumer: Consumer, timeout: float = 20.0) -> None:
    async def caught_up() -> bool:
        return await consumer.lag() == 0

    await poll(caught_up, timeout=timeout)


async def test_running_consumer_applies_every_event_once_in_stream_order(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    consumer = make_consumer(infra, nc, pool, "live", batch=6)
    await consumer.setup()
    consumer.start()
    try:
        await wait_caught_up(consumer)
    finally:
        await consumer.stop()
    assert await read_model(pool, "live") == {
        "count": source.total,
        "seqs": list(range(1, source.total + 1)),
        "ids": [f"{SOURCE}:{n}" for n in range(1, source.total + 1)],
        "position": source.total,
    }
    assert consumer.handled_total == source.total


async def test_running_consumer_resumes_after_a_handler_error_without_gaps_or_repeats(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    failures: list[int] = []

    def fail_once_on_eight(ev: InboundEvent) -> bool:
        if ev.stream_seq == 8 and not failures:
            failures.append(ev.stream_seq)
            return True
        return False

    consumer = make_consumer(infra, nc, pool, "flaky", fail=fail_once_on_eight, batch=5)
    await consumer.setup()
    consumer.start()
    try:
        await wait_caught_up(consumer)
    finally:
        await consumer.stop()
    assert failures == [8]
    model = await read_model(pool, "flaky")
    assert model["seqs"] == list(range(1, source.total + 1))
    assert model["count"] == source.total == model["position"]


async def test_restarted_consumer_continues_after_its_committed_position(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    first = make_consumer(infra, nc, pool, "restart")
    await first.setup()
    for seq in range(1, 8):
        await first.handle(*await message(nc, source, seq))

    second = make_consumer(infra, nc, pool, "restart", batch=4)  # a new process, say
    await second.setup()
    second.start()
    try:
        await wait_caught_up(second)
    finally:
        await second.stop()
    assert second.duplicates_total == 0  # delivery began after 7, nothing was redelivered
    model = await read_model(pool, "restart")
    assert model["seqs"] == list(range(1, source.total + 1))
    assert model["count"] == source.total


def recording_batch_handler(batches: list[list[int]]) -> BatchHandler:
    """A batch handler that only records the stream sequences of each batch it is given."""

    async def handle(conn: asyncpg.Connection, events: list[InboundEvent]) -> None:
        batches.append([ev.stream_seq for ev in events])

    return handle


def batch_consumer(
    infra: Infra,
    nc: NATS,
    pool: asyncpg.Pool,
    name: str,
    source: str,
    handler: BatchHandler,
    batch: int,
) -> Consumer:
    settings = infra.settings(SCHEMA).model_copy(update={"consumer_batch": batch})
    return Consumer(
        settings=settings,
        schema=SCHEMA,
        name=name,
        source=source,
        batch_handler=handler,
        js=nc.jetstream(),
        pool=pool,
    )


async def copy_stream(
    infra: Infra, nc: NATS, source: Source, to: str, seqs: range, copy: str = ""
) -> None:
    """Publish messages of the source stream, bodies and headers unchanged, to another one
    (``copy`` makes the message ids new)."""
    settings = infra.settings(SCHEMA)
    js = nc.jetstream()
    await ensure_stream(js, settings, to)
    for seq in seqs:
        body, headers, _ = await message(nc, source, seq)
        headers = {k: v for k, v in (headers or {}).items() if not k.startswith("Nats-Expected")}
        headers["Nats-Msg-Id"] = f"{to}:{seq}{copy}"
        await js.publish(f"{settings.subject_prefix(to)}.account.Copied", body, headers=headers)


async def test_batch_consumer_takes_full_batches_then_applies_a_new_event_at_once(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    await copy_stream(infra, nc, source, "tallybatches", range(1, 21))
    batches: list[list[int]] = []
    consumer = batch_consumer(
        infra, nc, pool, "batches", "tallybatches", recording_batch_handler(batches), batch=6
    )
    await consumer.setup()
    consumer.start()
    try:
        await wait_caught_up(consumer)
        # A batch is what one pull request brought: full batches, then the rest.
        assert batches == [
            [1, 2, 3, 4, 5, 6],
            [7, 8, 9, 10, 11, 12],
            [13, 14, 15, 16, 17, 18],
            [19, 20],
        ]
        await asyncio.sleep(0.5)  # drained: the consumer now waits on a long poll
        published = asyncio.get_running_loop().time()
        await copy_stream(infra, nc, source, "tallybatches", range(1, 2), copy="again")
        await wait_caught_up(consumer)
        # The long poll's first message is applied at once, not when the poll expires.
        assert asyncio.get_running_loop().time() - published < LONG_POLL_SECONDS / 2
        assert batches[4:] == [[21]]
    finally:
        await consumer.stop()
    assert consumer.handled_total == 21


async def test_consumer_recovers_when_its_durable_consumer_disappears(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    await copy_stream(infra, nc, source, "tallygone", range(1, 4))
    batches: list[list[int]] = []
    consumer = batch_consumer(
        infra, nc, pool, "gone", "tallygone", recording_batch_handler(batches), batch=10
    )
    await consumer.setup()
    consumer.start()
    try:
        await wait_caught_up(consumer)
        await asyncio.sleep(0.3)  # waiting on a long poll
        await nc.jetstream().delete_consumer(consumer.stream, consumer.durable)
        await copy_stream(infra, nc, source, "tallygone", range(4, 6))
        await wait_caught_up(consumer, timeout=30)  # re-created after the committed position
    finally:
        await consumer.stop()
    assert [seq for batch in batches for seq in batch] == [1, 2, 3, 4, 5]


async def test_one_consumer_span_per_batch_linked_to_each_publish_span(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(consumer_spans, "_tracer", provider.get_tracer("ssj.consumer"))
    batches: list[list[int]] = []
    consumer = batch_consumer(
        infra, nc, pool, "spans", SOURCE, recording_batch_handler(batches), batch=10
    )
    await consumer.setup()

    def publish_span(seq: int) -> str:
        return f"00-{seq:032x}-{seq:016x}-01"

    deliveries: list[Delivery] = []
    for seq in range(1, 6):
        body, _, _ = await message(nc, source, seq)
        deliveries.append((body, {"traceparent": publish_span(seq), "Nats-Msg-Id": "x"}, seq))
    deliveries.append((*(await message(nc, source, 6))[:1], None, 6))  # published untraced
    assert await consumer.apply(deliveries) == 6

    (span,) = exporter.get_finished_spans()
    assert span.name == f"consume {SOURCE} batch"
    assert span.kind == SpanKind.CONSUMER
    assert dict(span.attributes or {}) == {
        "messaging.system": "nats",
        "messaging.consumer.group.name": f"{SCHEMA}-spans",
        "messaging.batch.message_count": 6,
    }
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (seq, seq) for seq in range(1, 6)
    ]
    assert all(link.context.is_remote for link in span.links)

    # The SDK keeps a span's last max_links links: only those are built.
    exporter.clear()
    monkeypatch.setattr(consumer, "_max_links", 2)
    deliveries = []
    for seq in range(7, 12):
        body, _, _ = await message(nc, source, seq)
        deliveries.append((body, {"traceparent": publish_span(seq)} if seq < 11 else {}, seq))
    assert await consumer.apply(deliveries) == 5
    (span,) = exporter.get_finished_spans()
    assert [link.context.span_id for link in span.links] == [9, 10]
    assert batches == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11]]


async def test_a_message_that_is_no_cloudevent_fails_its_batch_like_a_handler_error(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, source: Source
) -> None:
    consumer = make_consumer(infra, nc, pool, "poison")
    await consumer.setup()
    first, second = await message(nc, source, 1), await message(nc, source, 2)
    poison = (b'{"specversion": "1.0", "id": "x"}', None, 2)

    with pytest.raises(InvalidCloudEvent, match="'type'"):
        await consumer.apply([first, poison])  # 1 was written, then 2 did not parse
    assert (await read_model(pool, "poison"))["position"] is None

    assert await consumer.apply([first, second]) == 2
    assert await consumer.apply([first, poison]) == 0  # already applied: skipped, no failure
    assert (await read_model(pool, "poison"))["seqs"] == [1, 2]
