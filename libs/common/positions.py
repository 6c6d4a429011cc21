"""Where each consumer stands in its source stream (``consumer_position``), and the check
that the stream is still the one that position refers to.

A row holds the consumer's last applied stream sequence and the CloudEvent ``id`` of the
event at that sequence. The stream must still hold that event there: a stream restored from
a backup, recreated, or that lost acknowledged messages in a crash (JetStream acknowledges
before it syncs to disk) reuses sequence numbers, and a consumer trusting its number alone
would silently skip the new messages. Such a stream is reported
(:class:`StreamWentBackwards`), never consumed past.

Recovery is an operator's decision: restore the read model together with the stream (then
they agree again), or rebuild the read model from the stream (empty its tables and reset
the position to 0), or accept the stream as it is (reset the position to the sequence the
read model corresponds to). :func:`reset_position` sets the position; it is what
:meth:`libs.common.consumer.Consumer.reset_position` and :mod:`libs.common.positions_cli` call.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.common.delivery import Delivery
from libs.common.envelope import InboundEvent, parse_cloudevent

POSITION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.consumer_position (
    consumer text NOT NULL,
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);
ALTER TABLE {schema}.consumer_position ADD COLUMN IF NOT EXISTS event_id text
"""


class OutOfOrder(Exception):
    """A message skipped ahead of the committed position (an earlier one is missing)."""


class StreamWentBackwards(Exception):
    """The stream no longer holds what this consumer applied (restored, recreated, or it
    lost acknowledged messages): going on would skip the messages that reuse sequences."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


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


async def lock(conn: asyncpg.Connection, schema: str, consumer: str, stream: str) -> int:
    """Lock the consumer's position row for the transaction and return the position.

    The first write is as exclusive as the later ones: ``FOR UPDATE`` on a missing row
    locks nothing, so the row is created first (position 0); a second writer waits on
    that insert until the first commits, then reads its position."""
    select = f"""SELECT stream_seq FROM {schema}.consumer_position
                 WHERE consumer = $1 AND stream = $2 FOR UPDATE"""
    last = await conn.fetchval(select, consumer, stream)
    if last is None:
        await conn.execute(
            f"""INSERT INTO {schema}.consumer_position (consumer, stream, stream_seq)
                VALUES ($1, $2, 0) ON CONFLICT (consumer, stream) DO NOTHING""",
            consumer,
            stream,
        )
        last = await conn.fetchval(select, consumer, stream)
    return int(last or 0)


def fresh_after(
    position: int, deliveries: Sequence[Delivery]
) -> tuple[list[Delivery], list[InboundEvent]]:
    """The deliveries after ``position`` and their events, checked to follow on from it
    with no gap; raises :class:`OutOfOrder`, or the error a message failed to parse with."""
    fresh: list[Delivery] = []
    events: list[InboundEvent] = []
    for delivery in deliveries:
        stream_seq = delivery.stream_seq
        if stream_seq <= position:  # already applied: a redelivery
            continue
        if stream_seq != position + 1 and position:
            raise OutOfOrder(f"stream seq {stream_seq} after {position}")
        event = delivery.event
        if isinstance(event, Exception):
            raise event
        fresh.append(delivery)
        events.append(event)
        position = stream_seq
    return fresh, events


async def store(
    conn: asyncpg.Connection,
    schema: str,
    consumer: str,
    stream: str,
    stream_seq: int,
    event_id: str | None,
) -> None:
    """Record the new position (inside the transaction that applied up to it)."""
    await conn.execute(
        f"""INSERT INTO {schema}.consumer_position (consumer, stream, stream_seq, event_id)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (consumer, stream) DO UPDATE
            SET stream_seq = EXCLUDED.stream_seq, event_id = EXCLUDED.event_id,
                updated_at = now()""",
        consumer,
        stream,
        stream_seq,
        event_id,
    )


async def event_id_at(js: JetStreamContext, stream: str, stream_seq: int) -> str | None:
    """The CloudEvent id of the stream's message at ``stream_seq``; None if there is no
    such message (deleted by the stream's limits) or it has no readable id."""
    if stream_seq <= 0:
        return None
    try:
        msg = await js.get_msg(stream, stream_seq)
    except NotFoundError:
        return None
    try:
        return parse_cloudevent(msg.data or b"", stream, stream_seq).id
    except ValueError:
        return None


async def check_stream(
    js: JetStreamContext, stream: str, position: int, event_id: str | None
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
        found = await event_id_at(js, stream, position)
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
    pool: asyncpg.Pool, js: JetStreamContext, schema: str, consumer: str, stream: str, to: int
) -> int:
    """Set a consumer's position to ``to`` (the read model reflects the stream up to and
    including that sequence; 0: nothing yet); returns the previous position. The leading
    process picks the new position up at its next (re)subscription."""
    if to < 0:
        raise ValueError("a position is a stream sequence, 0 or more")
    event_id = await event_id_at(js, stream, to)
    async with pool.acquire() as conn, conn.transaction():
        previous = await lock(conn, schema, consumer, stream)
        await store(conn, schema, consumer, stream, to, event_id)
    return previous
