"""The relay: notification log → JetStream, the only way events leave a service.

Loop: read stored events after the last recorded position, publish each in order with
``Nats-Msg-Id = <service>:<notification id>``, wait for every ack, then record the new
position. A crash anywhere before the position write means the batch is published again
and JetStream drops the duplicates (within the stream's duplicate window); a crash after it
loses nothing. There is no other write to NATS anywhere, so there is no dual write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
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
            self._task.cancel()
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

    async def publish_pending(self) -> int:
        """Publish one batch after the recorded position; return how many went out."""
        position = await self.position()
        notifications = await asyncio.to_thread(
            self.app.notifications_after, position, self.settings.relay_batch
        )
        if not notifications:
            return 0
        for notification in notifications:
            await self._publish(notification)
        crash_point("relay.after_publish")
        last = notifications[-1].id
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"""INSERT INTO {self.app.schema}.relay_position (stream, position)
                    VALUES ($1, $2)
                    ON CONFLICT (stream) DO UPDATE
                    SET position = EXCLUDED.position, updated_at = now()""",
                self.stream,
                last,
            )
        self.published_total += len(notifications)
        return len(notifications)

    async def _publish(self, notification: object) -> None:
        event = self.app.mapper.to_domain_event(notification)  # type: ignore[arg-type]
        meta = getattr(event, "meta", None) or {}
        parent = context_from_traceparent(meta.get("traceparent"))
        name = type(event).__qualname__.rpartition(".")[2]
        with _tracer.start_as_current_span(
            f"publish {self.service}.{name}", context=parent, kind=SpanKind.PRODUCER
        ) as span:
            out = to_cloudevent(
                self.service,
                self.subject_prefix,
                notification.id,  # type: ignore[attr-defined]
                event,
                traceparent=current_traceparent(),
            )
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", out.subject)
            span.set_attribute("messaging.message.id", out.msg_id)
            headers = inject_headers({"Nats-Msg-Id": out.msg_id})
            ack = await self.js.publish(out.subject, out.body, headers=headers, stream=self.stream)
            span.set_attribute("messaging.nats.stream_sequence", ack.seq)
            if ack.duplicate:
                span.set_attribute("messaging.nats.duplicate", True)
