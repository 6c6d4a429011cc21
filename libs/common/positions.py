"""Where each consumer stands in its source stream (``consumer_position``), and the checks
that the stream is still the one that position refers to.

A row holds the consumer's last consumed stream sequence, the CloudEvent ``id`` and content
hash (``Ssj-Content-Sha256``) of the message there, and the **high-water mark**: the
greatest notification id (``<service>:<n>``) it has applied from that source, with that
event's hash. The stream must still hold that message at that sequence: a stream restored
from a backup, recreated, or that lost acknowledged messages (JetStream acknowledges before
it syncs to disk) reuses sequence numbers, and a consumer trusting its number alone would
silently skip the new messages. Such a stream is reported (:class:`StreamWentBackwards`),
never consumed past; the hash tells the same event from another one that reuses its id
(a source database reset under the same ids).

Sequences are not identities: after a purge, or a lost tail, the relay publishes the same
events again at new sequences. :func:`fresh_after` therefore skips a message whose
notification id is below the high-water mark (already applied), skips it at the mark when
its hash is the one applied, and reports a different event at the mark.

Recovery is an operator's decision: restore the read model together with the stream (then
they agree again), or rebuild the read model from the stream (empty its tables and reset
the position to 0), or accept the stream as it is (reset the position to the sequence the
read model corresponds to). :func:`reset_position` sets the position; it is what
:meth:`libs.common.consumer.Consumer.reset_position` and :mod:`libs.common.positions_cli` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.common.delivery import Delivery
from libs.common.envelope import InboundEvent, parse_cloudevent
from libs.common.relay_wire import CONTENT_HASH_HEADER

POSITION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.consumer_position (
    consumer text NOT NULL,
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);
ALTER TABLE {schema}.consumer_position ADD COLUMN IF NOT EXISTS event_id text;
ALTER TABLE {schema}.consumer_position ADD COLUMN IF NOT EXISTS event_hash text;
ALTER TABLE {schema}.consumer_position ADD COLUMN IF NOT EXISTS high_water bigint;
ALTER TABLE {schema}.consumer_position ADD COLUMN IF NOT EXISTS high_water_hash text
"""


@dataclass(frozen=True)
class Mark:
    """A consumer's position row: the last consumed message, and the high-water mark."""

    stream_seq: int = 0
    event_id: str | None = None
    event_hash: str | None = None
    high_water: int | None = None  # greatest notification id applied from the source
    high_water_hash: str | None = None


def notification_of(event_id: str | None, source: str) -> int | None:
    """``n`` of a CloudEvent id ``<source>:<n>`` (None for any other id)."""
    owner, _, number = (event_id or "").partition(":")
    return int(number) if owner == source and number.isdigit() else None


class OutOfOrder(Exception):
    """A message skipped ahead of the committed position (an earlier one is missing)."""


class StreamWentBackwards(Exception):
    """The stream no longer holds what this consumer applied (restored, recreated, or it
    lost acknowledged messages): going on would skip the messages that reuse sequences."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


_MARK_COLUMNS = "stream_seq, event_id, event_hash, high_water, high_water_hash"


def _mark(row: asyncpg.Record | None) -> Mark:
    if row is None:
        return Mark()
    high_water = row["high_water"]
    return Mark(
        int(row["stream_seq"] or 0),
        row["event_id"],
        row["event_hash"],
        int(high_water) if high_water is not None else None,
        row["high_water_hash"],
    )


async def read(conn: asyncpg.Connection, schema: str, consumer: str, stream: str) -> Mark:
    """The consumer's mark, without locking it (:class:`Mark` () before the first)."""
    row = await conn.fetchrow(
        f"""SELECT {_MARK_COLUMNS}
            FROM {schema}.consumer_position WHERE consumer = $1 AND stream = $2""",
        consumer,
        stream,
    )
    return _mark(row)


async def committed(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, consumer: str, stream: str
) -> tuple[int, str | None]:
    """(last applied stream sequence, that event's id); (0, None) before the first."""
    row = await conn.fetchrow(
        f"""SELECT stream_seq, event_id FROM {schema}.consumer_position
            WHERE consumer = $1 AND stream = $2""",
        consumer,
        stream,
    )
    return (0, None) if row is None else (int(row["stream_seq"]), row["event_id"])


async def lock(conn: asyncpg.Connection, schema: str, consumer: str, stream: str) -> Mark:
    """Lock the consumer's position row for the transaction and return it.

    The first write is as exclusive as the later ones: ``FOR UPDATE`` on a missing row
    locks nothing, so the row is created first (position 0); a second writer waits on
    that insert until the first commits, then reads its position."""
    select = f"""SELECT {_MARK_COLUMNS} FROM {schema}.consumer_position
                 WHERE consumer = $1 AND stream = $2 FOR UPDATE"""
    row = await conn.fetchrow(select, consumer, stream)
    if row is None:
        await conn.execute(
            f"""INSERT INTO {schema}.consumer_position (consumer, stream, stream_seq)
                VALUES ($1, $2, 0) ON CONFLICT (consumer, stream) DO NOTHING""",
            consumer,
            stream,
        )
        row = await conn.fetchrow(select, consumer, stream)
    return _mark(row)


@dataclass
class Consumed:
    """What :func:`fresh_after` makes of a batch: the messages to apply, and the mark the
    consumer stands at once they are (every message counted, applied or passed over)."""

    fresh: list[Delivery]
    events: list[InboundEvent]
    mark: Mark
    republished: int = 0  # messages of events applied before (a purge, a lost tail)


