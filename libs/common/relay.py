"""The relay: notification log → JetStream, the only way events leave a service.

Loop: read the stream's head and prove it agrees with the database (its last message is
the database's event with that notification id, same content: :mod:`libs.common.relay_head`),
read the stored events after it, publish them pipelined with
``Nats-Msg-Id = <service>:<notification id>`` and ``Nats-Expected-Last-Sequence`` (so they
land in order or not at all: :mod:`libs.common.relay_batch`), wait for the acks, then record
the new position. A crash anywhere loses nothing and duplicates nothing: the next run starts
after what the stream holds, and JetStream's duplicate window drops any message sent twice
all the same. There is no other write to NATS anywhere, so there is no dual write. One
process per service relays at a time (:mod:`libs.common.leader`).

The stream, not the recorded position, says where publishing resumes: a stream that lost
acknowledged messages (a NATS host crash before ``sync_interval`` synced them, a stream
restored from an older backup) is published again from what it really holds, and the
recorded position (``relay_position``, bookkeeping for lag) is brought down to it. A stream
that disagrees with the database (a database reset or restored under streams that stayed)
is never published to: the relay raises its alarm (``stream_database_mismatch``, /readyz
503) with both positions and waits for an operator (docs/operations.md).

An event JetStream will not take (larger than NATS carries, or refused again and again)
raises ``event_not_publishable`` with the event named; a duplicate window that remembers
messages the stream lost raises ``stream_lost_messages``. Failed passes are retried with
backoff (up to :data:`MAX_BACKOFF_SECONDS`), and the alarm clears when the relay gets past.

A batch (``SSJ_RELAY_BATCH`` events; the next one is read while it goes out) is published
without a request per message. Crash point ``relay.after_publish`` sits between the acks
and the position write. Events are encoded from their stored state
(:mod:`libs.common.relay_wire`), each with one PRODUCER span under its stored traceparent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.common.alarms import AlarmSlot
from libs.common.bus import ensure_stream
from libs.common.eventstore import EventStoreApp
from libs.common.faults import crash_point
from libs.common.leader import Leadership
from libs.common.relay_batch import WRONG_LAST_SEQUENCE, Ack, BatchOutcome, publish_batch
from libs.common.relay_head import (
    MISMATCH,
    StreamHead,
    disagreement,
    mismatch_message,
    read_stream_head,
)
from libs.common.relay_wire import Encoder, Row, no_span

log = logging.getLogger(__name__)

POSITION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.relay_position (
    stream text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

NOT_PUBLISHABLE = "event_not_publishable"
LOST_MESSAGES = "stream_lost_messages"
# The server refused the same event this many passes in a row: it will not get past alone.
REFUSALS_BEFORE_ALARM = 3
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
# Failures that pass by themselves (NATS or the database away, an ack lost) are retried
# sooner, so publishing resumes within seconds of NATS coming back.
TRANSIENT_BACKOFF_SECONDS = 5.0
# Rows fetched per query while reading a batch (see Relay.read).
_READ_CHUNK = 1000

__all__ = ["POSITION_DDL", "Ack", "BatchOutcome", "Relay", "next_backoff"]


def next_backoff(current: float, most: float = MAX_BACKOFF_SECONDS) -> float:
    """The wait before the next attempt after one more failed pass: doubling, at most
    ``most`` seconds."""
    return min(most, max(FIRST_BACKOFF_SECONDS, current * 2))


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
        self.encoder = Encoder(app, self.stream, self.subject_prefix)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.leadership = Leadership(
            self.settings.database_url,
            f"relay:{self.stream}",
            lease_seconds=self.settings.leader_lease_seconds,
        )
        # Raised when the relay cannot go on by itself (shown on /readyz, as a metric).
        self.alarm = AlarmSlot(f"relay:{self.stream}")
        self.published_total = 0
        # Seconds the loop waits before its next attempt (0: none failed lately).
        self.backoff = 0.0
        # (notification id, refusals in a row) of the event the server last refused.
        self._refused: tuple[int, int] = (0, 0)
        self._last_failure: tuple[int, str | None] | None = None
        # The next page, read while the current one is published: (after which id, rows).
        self._ahead: tuple[int, asyncio.Future[list[Row]]] | None = None
        # The last pass read every stored event there was, and published them all.
        self.drained = False
        table = f'"{app.schema}"."{app.events_table}"'
        columns = "notification_id, originator_id::text, originator_version, topic, state"
        self._select = (
            f"SELECT {columns} FROM {table} "
            "WHERE notification_id > $1 ORDER BY notification_id LIMIT $2"
        )
        self._select_one = f"SELECT {columns} FROM {table} WHERE notification_id = $1"
        self._select_max = f"SELECT coalesce(max(notification_id), 0) FROM {table}"

    async def setup(self) -> None:
        """Create the position table, and the stream or bring it to this configuration
        (the relay's service owns its stream)."""
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
        if self._ahead is not None:
            _discard(self._ahead[1])
            self._ahead = None
        await self.leadership.release()

    async def position(self) -> int:
        """Last notification id recorded as in JetStream (never more than it holds once a
        pass has seen the stream)."""
        async with self.pool.acquire() as conn:
            value = await conn.fetchval(
                f"SELECT position FROM {self.app.schema}.relay_position WHERE stream = $1",
                self.stream,
            )
        return int(value or 0)

    async def lag(self) -> int:
        """Stored events the stream does not hold: counted from the stream's head, not
        from the recorded position, so events a stream lost count; all of them while the
        stream disagrees with the database."""
        newest = await asyncio.to_thread(self.app.max_notification_id)
        if self.alarm.current is not None and self.alarm.current.reason == MISMATCH:
            return newest
        head = await read_stream_head(self.js, self.stream, self.service)
        return max(0, newest - (head.notification_id or 0))

    async def _run(self) -> None:
        await self.leadership.acquire()
        while True:
            if not self.leadership.held:  # lost the lock's connection: let another lead
                await self.leadership.acquire()
            try:
                if not await self.leadership.verify():  # cut off from the lock: stand by
                    continue
                # Cleared before the pass reads: a save committed after the read wakes
                # the wait below, and one committed before it is in what the pass read.
                self._wake.clear()
                await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.backoff = next_backoff(self.backoff, TRANSIENT_BACKOFF_SECONDS)
                log.exception("relay %s failed; retrying in %.1f s", self.service, self.backoff)
                self.alarm.retried()
            if self.backoff:
                # Not woken by saves: a stuck relay retries on its own schedule.
                await asyncio.sleep(self.backoff)
            elif self.drained:
                # Everything stored was read and published: no second pass to find that
                # out again (each pass checks the stream's head), wait for the next save.
                # Other processes' saves do not wake it: they wait for the idle timeout.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.relay_idle_seconds)

    async def _head(self) -> StreamHead:
        try:
            return await read_stream_head(self.js, self.stream, self.service)
        except NotFoundError:  # deleted (e.g. `ssj streams reset`): the owner makes it again
            log.warning("relay %s: stream %s is missing; creating it", self.service, self.stream)
            await ensure_stream(self.js, self.settings, self.service)
            return await read_stream_head(self.js, self.stream, self.service)

    async def agreed_head(self) -> tuple[StreamHead, int] | None:
        """The stream's head and the notification id it ends with, once proven to be the
        database's event; None (and the alarm raised) when the two disagree."""
        head = await self._head()
        if head.empty:
            return head, 0
        row: Row | None = None
        async with self.pool.acquire() as conn:
            if head.notification_id is not None:
                record = await conn.fetchrow(self._select_one, head.notification_id)
                row = tuple(record) if record is not None else None
            max_id = int(await conn.fetchval(self._select_max))
        reason = disagreement(head, row, max_id, self.encoder)
        if reason is None:
            assert head.notification_id is not None
            return head, head.notification_id
        message = mismatch_message(self.stream, head, max_id, reason)
        self.alarm.raise_(
            MISMATCH,
            message,
            stream=self.stream,
            stream_last_seq=head.seq,
            stream_msg_id=head.msg_id,
            database_max_id=max_id,
            reason=reason,
        )
        return None

    async def publish_pending(self) -> int:
        """Publish one batch after what JetStream already has; return how many went out.

        The batch is pipelined: every message is sent at once, each expecting the stream's
        last sequence to be its predecessor's, so the server stores them in order or rejects
        the rest after the first failure. The position is written after the acks, up to
        the last message of the acknowledged prefix.
        """
        agreed, recorded = await asyncio.gather(self.agreed_head(), self.position())
        if agreed is None:  # the stream and the database disagree: publish nothing
            self.backoff = next_backoff(self.backoff)
            return 0
        head, position = agreed
        if position != recorded:  # never claim more than the stream holds
            if position < recorded:
                log.warning(
                    "relay %s: stream %s holds events up to %d only, %d were recorded as "
                    "published: publishing again from %d",
                    self.service,
                    self.stream,
                    position,
                    recorded,
                    position + 1,
                )
            await self._record(position)
        limit = self.settings.relay_batch
        rows, read_ahead = await self._rows_after(position, limit)
        self.drained = not rows
        if not rows:
            self._progressed()
            return 0
        if len(rows) == limit:  # read the next page while this one goes out
            self._ahead = (rows[-1][0], asyncio.ensure_future(self.read(rows[-1][0], limit)))
        outcome = await self.publish_batch(rows, head.last_seq)
        published = outcome.stored
        crash_point("relay.after_publish")
        if published:
            await self._record(rows[published - 1][0])
        self.published_total += published
        if outcome.failure is not None:
            self._failed(rows[published], outcome, outcome.failure)
        else:
            # A page read ahead was read before this pass cleared the wake flag: a short
            # one is no proof of a drain.
            self.drained = len(rows) < limit and not read_ahead
            self._progressed()
        return published

    def _progressed(self) -> None:
        """A pass that met no obstacle: drop the backoff and any standing alarm."""
        self.backoff = 0.0
        self._refused = (0, 0)
        self._last_failure = None
        self.alarm.clear()

    def _failed(self, row: Row, outcome: BatchOutcome, failure: Ack) -> None:
        """The batch ended at ``row``: back off, and raise the alarm if it will not pass."""
        notification_id = row[0]
        self.alarm.retried()
        refused = failure.answered and failure.err_code != WRONG_LAST_SEQUENCE
        stuck = outcome.too_large or refused or outcome.forgotten is not None
        self.backoff = next_backoff(
            self.backoff, MAX_BACKOFF_SECONDS if stuck else TRANSIENT_BACKOFF_SECONDS
        )
        if (notification_id, failure.error) != self._last_failure:  # once, not every pass
            log.warning(
                "relay %s: %s:%d was not stored (%s); retrying in %.1f s",
                self.service,
                self.service,
                notification_id,
                failure.error,
                self.backoff,
            )
            self._last_failure = (notification_id, failure.error)
        if outcome.forgotten is not None:
            self.alarm.raise_(
                LOST_MESSAGES,
                f"stream {self.stream} lost {self.service}:{notification_id} and later "
                "messages, and JetStream's duplicate window still remembers their ids, so it "
                "drops them when they are published again. The relay retries until the "
                f"window ({self.settings.dedupe_window_seconds:.0f} s) has passed; to go on "
                "sooner, restore the stream and the database together (docs/operations.md).",
                stream=self.stream,
                notification_id=notification_id,
                remembered_seq=outcome.forgotten.seq,
            )
            return
        if not (outcome.too_large or refused):
            return  # no answer, or another relay got there first: the next pass sees
        previous, count = self._refused
        count = count + 1 if previous == notification_id else 1
        self._refused = (notification_id, count)
        if outcome.too_large or count >= REFUSALS_BEFORE_ALARM:
            self._not_publishable(row, outcome.too_large, str(failure.error))

    def _not_publishable(self, row: Row, size: int, error: str) -> None:
        kind = self.encoder.kind(row[3])
        if not size:
            _, headers, body, _ = self.encoder.prepare(row, 0, no_span)
            size = len(headers) + len(body)
        self.alarm.raise_(
            NOT_PUBLISHABLE,
            f"{self.service}:{row[0]} ({kind.type}, {size} bytes) cannot be published: "
            f"{error}. Later events wait behind it. Raise the limit that refuses it (NATS "
            "max_payload, the stream's max_msg_size) or fix the event's size at its source; "
            "the relay retries on its own and resumes there (docs/operations.md).",
            stream=self.stream,
            notification_id=row[0],
            type=kind.type,
            size=size,
            error=error,
        )

    async def _rows_after(self, position: int, limit: int) -> tuple[list[Row], bool]:
        """The page after ``position``: the one read ahead if it starts there (and is not
        empty), else a fresh one; and whether it was the one read ahead."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            after, task = ahead
            if after == position:
                rows = await task
                if rows:
                    return rows, True
            else:
                _discard(task)
        return await self.read(position, limit), False

    async def read(self, position: int, limit: int) -> list[Row]:
        """Up to ``limit`` stored events after notification ``position``, in order."""
        rows: list[Row] = []
        async with self.pool.acquire() as conn:
            while len(rows) < limit:
                # A few records at a time, each turned at once into a plain tuple of str,
                # int and bytes, which the garbage collector stops tracking: thousands of
                # records alive would be promoted to its oldest generation instead.
                records = await conn.fetch(
                    self._select, position, min(_READ_CHUNK, limit - len(rows))
                )
                rows.extend([tuple(record) for record in records])
                if len(records) < _READ_CHUNK:
                    break
                position = rows[-1][0]
        return rows

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

    async def publish_batch(self, rows: Sequence[Row], last_seq: int) -> BatchOutcome:
        """Publish ``rows`` (as :meth:`read` returns them) in order, the first expecting the
        stream's last sequence to be ``last_seq`` (see :func:`relay_batch.publish_batch`)."""
        return await publish_batch(self.js._nc, self.encoder, rows, last_seq)


def _discard(task: asyncio.Future[Any]) -> None:
    """Cancel a read-ahead nobody will use, and let it fail quietly."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
