"""The consumer runner: a durable pull consumer that updates a read model exactly once,
in stream order.

For each batch, the handler's writes for every message and the consumer's processed
position (``consumer_position``: consumer, stream, last stream sequence) are committed in
one PostgreSQL transaction; only then is the batch acked (``AckPolicy.ALL``: one ack for
the last message). A redelivered message (crash between commit and ack, ack lost, NATS
restart) finds its sequence already recorded and is skipped.

The position in PostgreSQL, not JetStream's delivery state, decides where delivery
resumes: at start, after a handler error, and whenever a message arrives ahead of the next
expected sequence (an earlier one is still out with a dead or slow delivery), the durable
consumer is re-created to start right after the committed position. So a later event is
never applied before an earlier one, and none is skipped. Among replicas of a service, one
process leads each consumer (:mod:`libs.common.leader`); the others stand by.

Delivery is pipelined. Messages arrive on a subscription of this consumer's own inbox and
are parsed there, as they arrive, while the previous batch is still in PostgreSQL; the
next pull request goes out as soon as a batch is taken. A batch is what one pull request
brought (``SSJ_CONSUMER_BATCH`` messages when the stream has them, fewer at its end), or,
once the stream is drained and the consumer waits on a long poll, whatever has arrived.
At most two batches are unacked at any time (one being applied, one arriving), well under
the consumer's ``max_ack_pending``, so the server never holds a request back.

Process-wide: the first consumer to start sets the cyclic garbage collector up for
consumers (:func:`tune_gc`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from libs.common.alarms import AlarmSlot
from libs.common.bus import ensure_stream
from libs.common.envelope import InboundEvent, parse_cloudevent
from libs.common.faults import crash_point
from libs.common.leader import Leadership
from libs.common.settings import CommonSettings
from libs.common.tracing import context_from_headers, tracer

log = logging.getLogger(__name__)
_tracer = tracer("ssj.consumer")

Handler = Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]
# For bulk read models: one call per batch (e.g. one COPY and one INSERT … SELECT).
BatchHandler = Callable[[asyncpg.Connection, list[InboundEvent]], Awaitable[None]]

POSITION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.consumer_position (
    consumer text NOT NULL,
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
)
"""

# A long poll (the stream is drained) lasts this long on the server; a pull request that
# has had no answer this long after its expiry is taken for lost (NATS restarted, the
# consumer was deleted) and the consumer is re-created.
LONG_POLL_SECONDS = 5.0
LOST_AFTER_SECONDS = 10.0
# How long _take waits for messages before returning to the loop (leadership checks).
IDLE_SECONDS = 1.0
# Pull-request outcomes that only mean "nothing more for this request".
_ENDED = {"404", "408"}
_ENDED_409 = ("Leadership Change", "Server Shutdown")


# Young-generation threshold of the cyclic garbage collector once consumers run (CPython's
# default is 700 allocations).
GC_GEN0_THRESHOLD = 50_000
_gc_tuned = False


def tune_gc() -> None:
    """Set the process's cyclic garbage collector up for consumers, once per process:
    freeze what exists when the first consumer starts, and collect the youngest
    generation every GC_GEN0_THRESHOLD allocations rather than every 700.

    A consumer holds the batch being applied and the next one, parsed: thousands of small
    dicts and lists that live a few tens of milliseconds. With CPython's defaults they
    survive enough young collections to reach the oldest generation, and every few
    thousand events a full collection walks the whole heap (modules, the app, code
    tables). On the registry's bulk import (``make bench-pipeline``, 200,000 events) that
    was a fifth of the consumer's CPU: 40 µs an event without this, 32 with it.

    Frozen objects (those alive now, which live as long as the process) are still freed
    when their last reference goes; only a reference cycle among them would no longer be
    collected. A larger young generation lets most events die by reference counting before
    a collection sees them, at the cost of a few megabytes of cyclic garbage waiting a
    little longer. A process that disabled the collector is left alone.
    """
    global _gc_tuned
    if _gc_tuned or not gc.isenabled():
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)


