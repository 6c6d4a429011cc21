"""Pipelined pull delivery from a JetStream durable consumer, for
:class:`libs.common.consumer.Consumer`.

Messages arrive on a subscription of the consumer's own inbox and are parsed there, as they
arrive, while the previous batch is still in PostgreSQL; the next pull request goes out as
soon as a batch is taken. A batch is what one pull request brought (``batch`` messages when
the stream has them, fewer at its end), or, once the stream is drained and the consumer
waits on a long poll, whatever has arrived. At most two batches are unacked at any time
(one being applied, one arriving), well under the consumer's ``max_ack_pending``, so the
server never holds a request back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from libs.common.envelope import InboundEvent, parse_cloudevent
from libs.common.relay_wire import CONTENT_HASH_HEADER

log = logging.getLogger(__name__)

# A long poll (the stream is drained) lasts this long on the server; a pull request that
# has had no answer this long after its expiry is taken for lost (NATS restarted, the
# consumer was deleted) and the consumer is re-created.
LONG_POLL_SECONDS = 5.0
LOST_AFTER_SECONDS = 10.0
# How long take() waits for messages before returning to the loop (leadership checks).
IDLE_SECONDS = 1.0
# Pull-request outcomes that only mean "nothing more for this request".
_ENDED = {"404", "408"}
_ENDED_409 = ("Leadership Change", "Server Shutdown")


class PullFailed(Exception):
    """JetStream answered a pull request with an error status, or did not answer at all."""


def _identify(body: bytes) -> tuple[str | None, str | None]:
    """The ``id`` and ``type`` of a message that did not parse as a CloudEvent, if its
    JSON has them (so an alarm can name it)."""
    try:
        attrs = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(attrs, dict):
        return None, None
    event_id, event_type = attrs.get("id"), attrs.get("type")
    return (
        event_id if isinstance(event_id, str) else None,
        event_type if isinstance(event_type, str) else None,
    )


class Delivery:
    """One message as received: stream sequence, parsed event (or why it did not parse),
    the producer's trace context (W3C headers) and the subject to ack it on.

    Messages wait here while the batch before them is applied, long enough for Python's
    garbage collector to promote them; so a delivery keeps no more than it needs (not the
    NATS message, not its header dictionary).
    """

    __slots__ = (
        "content_hash",
        "event",
        "ident",
        "reply",
        "stream_seq",
        "traceparent",
        "tracestate",
    )

    def __init__(
        self,
        stream_seq: int,
        body: bytes,
        stream: str,
        headers: Mapping[str, str] | None,
        reply: str = "",
    ) -> None:
        self.stream_seq = stream_seq
        self.ident: tuple[str | None, str | None] = (None, None)
        try:
            self.event: InboundEvent | Exception = parse_cloudevent(body, stream, stream_seq)
        except Exception as exc:  # raised when the batch is applied, as a handler error
            self.event = exc
            self.ident = _identify(body)
        self.traceparent = headers.get("traceparent") if headers else None
        self.tracestate = headers.get("tracestate") if headers else None
        # What the relay says the stored event hashes to (own-stream consumers compare it).
        self.content_hash = headers.get(CONTENT_HASH_HEADER) if headers else None
        self.reply = reply

    @property
    def event_id(self) -> str | None:
        """The CloudEvent ``id`` (if the message has one)."""
        return self.event.id if isinstance(self.event, InboundEvent) else self.ident[0]

    @property
    def event_type(self) -> str | None:
        """The CloudEvent ``type`` (if the message has one)."""
        return self.event.type if isinstance(self.event, InboundEvent) else self.ident[1]

    @property
    def headers(self) -> dict[str, str]:
        """The trace-context headers the message came with."""
        headers = {}
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
            if self.tracestate is not None:
                headers["tracestate"] = self.tracestate
        return headers


class _Pull:
    """The one outstanding pull request."""

    __slots__ = ("asked", "delivered", "long_poll", "lost_at", "token")

    def __init__(self, token: str, asked: int, long_poll: bool, lost_at: float) -> None:
        self.token = token
        self.asked = asked
        self.delivered = 0
        self.long_poll = long_poll
        self.lost_at = lost_at


def stream_seq_of(msg: Msg) -> int:
    """Stream sequence from the ack subject: ``$JS.ACK.<stream>.<consumer>.<delivered>.
    <stream seq>.…`` (9 tokens), or with domain and account hash (11 or 12 tokens)."""
    tokens = (msg.reply or "").split(".")
    if tokens[:2] == ["$JS", "ACK"]:
        if len(tokens) == 9:
            return int(tokens[5])
        if len(tokens) >= 11:
            return int(tokens[7])
    return int(msg.metadata.sequence.stream)  # raises NotJSMessageError


class PullDelivery:
    """Batches of one durable consumer, pulled on this process's own inbox. Opened after
    the durable consumer is (re)created, closed before it is deleted."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str, batch: int) -> None:
        self.js = js
        self.stream = stream
        self.durable = durable
        self.batch = batch
        self._sub: Subscription | None = None
        self._inbox = ""
        self._generation = 0
        self._tokens = 0
        self._buffer: deque[Delivery] = deque()
        self._pull: _Pull | None = None
        self._drained = False  # the last pull request found nothing: long-poll next
        self._failure: str | None = None
        self._arrived = asyncio.Event()

    @property
    def _nc(self) -> NATS:
        # Pull requests and the inbox subscription use the JetStream context's connection.
        nc: NATS = self.js._nc
        return nc

    async def open(self) -> None:
        """Subscribe a new inbox; anything of an earlier one is dropped."""
        await self.close()
        generation = self._generation
        self._inbox = self._nc.new_inbox()
        self._drained = False
        self._failure = None

        async def on_message(msg: Msg) -> None:
            if generation == self._generation:
                self._receive(msg)

        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=on_message)

    async def close(self) -> None:
        """Stop receiving; what was received and not taken is dropped."""
        self._generation += 1  # late callbacks of the old subscription are ignored
        self._buffer = deque()
        self._pull = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def ack(self, delivery: Delivery) -> None:
        """Acknowledge ``delivery`` and (``AckPolicy.ALL``) everything before it."""
        await self._nc.publish(delivery.reply, b"+ACK")

    def _receive(self, msg: Msg) -> None:
        """Every message on the inbox: a delivery (parsed right away, while the batch
        before it is in PostgreSQL) or a status answering a pull request."""
        headers = msg.headers
        data = msg.data
        if data or not headers or "Status" not in headers:
            reply = msg.reply
            try:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.… (stream_seq_of)
                tokens = reply.split(".")
                seq = int(tokens[5]) if len(tokens) == 9 and tokens[0] == "$JS" else -1
                if seq < 0:
                    seq = stream_seq_of(msg)
            except Exception:
                log.warning("consumer %s: ignoring a message without an ack subject", self.durable)
                return
            self._buffer.append(Delivery(seq, data, self.stream, headers, reply))
            pull = self._pull
            if pull is not None:
                pull.delivered += 1
                if pull.delivered >= pull.asked:
                    self._end_pull(pull)
                elif pull.long_poll or len(self._buffer) >= self.batch:
                    self._arrived.set()
            return
        status = headers["Status"]
        if status == "100":  # idle heartbeat or flow control: not asked for, nothing to do
            return
        pull = self._pull
        if pull is None or msg.subject != f"{self._inbox}.{pull.token}":
            return  # the answer to a request given up on
        description = str(headers.get("Description", ""))
        if status not in _ENDED and not (status == "409" and description in _ENDED_409):
            self._failure = f"{status} {description}".strip()
        self._end_pull(pull)

    def _end_pull(self, pull: _Pull) -> None:
        self._pull = None
        self._drained = pull.delivered == 0
        self._arrived.set()

    async def _request(self) -> None:
        """Ask for the next batch unless a request is out or a batch is already here.

        Asks for no more than fills one batch, so with the batch being applied at most two
        are unacked. A drained stream gets a long poll, whose first message ends the wait.
        """
        pull = self._pull
        if pull is not None:
            if time.monotonic() < pull.lost_at:
                return
            self._pull = None
            raise PullFailed(f"no answer to pull request {pull.token} of {self.durable}")
        wanted = self.batch - len(self._buffer)
        if wanted <= 0:
            return
        self._tokens += 1
        token = str(self._tokens)
        request: dict[str, Any] = {"batch": wanted}
        if self._drained:
            request["expires"] = int(LONG_POLL_SECONDS * 1e9)
            lost_at = time.monotonic() + LONG_POLL_SECONDS + LOST_AFTER_SECONDS
        else:
            request["no_wait"] = True
            lost_at = time.monotonic() + LOST_AFTER_SECONDS
        self._pull = _Pull(token, wanted, self._drained, lost_at)
        await self._nc.publish(
            f"{self.js._prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}",
            json.dumps(request).encode(),
            reply=f"{self._inbox}.{token}",
        )

    def _ready(self) -> bool:
        buffered = len(self._buffer)
        if buffered >= self.batch:
            return True
        return buffered > 0 and (self._pull is None or self._pull.long_poll)

    async def take(self) -> list[Delivery]:
        """The next batch, or [] after IDLE_SECONDS without one."""
        deadline = time.monotonic() + IDLE_SECONDS
        while True:
            if self._failure is not None and not self._buffer:
                failure, self._failure = self._failure, None
                raise PullFailed(f"pull request of {self.durable} failed: {failure}")
            await self._request()
            if self._ready():
                buffer = self._buffer
                taken = [buffer.popleft() for _ in range(min(self.batch, len(buffer)))]
                await self._request()  # the next batch arrives while this one is applied
                return taken
            now = time.monotonic()
            wait = deadline - now
            if self._pull is not None:
                wait = min(wait, self._pull.lost_at - now)
            if wait <= 0:
                return []
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait)
