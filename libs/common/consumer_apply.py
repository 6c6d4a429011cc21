"""Applying a batch of a stream exactly once, in order, inside one PostgreSQL transaction:
the part of :class:`libs.common.consumer.Consumer` that the live loop and a rebuild
(:mod:`libs.common.rebuild`) share, so both apply events the same way.

The handler's writes for every message newer than the recorded position and the new
position commit together; a message at or below the position is a redelivery and is
skipped (counted in ``duplicates_total``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from libs.common import consumer_spans as spans
from libs.common import positions
from libs.common.consumer_spans import BatchHandler, Handler
from libs.common.delivery import Delivery
from libs.common.leader import Leadership
from libs.common.own_stream import OwnStore
from libs.common.positions import OutOfOrder


class ExactlyOnce:
    """The batch application of a consumer (attributes set by the consumer)."""

    pool: asyncpg.Pool
    schema: str
    durable: str
    stream: str
    source: str
    own_store: OwnStore | None
    handler: Handler | None
    batch_handler: BatchHandler | None
    leadership: Leadership
    handled_total: int
    duplicates_total: int
    _committed_seq: int
    _max_links: int | None

    async def handle(self, body: bytes, headers: Mapping[str, str] | None, stream_seq: int) -> bool:
        """Apply one message unless its sequence is already recorded; True if applied."""
        return await self.apply([(body, headers, stream_seq)]) == 1

    async def apply(self, batch: Sequence[tuple[bytes, Mapping[str, str] | None, int]]) -> int:
        """Apply a batch of (body, headers, stream sequence) in one transaction: each
        message newer than the committed position, in order, then the new position.
        Returns how many were applied."""
        return await self._apply(
            [Delivery(seq, body, self.stream, headers) for body, headers, seq in batch]
        )

    async def _apply(self, deliveries: Sequence[Delivery], leading: bool = False) -> int:
        """One transaction per batch rather than per message keeps the read model fast
        under bulk imports; a failure (a handler's, or a message that does not parse) rolls
        the whole batch back, position included. ``leading``: commit only while this
        process still holds the consumer's lock."""
        async with self.pool.acquire() as conn, conn.transaction():
            consumed = await self.apply_on(conn, deliveries, leading=leading)
        if leading:
            self._committed_seq = consumed.mark.stream_seq
        applied = len(consumed.fresh)
        self.handled_total += applied
        return applied

    async def apply_on(
        self, conn: asyncpg.Connection, deliveries: Sequence[Delivery], *, leading: bool = False
    ) -> positions.Consumed:
        """Apply a batch inside the caller's transaction on ``conn``: lock the position,
        run the handler on each message newer than it, record the new position. What the
        loop does for every batch, and what a rebuild (:mod:`libs.common.rebuild`) replays
        with, so both apply events the same way."""
        mark = await positions.lock(conn, self.schema, self.durable, self.stream)
        if leading and mark.stream_seq != self._committed_seq:
            # The position moved under this process (an operator's reset, a rebuild, or
            # another leader's work): start again from where it now stands.
            raise OutOfOrder(
                f"the committed position is {mark.stream_seq}, this process had "
                f"{self._committed_seq}"
            )
        consumed = positions.fresh_after(mark, deliveries, self.source)
        fresh, events = consumed.fresh, consumed.events
        self.duplicates_total += len(deliveries) - len(fresh)
        if self.own_store is not None and fresh:
            await self.own_store.check_last(conn, self.stream, fresh[-1], events[-1])
        if self.batch_handler is not None:
            if fresh:
                await spans.apply_batch(
                    self.batch_handler,
                    conn,
                    self.source,
                    self.durable,
                    fresh,
                    events,
                    self._max_links,
                )
        else:
            assert self.handler is not None
            for delivery, event in zip(fresh, events, strict=True):
                await spans.apply_one(self.handler, conn, self.durable, event, delivery)
        if consumed.mark != mark:  # applied, or passed over what was applied before
            if leading:
                await self.leadership.check_held_on(conn)
            await positions.store(conn, self.schema, self.durable, self.stream, consumed.mark)
        return consumed
