"""The consumer runner: a durable pull consumer that updates a read model exactly once,
in stream order.

For each batch, the handler's writes for every message and the consumer's processed
position (:mod:`libs.common.positions`: consumer, stream, last stream sequence and its
event id) are committed in one PostgreSQL transaction; only then is the batch acked
(``AckPolicy.ALL``: one ack for the last message). A redelivered message (crash between
commit and ack, ack lost, NATS restart) finds its sequence already recorded and is skipped.

The position in PostgreSQL, not JetStream's delivery state, decides where delivery
resumes: at start, after any failure, and whenever a message arrives other than the next
expected sequence, the durable consumer is re-created to start right after the committed
position. So a later event is never applied before an earlier one, and none is skipped.
Delivery itself (pipelined pull requests on the consumer's own inbox) is
:mod:`libs.common.delivery`.

Among replicas of a service, one process leads each consumer (:mod:`libs.common.leader`);
the others stand by. Once the lock is taken, no failure ends the loop: everything is
retried with backoff (:mod:`libs.common.retrying`). The leader verifies its lease before
every batch and again inside the batch's transaction, so a leader cut off from the lock
cannot commit. A loop that ends anyway gives the lock up and raises the alarm
``consumer_stopped``.

Before delivering, the consumer checks that the stream still holds the event it applied
last; a stream that went backwards (restored, recreated, lost acknowledged messages)
raises the alarm ``stream_went_backwards`` instead of skipping the messages that reuse its
sequences, until an operator resets the position (:meth:`Consumer.reset_position`).
A consumer of its own service's stream also checks that each batch is its database's
events (:mod:`libs.common.own_stream`), raising ``stream_database_mismatch`` otherwise.

Process-wide: the first consumer to start sets the cyclic garbage collector up for
consumers (:func:`tune_gc`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from libs.common import consumer_spans as spans
from libs.common import positions
from libs.common.alarms import AlarmSlot
from libs.common.bus import ensure_stream_exists
from libs.common.consumer_apply import ExactlyOnce
from libs.common.consumer_spans import BatchHandler, Handler
from libs.common.delivery import LONG_POLL_SECONDS, Delivery, PullDelivery, PullFailed
from libs.common.faults import crash_point
from libs.common.gc_tuning import tune_gc
from libs.common.leader import Leadership, LeadershipLost
from libs.common.own_stream import OwnStore, StreamNotThisDatabase
from libs.common.positions import OutOfOrder, StreamWentBackwards
from libs.common.retrying import TRANSIENT_MAX_SECONDS, EventFailed, Retrying
from libs.common.settings import CommonSettings

__all__ = [
    "LONG_POLL_SECONDS",
    "BatchHandler",
    "Consumer",
    "Handler",
    "OutOfOrder",
    "PullFailed",
    "StreamWentBackwards",
    "tune_gc",
]

log = logging.getLogger(__name__)

# Failures that say nothing about the event being applied: the database or the lock went
# away, or delivery went wrong. They are retried without blaming the event.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
    LeadershipLost,
    OutOfOrder,
)

# Failures not to blame on one event of the batch: not retried event by event.
_NOT_THE_EVENTS: tuple[type[BaseException], ...] = (*_TRANSIENT, StreamNotThisDatabase)

BACKWARDS = "stream_went_backwards"
MISMATCH = "stream_database_mismatch"  # as the relay names it
STOPPED = "consumer_stopped"


class Consumer(ExactlyOnce):
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
        own_store: OwnStore | None = None,
    ) -> None:
        """``own_store``: the event store ``source``'s stream is published from, when it is
        this consumer's own database (a service reading its own stream)."""
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
        self.own_store = own_store
        self.stream = settings.stream_name(source)
        # Durable names must be unique per stream; namespacing by consumer service suffices.
        self.durable = f"{schema}-{name}"
        self.batch = max(1, settings.consumer_batch)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._expected = 1
        self._committed_seq = 0  # the position this leader last saw committed
        self._subscribed = False
        self.leadership = Leadership(
            settings.database_url,
            f"consumer:{self.durable}",
            lease_seconds=settings.leader_lease_seconds,
        )
        # Raised when the consumer cannot go on by itself (shown on /readyz, as a metric).
        self.alarm = AlarmSlot(f"consumer:{self.durable}")
        self.retrying = Retrying(
            self.alarm,
            self.stream,
            attempts=settings.consumer_poison_attempts,
            initial=settings.consumer_retry_seconds,
            maximum=settings.consumer_retry_max_seconds,
        )
        self.handled_total = 0
        self.duplicates_total = 0  # redeliveries recognised and skipped
        self._max_links = spans.max_links()
        self._delivery = PullDelivery(js, self.stream, self.durable, self.batch)

    async def setup(self) -> None:
        """Create the position table and the source stream (if its owner is not up yet).

        The durable consumer itself is (re)created by the leading process when it starts.
        """
        async with self.pool.acquire() as conn:
            await conn.execute(positions.POSITION_DDL.format(schema=self.schema))
        await ensure_stream_exists(self.js, self.settings, self.source)

    async def _committed(self) -> int:
        return (await positions.committed(self.pool, self.schema, self.durable, self.stream))[0]

    async def caught_up(self, timeout: float) -> bool:
        """Whether this consumer has applied every message its stream held when asked,
        waiting up to ``timeout`` seconds for it (a command that must not act on a read model
        older than what another service has already published)."""
        target = (await self.js.stream_info(self.stream)).state.last_seq
        deadline = time.monotonic() + timeout
        while await self._committed() < target:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    @property
    def running(self) -> bool:
        """True while the loop runs (leading or standing by)."""
        return self._task is not None and not self._task.done()

    async def _resubscribe(self) -> None:
        """(Re)create the durable consumer to deliver from just after the committed position,
        once the stream is known to still hold what was applied.

        Whatever the previous consumer had delivered but not seen acked is forgotten (and
        what this process had received of it is dropped), so nothing can come back later
        out of order.
        """
        await self._delivery.close()
        self._subscribed = False
        # Re-creating the durable consumer deletes the current one: only the leader may.
        if not await self.leadership.verify():
            raise LeadershipLost(f"{self.leadership.name}: the lock is no longer held")
        async with self.pool.acquire() as conn:
            mark = await positions.read(conn, self.schema, self.durable, self.stream)
        position = mark.stream_seq
        try:
            first, _ = await positions.check_stream(
                self.js, self.stream, position, mark.event_id, mark.event_hash
            )
        except StreamWentBackwards as exc:
            self.alarm.raise_(
                BACKWARDS,
                f"{exc}. Nothing more is applied (流序号回退). Restore the read model with "
                "the stream, or rebuild it, then reset this consumer's position "
                "(Consumer.reset_position / the CLI)",
                **exc.details,
            )
            raise
        if self.alarm.current is not None and self.alarm.current.reason == BACKWARDS:
            self.alarm.clear()
        start = max(position + 1, first or 1)
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
        await self._delivery.open()
        self._expected = start
        self._committed_seq = position
        self._subscribed = True

    def start(self) -> None:
        """Run the fetch loop in the background."""
        tune_gc()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The loop ended: give the lock up at once, and say so unless asked to stop."""
        self.leadership.abandon()
        if self._stopping:
            return
        error = None if task.cancelled() else task.exception()
        self.alarm.raise_(
            STOPPED,
            "the consumer's loop ended (消费者已停止); it applies nothing until the service "
            "restarts",
            stream=self.stream,
            error=repr(error) if error else "cancelled",
        )

    async def stop(self) -> None:
        """Stop fetching; unacked messages are delivered again to the next run."""
        self._stopping = True
        if self._task:
            # A cancellation can be lost: Python 3.11's asyncio.wait_for (inside every
            # nats-py request) returns the result when it arrives together with the cancel.
            # So cancel until the loop has really ended.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.2)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._delivery.close()
        await self.leadership.release()

    async def lag(self) -> int:
        """Messages in the source stream not yet applied (committed) by this consumer; never
        0 while the stream is behind the committed position or went backwards."""
        info = await self.js.stream_info(self.stream)
        last = int(info.state.last_seq or 0)
        position = await self._committed()
        current = self.alarm.current
        if current is not None and current.reason == MISMATCH:
            return max(1, last - position)
        if last < position or (current is not None and current.reason == BACKWARDS):
            return max(1, abs(position - last))
        return last - position

    async def reset_position(self, to: int) -> int:
        """Set this consumer's position to stream sequence ``to`` (the read model holds the
        stream up to it; 0 to rebuild from the start); returns the previous position.

        For an operator, after a stream went backwards: restore or rebuild the read model,
        then reset. The leader resumes from ``to + 1`` at its next retry.
        """
        previous = await positions.reset_position(
            self.pool, self.js, self.schema, self.durable, self.stream, to, self.source
        )
        self._subscribed = False
        log.warning("consumer %s: position reset from %s to %s", self.durable, previous, to)
        return previous

    async def _run(self) -> None:
        while True:
            try:
                if not self.leadership.held:  # lost the lock (or never had it): stand by
                    await self._delivery.close()
                    self._subscribed = False
                    await self.leadership.acquire()
                if not self._subscribed:
                    await self._resubscribe()
                await self._run_batch()
                self.retrying.ok()
                continue
            except asyncio.CancelledError:
                raise
            except LeadershipLost as exc:
                log.warning("consumer %s: %s; standing by", self.durable, exc)
                self.leadership.abandon()
                delay = 0.0
            except EventFailed as exc:
                delay = self.retrying.event_failed(exc)
            except StreamWentBackwards:
                self.alarm.retried()
                delay = min(self.retrying.maximum, TRANSIENT_MAX_SECONDS)
            except StreamNotThisDatabase as exc:
                self.alarm.raise_(MISMATCH, str(exc), **exc.details)
                self.alarm.retried()
                delay = min(self.retrying.maximum, TRANSIENT_MAX_SECONDS)
            except Exception as exc:
                delay = self.retrying.failed(exc)
            self._subscribed = False
            await asyncio.sleep(delay)

    async def _run_batch(self) -> None:
        deliveries = await self._delivery.take()
        if not await self.leadership.verify():
            raise LeadershipLost(f"{self.leadership.name}: the lock is no longer held")
        if not deliveries:
            return
        first = deliveries[0].stream_seq
        if first != self._expected:
            # Ahead: an earlier message is still out. Behind: a redelivery, or a stream
            # that went backwards (the resubscription checks).
            log.warning(
                "consumer %s: got stream seq %s while expecting %s; resubscribing",
                self.durable,
                first,
                self._expected,
            )
            await self._resubscribe()
            return
        await self._apply_isolating(deliveries)
        self._expected = deliveries[-1].stream_seq + 1
        crash_point("consumer.after_commit")
        # AckPolicy.ALL: acking the last message acknowledges the whole batch.
        await self._delivery.ack(deliveries[-1])

    async def _apply_isolating(self, deliveries: list[Delivery]) -> None:
        """Apply a batch; when it fails on an event, apply its events one at a time, so
        those before the bad one are applied and the failure names the bad one alone."""
        if len(deliveries) > 1 and deliveries[0].stream_seq == self.retrying.suspect:
            await self._apply_alone(deliveries[0])
            deliveries = deliveries[1:]
        try:
            await self._apply(deliveries, leading=True)
        except _NOT_THE_EVENTS:
            raise
        except Exception as exc:
            if len(deliveries) == 1:
                raise EventFailed(deliveries[0], exc) from exc
            log.warning(
                "consumer %s: a batch of %s failed (%s); applying its events one by one",
                self.durable,
                len(deliveries),
                exc,
            )
            for delivery in deliveries:
                await self._apply_alone(delivery)
        self.retrying.applied(deliveries[-1].stream_seq)
        current = self.alarm.current
        if current is not None and current.reason == MISMATCH:
            self.alarm.clear()

    async def _apply_alone(self, delivery: Delivery) -> None:
        try:
            await self._apply([delivery], leading=True)
        except _NOT_THE_EVENTS:
            raise
        except Exception as exc:
            raise EventFailed(delivery, exc) from exc
