"""The consumer runner: a durable pull consumer that updates a read model exactly once,
in stream order.

For each fetched batch, the handler's writes for every message and the consumer's
processed position (``consumer_position``: consumer, stream, last stream sequence) are
committed in one PostgreSQL transaction; only then is the batch acked (``AckPolicy.ALL``:
one ack for the last message). A redelivered message (crash between commit and ack, ack
lost, NATS restart) finds its sequence already recorded and is skipped.

The position in PostgreSQL, not JetStream's delivery state, decides where delivery
resumes: at start, after a handler error, and whenever a message arrives ahead of the next
expected sequence (an earlier one is still out with a dead or slow delivery), the durable
consumer is re-created to start right after the committed position. So a later event is
never applied before an earlier one, and none is skipped. Among replicas of a service, one
process leads each consumer (:mod:`libs.common.leader`); the others stand by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from libs.common.bus import ensure_stream
from libs.common.envelope import InboundEvent, parse_cloudevent
from libs.common.faults import crash_point
from libs.common.leader import Leadership
from libs.common.settings import CommonSettings
from libs.common.tracing import context_from_headers, tracer

log = logging.getLogger(__name__)
_tracer = tracer("ssj.consumer")

Handler = Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]
# For bulk read models: one call per fetched batch (e.g. one executemany or COPY).
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
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._expected = 1
        self.leadership = Leadership(settings.database_url, f"consumer:{self.durable}")
        self.handled_total = 0
        self.duplicates_total = 0  # redeliveries recognised and skipped

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

    async def _resubscribe(self) -> None:
        """(Re)create the durable consumer to deliver from just after the committed position.

        Whatever the previous consumer had delivered but not seen acked is forgotten, so
        nothing can come back later out of order.
        """
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
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
                max_ack_pending=self.settings.consumer_batch * 2,
            ),
        )
        self._sub = await self.js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self._expected = start

    def start(self) -> None:
        """Run the fetch loop in the background."""
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
        assert self._sub is not None
        try:
            msgs = await self._sub.fetch(self.settings.consumer_batch, timeout=1.0)
        except (NatsTimeoutError, TimeoutError):
            return
        if not msgs:
            return
        first = msgs[0].metadata.sequence.stream
        if first > self._expected:
            log.warning(
                "consumer %s: got stream seq %s while expecting %s; resubscribing",
                self.durable,
                first,
                self._expected,
            )
            await self._resubscribe()
            return
        await self.apply([(m.data, m.headers, m.metadata.sequence.stream) for m in msgs])
        self._expected = max(self._expected, msgs[-1].metadata.sequence.stream + 1)
        crash_point("consumer.after_commit")
        # AckPolicy.ALL: acking the last message acknowledges the whole batch.
        await msgs[-1].ack()

    async def handle(self, body: bytes, headers: dict[str, str] | None, stream_seq: int) -> bool:
        """Apply one message unless its sequence is already recorded; True if applied."""
        return await self.apply([(body, headers, stream_seq)]) == 1

    async def apply(self, batch: list[tuple[bytes, dict[str, str] | None, int]]) -> int:
        """Apply a fetched batch in one transaction: each message newer than the committed
        position, in order, then the new position. Returns how many were applied.

        One transaction per batch rather than per message keeps the read model fast under
        bulk imports; a failure rolls the whole batch back, position included.
        """
        applied = 0
        async with self.pool.acquire() as conn, conn.transaction():
            last = await conn.fetchval(
                f"""SELECT stream_seq FROM {self.schema}.consumer_position
                    WHERE consumer = $1 AND stream = $2 FOR UPDATE""",
                self.durable,
                self.stream,
            )
            position = int(last or 0)
            fresh: list[tuple[InboundEvent, dict[str, str] | None]] = []
            for body, headers, stream_seq in batch:
                if stream_seq <= position:
                    self.duplicates_total += 1
                    continue
                if stream_seq != position + 1 and position:
                    raise OutOfOrder(f"stream seq {stream_seq} after {position}")
                fresh.append((parse_cloudevent(body, self.stream, stream_seq), headers))
                position = stream_seq
            if self.batch_handler is not None and fresh:
                await self._apply_batch(conn, fresh)
            else:
                for event, headers in fresh:
                    await self._apply_one(conn, event, headers)
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

    async def _apply_batch(
        self, conn: asyncpg.Connection, fresh: list[tuple[InboundEvent, dict[str, str] | None]]
    ) -> None:
        # One span for the batch, linked to every message's publish span (the OpenTelemetry
        # convention for batch consumption).
        links = [
            Link(span_context)
            for _, headers in fresh
            if (
                span_context := trace.get_current_span(
                    context_from_headers(headers)
                ).get_span_context()
            ).is_valid
        ]
        with _tracer.start_as_current_span(
            f"consume {self.source} batch", kind=SpanKind.CONSUMER, links=links
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.durable)
            span.set_attribute("messaging.batch.message_count", len(fresh))
            assert self.batch_handler is not None
            try:
                await self.batch_handler(conn, [event for event, _ in fresh])
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR))
                raise

    async def _apply_one(
        self, conn: asyncpg.Connection, event: InboundEvent, headers: dict[str, str] | None
    ) -> None:
        stream_seq = event.stream_seq
        with _tracer.start_as_current_span(
            f"consume {event.service}.{event.name}",
            context=context_from_headers(headers),
            kind=SpanKind.CONSUMER,
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.durable)
            span.set_attribute("messaging.message.id", event.id)
            span.set_attribute("messaging.nats.stream_sequence", stream_seq)
            assert self.handler is not None
            try:
                await self.handler(conn, event)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR))
                raise


class OutOfOrder(Exception):
    """A message skipped ahead of the committed position (an earlier one is missing)."""
