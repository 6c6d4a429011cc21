"""The relay of libs/common on real PostgreSQL and NATS JetStream: order, message ids,
duplicates, and when the position is written."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
import pytest
from eventsourcing.domain import Aggregate, event
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
)

from libs.common import relay_batch, relay_wire
from libs.common.bus import ensure_stream, stream_config
from libs.common.context import Actor, CommandContext, command_context
from libs.common.envelope import InboundEvent, parse_cloudevent, to_cloudevent
from libs.common.relay import Relay
from libs.common.service import open_pool
from tests.integration.common_app import (
    Account,
    AccountsApp,
    open_accounts,
    poll,
    relay_app_class,
)
from tests.support import Infra

WRONG_LAST_SEQUENCE = 10071  # JetStream's error code for a failed expected-sequence check


@dataclass(frozen=True)
class Published:
    """One message as JetStream holds it."""

    seq: int
    nats_subject: str
    msg_id: str
    event: InboundEvent


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(infra.settings("relaytest"), max_size=4)
    yield p
    await p.close()


@pytest.fixture
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


async def stream_messages(js: JetStreamContext, stream: str) -> list[Published]:
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        assert msg.data is not None and msg.headers is not None
        out.append(
            Published(
                seq, msg.subject or "", msg.headers["Nats-Msg-Id"], parse_cloudevent(msg.data)
            )
        )
    return out


async def make_relay(
    infra: Infra,
    service: str,
    js: JetStreamContext,
    pool: asyncpg.Pool,
    batch: int = 5,
    idle_seconds: float | None = None,
) -> tuple[AccountsApp, Relay]:
    update: dict[str, Any] = {"relay_batch": batch}
    if idle_seconds is not None:
        update["relay_idle_seconds"] = idle_seconds
    settings = infra.settings(service).model_copy(update=update)
    app = await asyncio.to_thread(relay_app_class(service), settings)
    relay = Relay(app, js, pool)
    await relay.setup()
    return app, relay


async def publish_all(relay: Relay) -> list[int]:
    passes = []
    while published := await relay.publish_pending():
        passes.append(published)
    return passes


async def test_events_reach_jetstream_in_notification_order_with_their_message_ids(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayorder", js, pool, batch=5)
    try:
        total = await asyncio.to_thread(open_accounts, app, 3, 3)  # 12 events
        assert await relay.lag() == total
        assert await publish_all(relay) == [5, 5, 2]

        messages = await stream_messages(js, relay.stream)
        notifications = await asyncio.to_thread(app.notifications_after, 0, 100)
        assert [m.seq for m in messages] == list(range(1, total + 1))
        assert [m.msg_id for m in messages] == [f"relayorder:{n}" for n in range(1, total + 1)]
        assert [m.event.id for m in messages] == [m.msg_id for m in messages]
        for message, notification in zip(messages, notifications, strict=True):
            name = notification.topic.rpartition(".")[2]
            assert message.event.type == f"ssj.relayorder.{name}.v1"
            assert message.nats_subject == f"{relay.subject_prefix}.account.{name}"
            assert message.event.subject == str(notification.originator_id)
            assert message.event.aggregate_version == notification.originator_version
        assert await relay.position() == total
        assert await relay.lag() == 0
    finally:
        app.close()


async def test_reset_position_does_not_publish_the_batch_twice(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayreset", js, pool, batch=4)
    try:
        total = await asyncio.to_thread(open_accounts, app, 2, 3)  # 8 events
        await publish_all(relay)
        await pool.execute("DELETE FROM relayreset.relay_position")
        assert await relay.position() == 0

        assert await relay.publish_pending() == 0
        state = (await js.stream_info(relay.stream)).state
        assert (state.messages, state.last_seq) == (total, total)
        assert await relay.position() == total  # recovered from the stream head

        more = await asyncio.to_thread(open_accounts, app, 1, 1)  # then new events follow on
        assert await publish_all(relay) == [more]
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [
            f"relayreset:{n}" for n in range(1, total + more + 1)
        ]
    finally:
        app.close()


async def test_republished_events_are_not_stored_twice(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relaydupes", js, pool, batch=100)
    try:
        total = await asyncio.to_thread(open_accounts, app, 2, 2)  # 6 events
        await publish_all(relay)
        rows = await relay.read(0, 100)

        # The whole batch once more, as a relay that missed the stream head would send it.
        # NATS 2.9 acknowledges each as a duplicate; later servers check the expected last
        # sequence first and refuse them. Either way, nothing is stored twice.
        for ack in (await relay.publish_batch(rows, 0)).acks:
            assert ack.duplicate or ack.err_code == WRONG_LAST_SEQUENCE, ack
        # Within the duplicate window the message id alone suffices, whatever the server.
        (again,) = (await relay.publish_batch(rows[:1], total)).acks
        assert again.error is None and again.duplicate and again.seq == 1

        state = (await js.stream_info(relay.stream)).state
        assert (state.messages, state.last_seq) == (total, total)
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relaydupes:{n}" for n in range(1, total + 1)]
    finally:
        app.close()


async def test_two_relays_publishing_the_same_batch_store_it_once_in_order(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    app, first = await make_relay(infra, "relaytwice", nc.jetstream(), pool, batch=100)
    other = await nats.connect(infra.nats_url)
    try:
        second = Relay(app, other.jetstream(), pool)  # e.g. a leader that lost its lock late
        total = await asyncio.to_thread(open_accounts, app, 5, 3)  # 20 events
        await asyncio.gather(first.publish_pending(), second.publish_pending())
        await publish_all(first)
        await publish_all(second)

        state = (await nc.jetstream().stream_info(first.stream)).state
        assert (state.messages, state.last_seq) == (total, total)
        messages = await stream_messages(nc.jetstream(), first.stream)
        assert [m.msg_id for m in messages] == [f"relaytwice:{n}" for n in range(1, total + 1)]
        assert await first.position() == total
    finally:
        await other.close()
        app.close()


async def test_position_is_written_only_for_events_jetstream_acknowledged(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayfull", js, pool, batch=10)
    try:
        settings = relay.settings
        full = stream_config(settings, "relayfull")
        full.max_msgs = 3
        full.discard = DiscardPolicy.NEW  # the stream refuses the 4th message
        await js.update_stream(full)
        total = await asyncio.to_thread(open_accounts, app, 1, 4)  # 5 events

        assert await relay.publish_pending() == 3
        assert await relay.position() == 3
        assert (await js.stream_info(relay.stream)).state.messages == 3

        await ensure_stream(js, settings, "relayfull")  # room again
        assert await publish_all(relay) == [total - 3]
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relayfull:{n}" for n in range(1, total + 1)]
        assert await relay.position() == total
    finally:
        app.close()


async def test_running_relay_publishes_what_is_saved_while_it_runs(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relaylive", js, pool)
    relay.start()
    try:
        total = 0
        for _ in range(3):
            total += await asyncio.to_thread(open_accounts, app, 2, 1)

            async def caught_up(expected: int = total) -> bool:
                return (await js.stream_info(relay.stream)).state.messages == expected

            await poll(caught_up, timeout=10)

        async def no_lag() -> bool:
            return await relay.lag() == 0

        await poll(no_lag, timeout=10)
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relaylive:{n}" for n in range(1, total + 1)]
    finally:
        await relay.stop()
        app.close()


async def test_stop_ends_the_relay_loop_even_when_it_races_the_idle_timeout(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    # Python 3.11's asyncio.wait_for, inside every nats-py request, loses a cancellation
    # that arrives together with the reply; a relay cancelled once would then run on and
    # its service never shut down. A 2 ms idle wait keeps the loop requesting all the time.
    js = nc.jetstream()
    app, _ = await make_relay(infra, "relaystop", js, pool)
    settings = app.settings.model_copy(update={"relay_idle_seconds": 0.002})
    app.settings = settings
    pauses = random.Random(11)
    try:
        for _ in range(40):
            relay = Relay(app, js, pool)
            relay.start()
            await asyncio.sleep(pauses.uniform(0.0, 0.03))
            stopping = asyncio.ensure_future(relay.stop())
            # Not wait_for: cancelling stop() on timeout would cancel the loop once more
            # and hide the hang.
            done, _ = await asyncio.wait({stopping}, timeout=5)
            if not done:
                while relay._task and not relay._task.done():
                    relay._task.cancel()
                    await asyncio.sleep(0.01)
                await stopping
            assert done, "stop() returned only after the loop was cancelled a second time"
    finally:
        app.close()


async def test_a_message_refused_mid_batch_ends_what_is_recorded_and_the_next_pass_completes(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayrefused", js, pool, batch=100)
    try:
        settings = relay.settings
        small = stream_config(settings, "relayrefused")
        small.max_msg_size = 4000  # the stream refuses the big event in the middle
        await js.update_stream(small)
        before = await asyncio.to_thread(open_accounts, app, 2, 1)  # 4 events
        await asyncio.to_thread(app.save, Account("大" * 3000))  # ~18 kB once escaped
        after = await asyncio.to_thread(open_accounts, app, 1, 2)  # 3 events
        total = before + 1 + after

        # The big one is refused, and every later one fails its expected-sequence check:
        # the position stops just before it.
        assert await relay.publish_pending() == before
        assert await relay.position() == before
        assert (await js.stream_info(relay.stream)).state.messages == before
        assert await relay.publish_pending() == 0  # still refused: nothing moves
        assert await relay.position() == before

        await ensure_stream(js, settings, "relayrefused")  # no size limit again
        assert await publish_all(relay) == [total - before]
        messages = await stream_messages(js, relay.stream)
        assert [m.seq for m in messages] == list(range(1, total + 1))
        assert [m.msg_id for m in messages] == [f"relayrefused:{n}" for n in range(1, total + 1)]
        assert await relay.position() == total
    finally:
        app.close()


async def test_a_lost_ack_ends_the_batch_there_and_the_stream_head_carries_on(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relaylostack", js, pool, batch=10)
    try:
        total = await asyncio.to_thread(open_accounts, app, 2, 4)  # 10 events
        deliver = relay_batch._Batch.on_reply

        async def lose_the_third(batch: relay_batch._Batch, msg: Msg) -> None:
            if msg.subject.rpartition(".")[2] != "2":
                await deliver(batch, msg)

        monkeypatch.setattr(relay_batch._Batch, "on_reply", lose_the_third)
        monkeypatch.setattr(relay_batch, "ACK_IDLE_TIMEOUT_SECONDS", 0.3)
        assert await relay.publish_pending() == 2  # what is known to be stored
        assert await relay.position() == 2
        monkeypatch.undo()

        # The stream holds all ten: the next pass learns it from the stream head.
        assert await relay.publish_pending() == 0
        assert await relay.position() == total
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relaylostack:{n}" for n in range(1, total + 1)]
    finally:
        app.close()


class Gadget(Aggregate):
    """An aggregate whose creation event is at version 2, stored at version 1."""

    class Created(Aggregate.Created):
        class_version = 2
        colour: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["colour"] = "grey"

    @event(Created)
    def __init__(self, colour: str) -> None:
        self.colour = colour


def save_varied_events(app: AccountsApp) -> None:
    """Events that take every way through the relay's encoder."""
    open_accounts(app, 2, 2)  # plain JSON, and Decimal and UUID fields
    span = NonRecordingSpan(
        SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, TraceFlags(1))
    )
    actor = Actor(sub="op-1", dept="SAMR", roles=("operator", "auditor"))
    with (
        trace.use_span(span),
        command_context(CommandContext(actor=actor, causation_id="registry:7")),
    ):
        app.save(Account("traced"))  # traceparent, causation id, actor
    v1 = Gadget("red").collect_events()[0]
    stored = app.mapper.to_stored_event(v1)
    compressor = app.mapper.compressor
    raw = compressor.decompress(stored.state) if compressor else stored.state
    state = json.loads(raw)
    state.pop("class_version")
    del state["colour"]
    raw = json.dumps(state).encode()
    raw = compressor.compress(raw) if compressor else raw
    app.recorder.insert_events([dataclasses.replace(stored, state=raw)])  # to be upcast


