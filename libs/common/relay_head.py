"""The stream's head as the relay sees it, and whether it agrees with the database.

Because every message is published with ``Nats-Expected-Last-Sequence``, the stream holds
a service's events in notification order with no holes, so its last message tells how far
publishing got, even if the run that published it died before recording it. But only if
the stream and the database are the same history: a database reset or restored from an
older backup under streams that stayed (or the reverse) makes the stream's last message
name an event the database does not have, or has with other content. Publishing after it
would silently skip the database's events up to that id; so the relay proves the
agreement first (:func:`disagreement`) and refuses to publish without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from libs.common.relay_wire import Encoder, Row

# How many deleted sequences below the stream's last one the head is looked for in (a
# message deleted by hand; a purge leaves no message at all and is recognised at once).
_HEAD_SCAN = 256

MISMATCH = "stream_database_mismatch"


@dataclass(frozen=True)
class StreamHead:
    """The stream's last sequence and the last message it really holds."""

    last_seq: int  # what the next message must expect (``Nats-Expected-Last-Sequence``)
    seq: int = 0  # sequence of the last message held (0: the stream holds none)
    msg_id: str = ""
    notification_id: int | None = None  # from ``Nats-Msg-Id``, when it is this service's
    headers: dict[str, str] | None = None
    body: bytes | None = None

    @property
    def empty(self) -> bool:
        """The stream holds no message (new, or purged)."""
        return self.seq == 0


async def read_stream_head(js: JetStreamContext, stream: str, service: str) -> StreamHead:
    """Read the stream's last sequence and the last message it holds (raises
    ``NotFoundError`` when the stream does not exist)."""
    info = await js.stream_info(stream)
    state = info.state
    last_seq = int(state.last_seq or 0)
    if not state.messages or last_seq == 0:
        return StreamHead(last_seq)
    first_seq = int(state.first_seq or 1)
    seq = last_seq
    while seq >= max(first_seq, last_seq - _HEAD_SCAN):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:  # deleted: the one before may be the last held
            seq -= 1
            continue
        headers = dict(msg.headers or {})
        msg_id = headers.get("Nats-Msg-Id", "")
        owner, _, number = msg_id.partition(":")
        ours = owner == service and number.isdigit()
        return StreamHead(last_seq, seq, msg_id, int(number) if ours else None, headers, msg.data)
    return StreamHead(last_seq, last_seq, "(unreadable)")


def disagreement(head: StreamHead, row: Row | None, max_id: int, encoder: Encoder) -> str | None:
    """Why the stream's last message is not the database's event of that notification id
    (``row``, None when the database has none), or None when it is."""
    if head.notification_id is None:
        return f"the stream's last message {head.msg_id!r} is not one of this service's events"
    if row is None:
        if head.notification_id > max_id:
            return "the stream is ahead of the database"
        return "the database has no event with that notification id"
    if not encoder.same_event(row, head.headers or {}, head.body):
        return "the database's event with that notification id has different content"
    return None


def mismatch_message(stream: str, head: StreamHead, max_id: int, reason: str) -> str:
    """What an operator reads on /readyz and in the log: what disagrees and what to do."""
    return (
        f"{reason}: stream {stream} ends with {head.msg_id} (sequence {head.seq}) but the "
        f"database's events end at notification {max_id}. The database was probably reset "
        "or restored without its streams (or the streams without the database). Nothing is "
        "published until they agree: restore the database and the streams together from "
        "the same backup (数据库与消息流一并恢复); in development, delete the namespace's "
        "streams with `ssj streams reset --namespace <namespace> --yes` and restart the "
        "services (see docs/operations.md)."
    )
