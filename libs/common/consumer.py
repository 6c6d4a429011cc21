"""The consumer runner: a durable pull consumer that updates a read model exactly once.

For each message, the handler's writes and the consumer's processed position
(``consumer_position``: consumer, stream, last stream sequence) are committed in one
PostgreSQL transaction; only then is the message acked. A redelivered message (crash
between commit and ack, ack lost, NATS restart) finds its sequence already recorded and is
acked without running the handler again.

Messages are handled strictly in stream order. On a handler error the rest of the batch is
left unacked and retried after a pause, so a later event is never applied before an
earlier one. Run one process per consumer name.
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
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.common.bus import ensure_stream
from libs.common.envelope import InboundEvent, parse_cloudevent
from libs.common.faults import crash_point
from libs.common.settings import CommonSettings
from libs.common.tracing import context_from_headers, tracer

log = logging.getLogger(__name__)
_tracer = tracer("ssj.consumer")

Handler = Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]

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
        handler: Handler,
        js: JetStreamContext,
        pool: asyncpg.Pool,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.name = name
        self.source = source
        self.handler = handler
        self.js = js
        self.pool = pool
        self.stream = settings.stream_name(source)
        # Durable names must be unique per stream; namespacing by consumer service suffices.
        self.durable = f"{schema}-{name}"
        self._task: asyncio.Task[None] | None = None
        self.handled_total = 0

    async def setup(self) -> None:
        """Create the position table, the source stream (if its owner is not up yet), and
        the durable consumer."""
        async with self.pool.acquire() as conn:
            await conn.execute(POSITION_DDL.format(schema=self.schema))
        await ensure_stream(self.js, self.settings, self.source)
        self._sub = await self.js.pull_subscribe(
            f"{self.settings.subject_prefix(self.source)}.>",
            durable=self.durable,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=30,
                max_ack_pending=self.settings.consumer_batch * 2,
            ),
        )

    def start(self) -> None:
        """Run the fetch loop in the background."""
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        """Stop fetching; unacked messages are redelivered to the next run."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def lag(self) -> int:
        """Messages in the stream this consumer has not acked yet."""
        info = await self._sub.consumer_info()
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def _run(self) -> None:
        while True:
            try:
                msgs = await self._sub.fetch(self.settings.consumer_batch, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s: fetch failed", self.durable)
                await asyncio.sleep(1.0)
                continue
            for index, msg in enumerate(msgs):
                try:
                    await self.handle(msg.data, msg.headers, msg.metadata.sequence.stream)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception(
                        "consumer %s: handler failed at stream seq %s; will retry",
                        self.durable,
                        msg.metadata.sequence.stream,
                    )
                    for pending in msgs[index:]:
                        with contextlib.suppress(Exception):
                            await pending.nak(delay=1.0)
                    await asyncio.sleep(1.0)
                    break
                crash_point("consumer.after_commit")
                await msg.ack()

    async def handle(self, body: bytes, headers: dict[str, str] | None, stream_seq: int) -> bool:
        """Apply one message unless its sequence is already recorded; True if applied."""
        event = parse_cloudevent(body, self.stream, stream_seq)
        with _tracer.start_as_current_span(
            f"consume {event.service}.{event.name}",
            context=context_from_headers(headers),
            kind=SpanKind.CONSUMER,
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.durable)
            span.set_attribute("messaging.message.id", event.id)
            span.set_attribute("messaging.nats.stream_sequence", stream_seq)
            async with self.pool.acquire() as conn, conn.transaction():
                last = await conn.fetchval(
                    f"""SELECT stream_seq FROM {self.schema}.consumer_position
                        WHERE consumer = $1 AND stream = $2 FOR UPDATE""",
                    self.durable,
                    self.stream,
                )
                if last is not None and stream_seq <= last:
                    span.set_attribute("ssj.duplicate", True)
                    return False
                try:
                    await self.handler(conn, event)
                except Exception as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR))
                    raise
                await conn.execute(
                    f"""INSERT INTO {self.schema}.consumer_position (consumer, stream, stream_seq)
                        VALUES ($1, $2, $3)
                        ON CONFLICT (consumer, stream) DO UPDATE
                        SET stream_seq = EXCLUDED.stream_seq, updated_at = now()""",
                    self.durable,
                    self.stream,
                    stream_seq,
                )
        self.handled_total += 1
        return True