@pytest.mark.parametrize("compressed", [False, True], ids=["json", "compressed"])
async def test_the_relay_publishes_what_to_cloudevent_builds(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, compressed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tracing not set up, as to_cloudevent assumes: the stored traceparent goes out as it
    # is. (Another test module may have installed the SDK provider for the whole session,
    # and the relay would then, rightly, put its own PRODUCER span there.)
    monkeypatch.setattr(relay_wire, "_tracer", trace.NoOpTracer())
    js = nc.jetstream()
    service = "relaywire" + ("z" if compressed else "")
    settings = infra.settings(service).model_copy(update={"relay_batch": 100})
    env = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"} if compressed else {}
    app = await asyncio.to_thread(relay_app_class(service), settings, env)
    relay = Relay(app, js, pool)
    await relay.setup()
    try:
        await asyncio.to_thread(save_varied_events, app)
        await publish_all(relay)
        notifications = await asyncio.to_thread(app.notifications_after, 0, 100)
        assert len(notifications) == 8
        for notification in notifications:
            msg = await js.get_msg(relay.stream, notification.id)
            assert msg.headers is not None
            event = app.mapper.to_domain_event(notification)
            expected = to_cloudevent(
                service,
                relay.subject_prefix,
                notification.id,
                event,
                traceparent=msg.headers.get("traceparent"),
            )
            assert (msg.subject, msg.data) == (expected.subject, expected.body)
        assert msg.data is not None
        last = parse_cloudevent(msg.data)  # the upcast one
        assert (last.type, last.data) == (f"ssj.{service}.Created.v2", {"colour": "grey"})
        traced_msg = await js.get_msg(relay.stream, 7)
        assert traced_msg.data is not None
        traced = parse_cloudevent(traced_msg.data)
        assert traced.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        assert (traced.actor_sub, traced.causation_id) == ("op-1", "registry:7")
    finally:
        app.close()


async def test_each_event_gets_one_producer_span_under_its_stored_traceparent(
    infra: Infra, nc: NATS, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(relay_wire, "_tracer", provider.get_tracer("ssj.relay"))
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayspans", js, pool, batch=100)
    try:
        await asyncio.to_thread(save_varied_events, app)
        await publish_all(relay)
        rows = await relay.read(0, 1)
        (duplicate,) = (await relay.publish_batch(rows, 8)).acks
        assert duplicate.duplicate

        spans = exporter.get_finished_spans()
        assert len(spans) == 9
        messages = await stream_messages(js, relay.stream)
        for message, span in zip(messages, spans[:8], strict=True):
            context = span.get_span_context()
            assert context is not None
            traceparent = (
                f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
            )
            assert message.event.traceparent == traceparent
            msg = await js.get_msg(relay.stream, message.seq)
            assert msg.headers is not None and msg.headers["traceparent"] == traceparent
            assert span.kind == SpanKind.PRODUCER
            assert span.name == f"publish relayspans.{message.event.name}"
            assert dict(span.attributes or {}) == {
                "messaging.system": "nats",
                "messaging.destination.name": message.nats_subject,
                "messaging.message.id": message.msg_id,
                "messaging.nats.stream_sequence": message.seq,
            }
            assert span.start_time is not None and span.end_time is not None
            assert span.start_time <= span.end_time
        traced = spans[6]  # a child of the request that saved the event
        assert traced.parent is not None and traced.context is not None
        assert (traced.parent.trace_id, traced.parent.span_id) == (
            0x0AF7651916CD43DD8448EB211C80319C,
            0xB7AD6B7169203331,
        )
        assert traced.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
        assert all(s.parent is None for s in spans[:6])  # saved outside any trace
        assert spans[8].attributes is not None
        assert spans[8].attributes["messaging.nats.duplicate"] is True
    finally:
        app.close()


async def test_the_loop_publishes_each_save_in_one_pass_woken_by_the_save(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    """A pass that read and published everything there was is not followed by a second
    pass to find nothing (each pass checks the stream's head); the next save wakes it, and
    a save during a pass is not left for the idle timeout (here far longer than the test)."""
    app, relay = await make_relay(
        infra, "relaywake", nc.jetstream(), pool, batch=100, idle_seconds=60.0
    )
    passes: list[int] = []
    publish_pending = relay.publish_pending

    async def counted() -> int:
        passes.append(await publish_pending())
        return passes[-1]

    relay.publish_pending = counted  # type: ignore[method-assign]
    relay.start()
    try:

        async def first_pass() -> bool:
            return bool(passes)

        await poll(first_pass)  # nothing saved yet
        saved = 0

        async def settled() -> bool:
            return await relay.position() == saved

        for accounts in (1, 2, 3):  # one save each, while the loop waits
            saved += await asyncio.to_thread(open_accounts, app, accounts, 0)
            await poll(settled, timeout=10)
        assert passes == [0, 1, 2, 3]
        # Saves one after the other while passes run: none waits for the idle timeout.
        saved += await asyncio.to_thread(open_accounts, app, 3, 3)
        await poll(settled, timeout=10)
        assert sum(passes) == saved
    finally:
        await relay.stop()
        app.close()


async def test_a_save_after_the_read_ahead_wakes_the_next_pass(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    """Found by an adversarial review: a page read ahead (before the next pass cleared the
    wake flag) was taken as proof of a drain, so a save committed after the read-ahead
    waited for the idle timeout (60 s here)."""
    app, relay = await make_relay(
        infra, "relayahead", nc.jetstream(), pool, batch=2, idle_seconds=60.0
    )
    original = relay.publish_batch
    saved_late = False

    async def publish_then_save(rows: Any, last_seq: Any) -> Any:
        nonlocal saved_late
        if not saved_late and relay._ahead is not None:
            saved_late = True
            await relay._ahead[1]  # the read-ahead holds event 3
            await asyncio.to_thread(open_accounts, app, 1, 0)  # event 4, committed now
            await asyncio.sleep(0.05)  # its wake lands before the next pass
        return await original(rows, last_seq)

    relay.publish_batch = publish_then_save  # type: ignore[method-assign]
    await asyncio.to_thread(open_accounts, app, 3, 0)  # a full page [1, 2], 3 read ahead
    relay.start()
    try:

        async def settled() -> bool:
            return await relay.position() == 4

        await poll(settled, timeout=10)
        assert saved_late
    finally:
        await relay.stop()
        app.close()
