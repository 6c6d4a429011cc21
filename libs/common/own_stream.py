"""A service's own read models apply only events its own database holds.

A service's read-model consumers of its own stream (the registry's views, the planner's
plans, …) share the database with the events the stream was published from. After that
database is reset or restored under streams that stayed, the relay refuses to publish
(:mod:`libs.common.relay_head`), but a consumer with no position yet would read the old
stream from its first message and fill the new database's read models with events that
database never stored. So before a batch of its own stream is committed, the consumer
asks the event store for the batch's last event (by its ``Nats-Msg-Id`` notification id)
and compares content hashes, in the batch's own transaction. The stream holds a service's
events in notification order with no holes (the relay publishes with
``Nats-Expected-Last-Sequence``), so the last event of a batch agreeing means the batch
does. A batch that does not agree is not applied: the consumer raises
``stream_database_mismatch``, as the relay does, and retries until an operator recovers.
"""

from __future__ import annotations

import asyncpg

from libs.common.delivery import Delivery
from libs.common.envelope import InboundEvent
from libs.common.relay_head import StreamHead, disagreement
from libs.common.relay_wire import CONTENT_HASH_HEADER, Encoder, Row

__all__ = ["OwnStore", "StreamNotThisDatabase"]

_DIFFERENT = "the database's event with that notification id has different content"


class StreamNotThisDatabase(Exception):
    """The stream's message is not the event this database stored under that id."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class OwnStore:
    """The event store a service's own stream was published from, as its consumers ask it."""

    def __init__(self, service: str, schema: str, events_table: str, encoder: Encoder) -> None:
        self.service = service
        self.encoder = encoder
        table = f'"{schema}"."{events_table}"'
        columns = "notification_id, originator_id::text, originator_version, topic, state"
        self._select_one = f"SELECT {columns} FROM {table} WHERE notification_id = $1"
        self._select_max = f"SELECT coalesce(max(notification_id), 0) FROM {table}"

    async def check_last(
        self, conn: asyncpg.Connection, stream: str, last: Delivery, event: InboundEvent
    ) -> None:
        """Check the last message of a batch (``last``, whose event is ``event``)."""
        originator = (event.subject, event.aggregate_version)
        await self.check(conn, stream, last.stream_seq, event.id, last.content_hash, originator)

    async def check(
        self,
        conn: asyncpg.Connection,
        stream: str,
        stream_seq: int,
        msg_id: str,
        sha256: str | None,
        originator: tuple[str, int],
    ) -> None:
        """Raise :class:`StreamNotThisDatabase` unless the message ``msg_id`` with content
        hash ``sha256`` (its ``Ssj-Content-Sha256``) is the stored event of that id.

        A message published before the hash header existed is compared by its
        ``originator`` (aggregate id and version) instead."""
        owner, _, number = msg_id.partition(":")
        notification_id = int(number) if owner == self.service and number.isdigit() else None
        row: Row | None = None
        if notification_id is not None:
            record = await conn.fetchrow(self._select_one, notification_id)
            row = tuple(record) if record is not None else None
        max_id = int(await conn.fetchval(self._select_max))
        if sha256 is None and row is not None:
            reason = None if (row[1], row[2]) == originator else _DIFFERENT
        else:
            headers = {CONTENT_HASH_HEADER: sha256} if sha256 else {}
            head = StreamHead(stream_seq, stream_seq, msg_id, notification_id, headers, None)
            reason = disagreement(head, row, max_id, self.encoder)
        if reason is None:
            return
        raise StreamNotThisDatabase(
            f"{reason}: stream {stream} holds {msg_id!r} at sequence {stream_seq}, which is "
            f"not an event of this database (its events end at notification {max_id}). The "
            "database was probably reset or restored without its streams: nothing of this "
            "stream is applied to its read models until they agree (数据库与消息流不一致); "
            "restore the two together, or in development reset the streams "
            "(`ssj streams reset --namespace <namespace> --yes`) and restart "
            "(docs/operations.md)",
            stream=stream,
            stream_seq=stream_seq,
            stream_msg_id=msg_id,
            database_max_id=max_id,
            reason=reason,
        )