class OutOfOrder(Exception):
    """A message skipped ahead of the committed position (an earlier one is missing)."""


class PullFailed(Exception):
    """JetStream answered a pull request with an error status, or did not answer at all."""


class _Delivery:
    """One message as received: stream sequence, parsed event (or why it did not parse),
    the producer's trace context (W3C headers) and the subject to ack it on.

    Messages wait here while the batch before them is applied, long enough for Python's
    garbage collector to promote them; so a delivery keeps no more than it needs (not the
    NATS message, not its header dictionary).
    """

    __slots__ = ("event", "reply", "stream_seq", "traceparent", "tracestate")

    def __init__(
        self,
        stream_seq: int,
        event: InboundEvent | Exception,
        headers: Mapping[str, str] | None,
        reply: str = "",
    ) -> None:
        self.stream_seq = stream_seq
        self.event = event
        self.traceparent = headers.get("traceparent") if headers else None
        self.tracestate = headers.get("tracestate") if headers else None
        self.reply = reply

    @property
    def headers(self) -> dict[str, str]:
        """The trace-context headers the message came with."""
        headers = {}
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
            if self.tracestate is not None:
                headers["tracestate"] = self.tracestate
        return headers


class _Pull:
    """The one outstanding pull request."""

    __slots__ = ("asked", "delivered", "long_poll", "lost_at", "token")

    def __init__(self, token: str, asked: int, long_poll: bool, lost_at: float) -> None:
        self.token = token
        self.asked = asked
        self.delivered = 0
        self.long_poll = long_poll
        self.lost_at = lost_at


def _stream_seq(msg: Msg) -> int:
    """Stream sequence from the ack subject: ``$JS.ACK.<stream>.<consumer>.<delivered>.
    <stream seq>.…`` (9 tokens), or with domain and account hash (11 or 12 tokens)."""
    tokens = (msg.reply or "").split(".")
    if tokens[:2] == ["$JS", "ACK"]:
        if len(tokens) == 9:
            return int(tokens[5])
        if len(tokens) >= 11:
            return int(tokens[7])
    return int(msg.metadata.sequence.stream)  # raises NotJSMessageError


def _max_links() -> int | None:
    """How many links the SDK keeps on a span (OTEL_SPAN_LINK_COUNT_LIMIT, 128 by
    default; None: unlimited). It keeps the last ones given."""
    return SpanLimits().max_links


