"""Publishing one batch of the relay without a request per message, and what JetStream
answered.

Each message is a plain NATS publish whose reply subject is ``<inbox>.<its index in the
batch>`` (the client's public ``publish``), and one subscription on ``<inbox>.*`` collects
JetStream's acks, at most :data:`_WINDOW` of them outstanding. Once all are in (or none has
come for :data:`ACK_IDLE_TIMEOUT_SECONDS`), the first refusal or missing ack ends what got
through (:attr:`BatchOutcome.stored`); everything after it, which the expected-sequence
check made the stream refuse anyway, is the next pass's to publish again.

Each message's PRODUCER span ends as soon as its ack arrives, with the stream sequence (or
the refusal) on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Sequence
from typing import NamedTuple

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from opentelemetry.trace import Status, StatusCode

from libs.common.relay_wire import Encoder, OpenSpan, Row, api_span, parse_headers

log = logging.getLogger("libs.common.relay")

# A batch is given up on, from its first unanswered message, when no ack at all has come
# for this long; the next pass re-reads the stream head and carries on from there.
ACK_IDLE_TIMEOUT_SECONDS = 5.0
# Messages handed to the NATS client at once; between two chunks the relay yields to the
# event loop, so the client writes while the relay encodes, and acks are read meanwhile.
_CHUNK = 256
# At most this many messages unanswered at a time (memory, and spans alive, stay bounded).
_WINDOW = 1024
_ACK_SEQ = re.compile(rb'"seq":\s*(\d+)')
# JetStream's error code for a failed Nats-Expected-Last-Sequence check.
WRONG_LAST_SEQUENCE = 10071


class Ack(NamedTuple):
    """JetStream's answer to one published message (``error`` set when it was refused)."""

    seq: int = 0
    duplicate: bool = False
    error: str | None = None
    err_code: int = 0
    answered: bool = False  # the server itself said so (not: no answer, not sent)

    @classmethod
    def parse(cls, data: bytes | None) -> Ack:
        """Read an ack: ``{"stream", "seq", "duplicate"?}`` or ``{"error": {...}}``."""
        if data is None:
            return cls(error="no acknowledgement")
        try:
            reply = json.loads(data)
        except ValueError:  # e.g. the empty 503 status: no stream listens on the subject
            return cls(error="no stream answered")
        if not isinstance(reply, dict):
            return cls(error=f"unexpected answer {data[:200]!r}")
        error = reply.get("error")
        if error is not None:
            if not isinstance(error, dict):
                return cls(error=str(error), answered=True)
            return cls(
                error=str(error.get("description", error)),
                err_code=int(error.get("err_code", 0) or 0),
                answered=True,
            )
        return cls(int(reply.get("seq", 0)), bool(reply.get("duplicate")), answered=True)


class BatchOutcome:
    """What became of a published batch: how many messages from its start JetStream is
    known to hold, and its answer to each message.

    A batch is published after the stream's last sequence ``base``; a duplicate ack naming
    a sequence at or before ``base`` means JetStream's duplicate window remembers a message
    the stream no longer holds (it lost it, or was purged): that message is not stored.
    """

    def __init__(
        self,
        replies: list[int | Ack | None],
        sent: int,
        failure: str,
        base: int = 0,
        too_large: int = 0,
    ) -> None:
        self._replies = replies
        self._unanswered = Ack(error="no acknowledgement")
        self._unsent = Ack(error=failure)
        self._sent = sent
        # Bytes of the message at ``sent`` when it was not sent for being larger than NATS
        # carries (0 otherwise).
        self.too_large = too_large
        self.forgotten: Ack | None = None  # the duplicate of a message the stream lost
        stored = 0
        for reply in replies:
            if reply is None or (not isinstance(reply, int) and reply.error is not None):
                break
            if not isinstance(reply, int) and reply.duplicate and reply.seq <= base:
                self.forgotten = reply
                break
            stored += 1
        self.stored = stored

    def ack(self, i: int) -> Ack:
        """JetStream's answer to message ``i`` (an error if it gave none, or got none)."""
        reply = self._replies[i]
        if reply is None:
            return self._unanswered if i < self._sent else self._unsent
        return Ack(reply, answered=True) if isinstance(reply, int) else reply

    @property
    def acks(self) -> list[Ack]:
        """The answer to every message, in order."""
        return [self.ack(i) for i in range(len(self._replies))]

    @property
    def failure(self) -> Ack | None:
        """The answer that ended the stored prefix, if one did."""
        if self.stored >= len(self._replies):
            return None
        if self.forgotten is not None:
            return self.forgotten._replace(
                error=f"JetStream remembers it as sequence {self.forgotten.seq}, which the "
                "stream no longer holds"
            )
        return self.ack(self.stored)


