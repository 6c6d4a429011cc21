"""The relay: notification log → JetStream, the only way events leave a service.

Loop: find how far JetStream already is (its last message names our last published
notification), read the stored events after that, publish them pipelined with
``Nats-Msg-Id = <service>:<notification id>`` and ``Nats-Expected-Last-Sequence`` (so they
land in order or not at all), wait for the acks, then record the new position. A crash
anywhere loses nothing and duplicates nothing: the next run starts after what the stream
holds, and JetStream's duplicate window drops any message sent twice all the same. There
is no other write to NATS anywhere, so there is no dual write. One process per service
relays at a time (:mod:`libs.common.leader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from eventsourcing.persistence import Notification
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind

from libs.common.bus import ensure_stream
from libs.common.context import current_traceparent
from libs.common.envelope import to_cloudevent
from libs.common.eventstore import EventStoreApp
from libs.common.faults import crash_point
from libs.common.leader import Leadership
from libs.common.tracing import context_from_traceparent, inject_headers, tracer

log = logging.getLogger(__name__)
_tracer = tracer("ssj.relay")

POSITION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.relay_position (
    stream text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


class Relay:
    """Publishes one application's notification log to its JetStream stream."""

    def __init__(self, app: EventStoreApp, js: JetStreamContext, pool: asyncpg.Pool) -> None:
        self.app = app
        self.js = js
        self.pool = pool
        self.settings = app.settings
        self.service = app.service
        self.stream = self.settings.stream_name(self.service)
        self.subject_prefix = self.settings.subject_prefix(self.service)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.leadership = Leadership(self.settings.database_url, f"relay:{self.stream}")
        self.published_total = 0

    async def setup(self) -> None:
        """Create the position table and the stream."""
        async with self.pool.acquire() as conn:
            await conn.execute(POSITION_DDL.format(schema=self.app.schema))
        await ensure_stream(self.js, self.settings, self.service)

    def start(self) -> None:
        """Run the relay loop in the background, woken by every local save."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        self.app.on_saved(wake)
        self._task = asyncio.create_task(self._run(), name=f"relay-{self.service}")

    async def stop(self) -> None:
        """Stop the loop; anything not yet published goes out at the next start."""
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

    async def position(self) -> int:
        """Last notification id known to be in JetStream."""
        async with self.pool.acquire() as conn:
            value = await conn.fetchval(
                f"SELECT position FROM {self.app.schema}.relay_position WHERE stream = $1",
                self.stream,
            )
        return int(value or 0)

    async def lag(self) -> int:
        """Stored events not yet published."""
        newest = await asyncio.to_thread(self.app.max_notification_id)
        return max(0, newest - await self.position())

    async def _run(self) -> None:
        await self.leadership.acquire()
        while True:
            if not self.leadership.held:  # lost the lock's connection: let another lead
                await self.leadership.acquire()
            try:
                published = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay %s failed; retrying", self.service)
                await asyncio.sleep(1.0)
                continue
            if published == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.relay_idle_seconds)

    async def _stream_head(self) -> tuple[int, int]:
        """(last stream sequence, notification id of the last message we published there).

        Because every message is published with ``Nats-Expected-Last-Sequence``, the stream
        holds our events in notification order with no holes, so its last message tells
        exactly how far a previous run got, even if that run died before recording it.
        """
        info = await self.js.stream_info(self.stream)
        last_seq = int(info.state.last_seq or 0)
        if last_seq == 0:
            return 0, 0
        msg = await self.js.get_msg(self.stream, last_seq)
        msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        service, _, number = msg_id.partition(":")
        return last_seq, int(number) if service == self.service and number.isdigit() else 0

    async def publish_pending(self) -> int:
        """Publish one batch after what JetStream already has; return how many went out.

        The batch is pipelined: every message is sent at once, each expecting the stream's
        last sequence to be its predecessor's, so the server stores them in order or rejects
        the rest after the first failure. The position is written after the acks.
        """
        last_seq, in_stream = await self._stream_head()
        position = max(await self.position(), in_stream)
        notifications = await asyncio.to_thread(
            self.app.notifications_after, position, self.settings.relay_batch
        )
        if not notifications:
            if position > await self.position():
                await self._record(position)
            return 0
        outcomes = await asyncio.gather(
            *(
                self._publish(notification, expected_last_seq=last_seq + i)
                for i, notification in enumerate(notifications)
            ),
            return_exceptions=True,
        )
        published = 0
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                log.warning(
                    "relay %s: publish failed, will resume there: %s", self.service, outcome
                )
                break
            published += 1
        crash_point("relay.after_publish")
        if published:
            await self._record(notifications[published - 1].id)
        self.published_total += published
        return published

    async def _record(self, position: int) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"""INSERT INTO {self.app.schema}.relay_position (stream, position)
                    VALUES ($1, $2)
                    ON CONFLICT (stream) DO UPDATE
                    SET position = EXCLUDED.position, updated_at = now()""",
                self.stream,
                position,
            )

    async def _publish(self, notification: Notification, expected_last_seq: int) -> None:
        event = self.app.mapper.to_domain_event(notification)
        meta = getattr(event, "meta", None) or {}
        parent = context_from_traceparent(meta.get("traceparent"))
        name = type(event).__qualname__.rpartition(".")[2]
        with _tracer.start_as_current_span(
            f"publish {self.service}.{name}", context=parent, kind=SpanKind.PRODUCER
        ) as span:
            out = to_cloudevent(
                self.service,
                self.subject_prefix,
                notification.id,
                event,
                traceparent=current_traceparent(),
            )
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", out.subject)
            span.set_attribute("messaging.message.id", out.msg_id)
            headers = inject_headers(
                {
                    "Nats-Msg-Id": out.msg_id,
                    "Nats-Expected-Last-Sequence": str(expected_last_seq),
                }
            )
            ack = await self.js.publish(out.subject, out.body, headers=headers, stream=self.stream)
            span.set_attribute("messaging.nats.stream_sequence", ack.seq)
            if ack.duplicate:
                span.set_attribute("messaging.nats.duplicate", True)