class Consumer:
    """Feeds one source service's stream into one handler of the consuming service."""

    def __init__(
        self,
        *,
        settings: CommonSettings,
        schema: str,
        name: str,
        source: str,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        js: JetStreamContext,
        pool: asyncpg.Pool,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.name = name
        self.source = source
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler and batch_handler")
        self.handler = handler
        self.batch_handler = batch_handler
        self.js = js
        self.pool = pool
        self.stream = settings.stream_name(source)
        # Durable names must be unique per stream; namespacing by consumer service suffices.
        self.durable = f"{schema}-{name}"
        self.batch = max(1, settings.consumer_batch)
        self._task: asyncio.Task[None] | None = None
        self._expected = 1
        self.leadership = Leadership(settings.database_url, f"consumer:{self.durable}")
        # Raised when the consumer cannot go on by itself (shown on /readyz, as a metric).
        self.alarm = AlarmSlot(f"consumer:{self.durable}")
        self.handled_total = 0
        self.duplicates_total = 0  # redeliveries recognised and skipped
        self._max_links = _max_links()
        # Delivery state, replaced at every (re)subscription.
        self._inbox_sub: Subscription | None = None
        self._inbox = ""
        self._generation = 0
        self._tokens = 0
        self._buffer: deque[_Delivery] = deque()
        self._pull: _Pull | None = None
        self._drained = False  # the last pull request found nothing: long-poll next
        self._failure: str | None = None
        self._arrived = asyncio.Event()

    async def setup(self) -> None:
        """Create the position table and the source stream (if its owner is not up yet).

        The durable consumer itself is (re)created by the leading process when it starts.
        """
        async with self.pool.acquire() as conn:
            await conn.execute(POSITION_DDL.format(schema=self.schema))
        await ensure_stream(self.js, self.settings, self.source)

    async def _committed(self) -> int:
        async with self.pool.acquire() as conn:
            value = await conn.fetchval(
                f"""SELECT stream_seq FROM {self.schema}.consumer_position
                    WHERE consumer = $1 AND stream = $2""",
                self.durable,
                self.stream,
            )
        return int(value or 0)

    @property
    def _nc(self) -> NATS:
        # Pull requests and the inbox subscription use the JetStream context's connection.
        nc: NATS = self.js._nc
        return nc

    async def _resubscribe(self) -> None:
        """(Re)create the durable consumer to deliver from just after the committed position.

        Whatever the previous consumer had delivered but not seen acked is forgotten (and
        what this process had received of it is dropped), so nothing can come back later
        out of order.
        """
        await self._close_inbox()
        info = await self.js.stream_info(self.stream)
        start = max(await self._committed() + 1, int(info.state.first_seq or 1))
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, self.durable)
        await self.js.add_consumer(
            self.stream,
            ConsumerConfig(
                durable_name=self.durable,
                filter_subject=f"{self.settings.subject_prefix(self.source)}.>",
                ack_policy=AckPolicy.ALL,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                ack_wait=30,
                # We keep at most two batches unacked; the third is slack for an ack the
                # server sees after the next pull request.
                max_ack_pending=self.batch * 3,
            ),
        )
        await self._open_inbox()
        self._expected = start

    async def _open_inbox(self) -> None:
        self._generation += 1
        generation = self._generation
        self._inbox = self._nc.new_inbox()
        self._buffer = deque()
        self._pull = None
        self._drained = False
        self._failure = None

        async def on_message(msg: Msg) -> None:
            if generation == self._generation:
                self._receive(msg)

        self._inbox_sub = await self._nc.subscribe(f"{self._inbox}.*", cb=on_message)

    async def _close_inbox(self) -> None:
        self._generation += 1  # late callbacks of the old subscription are ignored
        self._buffer = deque()
        self._pull = None
        if self._inbox_sub is not None:
            with contextlib.suppress(Exception):
                await self._inbox_sub.unsubscribe()
            self._inbox_sub = None

    def _receive(self, msg: Msg) -> None:
        """Every message on the inbox: a delivery (parsed right away, while the batch
        before it is in PostgreSQL) or a status answering a pull request."""
        headers = msg.headers
        data = msg.data
        if data or not headers or "Status" not in headers:
            reply = msg.reply
            try:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.… (_stream_seq)
                tokens = reply.split(".")
                seq = int(tokens[5]) if len(tokens) == 9 and tokens[0] == "$JS" else -1
                if seq < 0:
                    seq = _stream_seq(msg)
            except Exception:
                log.warning("consumer %s: ignoring a message without an ack subject", self.durable)
                return
            try:
                event: InboundEvent | Exception = parse_cloudevent(data, self.stream, seq)
            except Exception as exc:  # raised when the batch is applied, as a handler error
                event = exc
            self._buffer.append(_Delivery(seq, event, headers, reply))
            pull = self._pull
            if pull is not None:
                pull.delivered += 1
                if pull.delivered >= pull.asked:
                    self._end_pull(pull)
                elif pull.long_poll or len(self._buffer) >= self.batch:
                    self._arrived.set()
            return
        status = headers["Status"]
        if status == "100":  # idle heartbeat or flow control: not asked for, nothing to do
            return
        pull = self._pull
        if pull is None or msg.subject != f"{self._inbox}.{pull.token}":
            return  # the answer to a request given up on
        description = str(headers.get("Description", ""))
        if status not in _ENDED and not (status == "409" and description in _ENDED_409):
            self._failure = f"{status} {description}".strip()
        self._end_pull(pull)

    def _end_pull(self, pull: _Pull) -> None:
        self._pull = None
        self._drained = pull.delivered == 0
        self._arrived.set()

    async def _request(self) -> None:
        """Ask for the next batch unless a request is out or a batch is already here.

        Asks for no more than fills one batch, so with the batch being applied at most two
        are unacked. A drained stream gets a long poll, whose first message ends the wait.
        """
        pull = self._pull
        if pull is not None:
            if time.monotonic() < pull.lost_at:
                return
            self._pull = None
            raise PullFailed(f"no answer to pull request {pull.token} of {self.durable}")
        wanted = self.batch - len(self._buffer)
        if wanted <= 0:
            return
        self._tokens += 1
        token = str(self._tokens)
        request: dict[str, Any] = {"batch": wanted}
        if self._drained:
            request["expires"] = int(LONG_POLL_SECONDS * 1e9)
            lost_at = time.monotonic() + LONG_POLL_SECONDS + LOST_AFTER_SECONDS
        else:
            request["no_wait"] = True
            lost_at = time.monotonic() + LOST_AFTER_SECONDS
        self._pull = _Pull(token, wanted, self._drained, lost_at)
        await self._nc.publish(
            f"{self.js._prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}",
            json.dumps(request).encode(),
            reply=f"{self._inbox}.{token}",
        )

    def _ready(self) -> bool:
        buffered = len(self._buffer)
        if buffered >= self.batch:
            return True
        return buffered > 0 and (self._pull is None or self._pull.long_poll)

    async def _take(self) -> list[_Delivery]:
        """The next batch, or [] after IDLE_SECONDS without one."""
        deadline = time.monotonic() + IDLE_SECONDS
        while True:
            if self._failure is not None and not self._buffer:
                failure, self._failure = self._failure, None
                raise PullFailed(f"pull request of {self.durable} failed: {failure}")
            await self._request()
            if self._ready():
                buffer = self._buffer
                taken = [buffer.popleft() for _ in range(min(self.batch, len(buffer)))]
                await self._request()  # the next batch arrives while this one is applied
                return taken
            now = time.monotonic()
            wait = deadline - now
            if self._pull is not None:
                wait = min(wait, self._pull.lost_at - now)
            if wait <= 0:
                return []
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait)

    def start(self) -> None:
        """Run the fetch loop in the background."""
        tune_gc()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        """Stop fetching; unacked messages are delivered again to the next run."""
        if self._task:
            # A cancellation can be lost: Python 3.11's asyncio.wait_for (inside every
            # nats-py request) returns the result when it arrives together with the cancel.
            # So cancel until the loop has really ended.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.2)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_inbox()
        await self.leadership.release()

    async def lag(self) -> int:
        """Messages in the source stream not yet applied (committed) by this consumer."""
        info = await self.js.stream_info(self.stream)
        return max(0, int(info.state.last_seq or 0) - await self._committed())

    async def _run(self) -> None:
        await self.leadership.acquire()
        await self._resubscribe()
        while True:
            try:
                if not self.leadership.held:  # lost the lock's connection: let another lead
                    await self.leadership.acquire()
                    await self._resubscribe()
                await self._run_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "consumer %s failed; resuming from the committed position", self.durable
                )
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await self._resubscribe()

    async def _run_batch(self) -> None:
        deliveries = await self._take()
        if not deliveries:
            return
        first = deliveries[0].stream_seq
        if first > self._expected:
            log.warning(
                "consumer %s: got stream seq %s while expecting %s; resubscribing",
                self.durable,
                first,
                self._expected,
            )
            await self._resubscribe()
            return
        await self._apply(deliveries)
        self._expected = max(self._expected, deliveries[-1].stream_seq + 1)
        crash_point("consumer.after_commit")
        # AckPolicy.ALL: acking the last message acknowledges the whole batch.
        await self._nc.publish(deliveries[-1].reply, b"+ACK")

    async def handle(self, body: bytes, headers: dict[str, str] | None, stream_seq: int) -> bool:
        """Apply one message unless its sequence is already recorded; True if applied."""
        return await self.apply([(body, headers, stream_seq)]) == 1

    async def apply(self, batch: list[tuple[bytes, dict[str, str] | None, int]]) -> int:
        """Apply a batch of (body, headers, stream sequence) in one transaction: each
        message newer than the committed position, in order, then the new position.
        Returns how many were applied."""
        deliveries = []
        for body, headers, stream_seq in batch:
            try:
                event: InboundEvent | Exception = parse_cloudevent(body, self.stream, stream_seq)
            except Exception as exc:
                event = exc
            deliveries.append(_Delivery(stream_seq, event, headers))
        return await self._apply(deliveries)

    async def _apply(self, deliveries: Sequence[_Delivery]) -> int:
        """One transaction per batch rather than per message keeps the read model fast
        under bulk imports; a failure (a handler's, or a message that does not parse) rolls
        the whole batch back, position included."""
        async with self.pool.acquire() as conn, conn.transaction():
            last = await conn.fetchval(
                f"""SELECT stream_seq FROM {self.schema}.consumer_position
                    WHERE consumer = $1 AND stream = $2 FOR UPDATE""",
                self.durable,
                self.stream,
            )
            position = int(last or 0)
            fresh: list[_Delivery] = []
            events: list[InboundEvent] = []
            for delivery in deliveries:
                stream_seq = delivery.stream_seq
                if stream_seq <= position:
                    self.duplicates_total += 1
                    continue
                if stream_seq != position + 1 and position:
                    raise OutOfOrder(f"stream seq {stream_seq} after {position}")
                event = delivery.event
                if isinstance(event, Exception):
                    raise event
                fresh.append(delivery)
                events.append(event)
                position = stream_seq
            if self.batch_handler is not None and fresh:
                await self._apply_batch(conn, fresh, events)
            else:
                for delivery, event in zip(fresh, events, strict=True):
                    await self._apply_one(conn, event, delivery)
            applied = len(fresh)
            if applied:
                await conn.execute(
                    f"""INSERT INTO {self.schema}.consumer_position (consumer, stream, stream_seq)
                        VALUES ($1, $2, $3)
                        ON CONFLICT (consumer, stream) DO UPDATE
                        SET stream_seq = EXCLUDED.stream_seq, updated_at = now()""",
                    self.durable,
                    self.stream,
                    position,
                )
        self.handled_total += applied
        return applied

    def _links(self, fresh: list[_Delivery]) -> list[Link]:
        """Links to the messages' publish spans. The SDK keeps only the last
        ``max_links`` links given to a span, so only those are built."""
        limit = len(fresh) if self._max_links is None else self._max_links
        links: list[Link] = []
        for delivery in reversed(fresh):
            if len(links) >= limit:
                break
            if delivery.traceparent is None:
                continue
            context = trace.get_current_span(context_from_headers(delivery.headers))
            span_context = context.get_span_context()
            if span_context.is_valid:
                links.append(Link(span_context))
        links.reverse()
        return links

    async def _apply_batch(
        self, conn: asyncpg.Connection, fresh: list[_Delivery], events: list[InboundEvent]
    ) -> None:
        # One span for the batch, linked to the messages' publish spans (the OpenTelemetry
        # convention for batch consumption).
        with _tracer.start_as_current_span(
            f"consume {self.source} batch", kind=SpanKind.CONSUMER, links=self._links(fresh)
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.durable)
            span.set_attribute("messaging.batch.message_count", len(fresh))
            assert self.batch_handler is not None
            try:
                await self.batch_handler(conn, events)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR))
                raise

    async def _apply_one(
        self, conn: asyncpg.Connection, event: InboundEvent, delivery: _Delivery
    ) -> None:
        with _tracer.start_as_current_span(
            f"consume {event.service}.{event.name}",
            context=context_from_headers(delivery.headers),
            kind=SpanKind.CONSUMER,
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.durable)
            span.set_attribute("messaging.message.id", event.id)
            span.set_attribute("messaging.nats.stream_sequence", event.stream_seq)
            assert self.handler is not None
            try:
                await self.handler(conn, event)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR))
                raise