class _Batch:
    """One batch in flight: the spans of its messages and JetStream's answers, each under
    its index in the batch (the last token of its reply subject). A span ends as soon as
    its ack is in, so few are alive at a time. A plain ack is kept as its stream sequence:
    an int, which the garbage collector does not track (thousands of tuples it would)."""

    def __init__(self, inbox: str, size: int) -> None:
        self._prefix = len(inbox) + 1
        self.replies: list[int | Ack | None] = [None] * size
        self.spans: list[OpenSpan | None] = [None] * size
        self.count = 0
        self._target = size
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    async def on_reply(self, msg: Msg) -> None:
        try:
            i = int(msg.subject[self._prefix :])
        except ValueError:
            return
        if self._closed or not 0 <= i < len(self.replies) or self.replies[i] is not None:
            return
        reply = self.replies[i] = _read_ack(msg.data)
        self.count += 1
        span = self.spans[i]
        if span is not None:
            self.spans[i] = None
            _end(span, reply)
        if self.count >= self._target and self._waiter and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, target: int, idle_timeout: float) -> bool:
        """Wait until ``target`` acks are in (True), or none came for ``idle_timeout``."""
        self._target = target
        loop = asyncio.get_running_loop()
        while self.count < target:
            before = self.count
            self._waiter = loop.create_future()
            await asyncio.wait({self._waiter}, timeout=idle_timeout)
            if self.count == before:
                return False
        return True

    def close(self, sent: int, failure: str, base: int, too_large: int) -> BatchOutcome:
        """The batch's outcome; ends the spans still open."""
        self._closed = True
        outcome = BatchOutcome(self.replies, sent, failure, base, too_large)
        for i, span in enumerate(self.spans):
            if span is not None:
                _end(span, outcome.ack(i))
        self.spans.clear()
        return outcome


def _read_ack(data: bytes) -> int | Ack:
    """A plain ack's stream sequence, else the whole answer (duplicate, error)."""
    if b'"error"' not in data and b'"duplicate"' not in data:  # the common case
        found = _ACK_SEQ.search(data)
        if found:
            return int(found[1])
    return Ack.parse(data)


def _end(span: OpenSpan, reply: int | Ack) -> None:
    if isinstance(reply, int):
        span.set_attribute("messaging.nats.stream_sequence", reply)
    elif reply.error is None:
        span.set_attribute("messaging.nats.stream_sequence", reply.seq)
        if reply.duplicate:
            span.set_attribute("messaging.nats.duplicate", True)
    else:
        span.set_status(Status(StatusCode.ERROR, reply.error))
    span.end()


async def publish_batch(
    nc: NATS, encoder: Encoder, rows: Sequence[Row], last_seq: int
) -> BatchOutcome:
    """Publish ``rows`` in order, the first expecting the stream's last sequence to be
    ``last_seq``; return JetStream's answers (an error for a message not answered or not
    sent) and how many of the batch it holds.

    Nothing is awaited per message: the batch is written, then the acks are awaited
    together, giving up on the rest when none comes for :data:`ACK_IDLE_TIMEOUT_SECONDS`.
    """
    inbox = nc.new_inbox()
    batch = _Batch(inbox, len(rows))
    sent = 0  # messages the client has taken
    failure = "not sent"
    too_large = 0
    sub = await nc.subscribe(inbox + ".*", cb=batch.on_reply)
    try:
        try:
            added = 0
            for i, row in enumerate(rows):
                subject, headers, body, span = encoder.prepare(row, last_seq + i, api_span)
                if span.is_recording():
                    batch.spans[i] = span
                size = len(headers) + len(body)
                if size > nc.max_payload:
                    too_large = size
                    failure = f"{size} bytes, larger than the {nc.max_payload} bytes NATS carries"
                    break
                await nc.publish(subject, body.encode(), f"{inbox}.{i}", parse_headers(headers))
                added += 1
                sent = added
                if added % _CHUNK == 0:
                    await asyncio.sleep(0)  # let the client write and read acks
                    if sent - batch.count > _WINDOW and not await batch.wait(
                        sent - _WINDOW, ACK_IDLE_TIMEOUT_SECONDS
                    ):
                        break  # JetStream stopped answering: end the batch here
            sent = added
            with contextlib.suppress(Exception):  # the acks tell what arrived
                await nc.flush()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. connection lost: what was sent may be stored
            log.warning("relay %s: publishing stopped: %r", encoder.service, exc)
        await batch.wait(sent, ACK_IDLE_TIMEOUT_SECONDS)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        outcome = batch.close(sent, failure, last_seq, too_large)  # ends spans left open
    return outcome