def fresh_after(mark: Mark, deliveries: Sequence[Delivery], source: str) -> Consumed:
    """The deliveries after the mark that carry events not yet applied, checked to follow
    on from it with no gap; raises :class:`OutOfOrder`, :class:`StreamWentBackwards` (a
    different event under the id applied last), or the error a message failed to parse
    with."""
    out = Consumed([], [], mark)
    position, high, high_hash = mark.stream_seq, mark.high_water, mark.high_water_hash
    last: Delivery | None = None
    last_event: InboundEvent | None = None
    for delivery in deliveries:
        stream_seq = delivery.stream_seq
        if stream_seq <= position:  # consumed already: a redelivery
            continue
        if stream_seq != position + 1 and position:
            raise OutOfOrder(f"stream seq {stream_seq} after {position}")
        event = delivery.event
        if isinstance(event, Exception):
            raise event
        position, last, last_event = stream_seq, delivery, event
        n = notification_of(event.id, source)
        if n is not None and high is not None and n <= high:
            if n == high and high_hash and delivery.content_hash not in (None, high_hash):
                raise StreamWentBackwards(
                    f"stream {event.stream} carries another event under {event.id}, the id "
                    "this consumer applied last: the source's database was reset or "
                    "restored under ids it had used",
                    stream=event.stream,
                    stream_seq=stream_seq,
                    event_id=event.id,
                    applied_hash=high_hash,
                    stream_hash=delivery.content_hash,
                )
            out.republished += 1  # an event applied before, published again
            continue
        if n is not None:
            high, high_hash = n, delivery.content_hash
        out.fresh.append(delivery)
        out.events.append(event)
    if last is not None and last_event is not None:
        out.mark = Mark(position, last_event.id, last.content_hash, high, high_hash)
    return out


async def store(
    conn: asyncpg.Connection, schema: str, consumer: str, stream: str, mark: Mark
) -> None:
    """Record the new mark (inside the transaction that applied up to it)."""
    await conn.execute(
        f"""INSERT INTO {schema}.consumer_position
                (consumer, stream, stream_seq, event_id, event_hash, high_water,
                 high_water_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (consumer, stream) DO UPDATE
            SET stream_seq = EXCLUDED.stream_seq, event_id = EXCLUDED.event_id,
                event_hash = EXCLUDED.event_hash, high_water = EXCLUDED.high_water,
                high_water_hash = EXCLUDED.high_water_hash, updated_at = now()""",
        consumer,
        stream,
        mark.stream_seq,
        mark.event_id,
        mark.event_hash,
        mark.high_water,
        mark.high_water_hash,
    )


async def event_at(
    js: JetStreamContext, stream: str, stream_seq: int
) -> tuple[str | None, str | None]:
    """(CloudEvent id, content hash) of the stream's message at ``stream_seq``; None for
    what is not there (no such message, deleted by the stream's limits; no readable id;
    no hash header)."""
    if stream_seq <= 0:
        return None, None
    try:
        msg = await js.get_msg(stream, stream_seq)
    except NotFoundError:
        return None, None
    digest = (msg.headers or {}).get(CONTENT_HASH_HEADER)
    try:
        return parse_cloudevent(msg.data or b"", stream, stream_seq).id, digest
    except ValueError:
        return None, digest


async def event_id_at(js: JetStreamContext, stream: str, stream_seq: int) -> str | None:
    """The CloudEvent id of the stream's message at ``stream_seq`` (see :func:`event_at`)."""
    return (await event_at(js, stream, stream_seq))[0]


async def check_stream(
    js: JetStreamContext,
    stream: str,
    position: int,
    event_id: str | None,
    event_hash: str | None = None,
) -> tuple[int, int]:
    """The stream's (first, last) sequence, after making sure it still holds what the
    consumer applied; raises :class:`StreamWentBackwards` otherwise."""
    info = await js.stream_info(stream)
    first, last = int(info.state.first_seq or 0), int(info.state.last_seq or 0)
    if last < position:
        raise StreamWentBackwards(
            f"stream {stream} ends at sequence {last}, before this consumer's committed "
            f"position {position}: it was restored, recreated or lost acknowledged messages",
            stream=stream,
            committed_seq=position,
            stream_first_seq=first,
            stream_last_seq=last,
        )
    if event_id is not None and position >= first:
        found, digest = await event_at(js, stream, position)
        if found is not None and event_hash and digest and digest != event_hash:
            found = f"{found} (another event under that id: content hash {digest[:12]}…)"
        if found is not None and found != event_id:
            raise StreamWentBackwards(
                f"stream {stream} holds event {found} at sequence {position}, where this "
                f"consumer applied {event_id}: the stream was restored or recreated",
                stream=stream,
                committed_seq=position,
                committed_event_id=event_id,
                stream_event_id=found,
                stream_first_seq=first,
                stream_last_seq=last,
            )
    return first, last


async def reset_position(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    schema: str,
    consumer: str,
    stream: str,
    to: int,
    source: str,
) -> int:
    """Set a consumer's position to ``to`` (the read model reflects the stream up to and
    including that sequence; 0: nothing yet); returns the previous position. The leading
    process picks the new position up at its next (re)subscription."""
    if to < 0:
        raise ValueError("a position is a stream sequence, 0 or more")
    event_id, digest = await event_at(js, stream, to)
    # The read model holds the stream up to ``to``: its high-water mark is that event's.
    high = notification_of(event_id, source)
    mark = Mark(to, event_id, digest, high, digest if high is not None else None)
    async with pool.acquire() as conn, conn.transaction():
        previous = await lock(conn, schema, consumer, stream)
        await store(conn, schema, consumer, stream, mark)
    return previous.stream_seq
