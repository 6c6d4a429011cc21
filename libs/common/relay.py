"""The relay: notification log → JetStream, the only way events leave a service.

Loop: find how far JetStream already is (its last message names our last published
notification), read the stored events after that, publish them pipelined with
``Nats-Msg-Id = <service>:<notification id>`` and ``Nats-Expected-Last-Sequence`` (so they
land in order or not at all), wait for the acks, then record the new position. A crash
anywhere loses nothing and duplicates nothing: the next run starts after what the stream
holds, and JetStream's duplicate window drops any message sent twice all the same. There
is no other write to NATS anywhere, so there is no dual write. One process per service
relays at a time (:mod:`libs.common.leader`).

A batch (``SSJ_RELAY_BATCH`` events; the next one is read while it goes out) is published
without a request per message: each message is a plain NATS publish whose reply subject is
``<inbox>.<its index in the batch>`` (the client's public ``publish``), and one
subscription on ``<inbox>.*`` collects JetStream's acks, at most :data:`_WINDOW` of them
outstanding. Once all are in (or none has come for :data:`ACK_IDLE_TIMEOUT_SECONDS`), the
first refusal or missing ack ends what got through: the position written is the last
notification of the acknowledged prefix, and everything after it (which the
expected-sequence check made the stream refuse anyway) is published again by the next
pass, after it has re-read the stream head. Crash point ``relay.after_publish`` sits
between the acks and that write.

Each event gets one PRODUCER span, a child of the ``traceparent`` stored with the event,
whose own ``traceparent`` goes into the message headers and the CloudEvent; it ends when
the event's ack arrives, with the stream sequence (or the refusal) on it; spans go through
the OpenTelemetry API like everyone else's. Events are encoded from their stored
state without rebuilding domain objects or validated ``CloudEvent`` objects; the bytes are
those :func:`libs.common.envelope.to_cloudevent` writes (tests hold the two together).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import asyncpg
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, StoredEvent
from eventsourcing.utils import resolve_topic
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
)

from libs.common.alarms import AlarmSlot
from libs.common.bus import ensure_stream
from libs.common.envelope import _ENVELOPE_FIELDS, event_type, to_jsonable
from libs.common.eventstore import EventStoreApp
from libs.common.faults import crash_point
from libs.common.leader import Leadership
from libs.common.tracing import context_from_traceparent, tracer

log = logging.getLogger(__name__)
_tracer = tracer("ssj.relay")

POSITION_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.relay_position (
    stream text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

# A batch is given up on, from its first unanswered message, when no ack at all has come
# for this long; the next pass re-reads the stream head and carries on from there.
ACK_IDLE_TIMEOUT_SECONDS = 5.0
# Messages handed to the NATS client at once; between two chunks the relay yields to the
# event loop, so the client writes while the relay encodes, and acks are read meanwhile.
_CHUNK = 256
# At most this many messages unanswered at a time (memory, and spans alive, stay bounded).
_WINDOW = 1024
# Rows fetched per query while reading a batch (see Relay.read).
_READ_CHUNK = 1000
_PLAIN = frozenset({str, int, float, bool, type(None)})
_PARENTS_CACHED = 1024
# What a subject written into a raw HPUB line must not hold.
_NOT_A_SUBJECT = re.compile(r"[\s*>]")
_ACK_SEQ = re.compile(rb'"seq":\s*(\d+)')


# json.loads and json.dumps without their per-call set-up (encoding detection; a new C
# encoder and its circular-reference bookkeeping for every call): same input, same text.
_read_json = json.JSONDecoder().raw_decode
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_encode = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None,  # no circular-reference checks: decoded JSON has no cycles
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
)


def _write_json(value: Any) -> str:
    """``json.dumps(value)``."""
    return "".join(_encode(value, 0)) if _encode is not None else json.dumps(value)


# A stored event as the relay reads it: notification id, originator id (as text),
# originator version, topic, stored state.
Row = tuple[int, str, int, str, bytes]


class Ack(NamedTuple):
    """JetStream's answer to one published message (``error`` set when it was refused)."""

    seq: int = 0
    duplicate: bool = False
    error: str | None = None
    err_code: int = 0

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
                return cls(error=str(error))
            return cls(
                error=str(error.get("description", error)),
                err_code=int(error.get("err_code", 0) or 0),
            )
        return cls(int(reply.get("seq", 0)), bool(reply.get("duplicate")))


@dataclass(frozen=True, slots=True)
class _Kind:
    """What all stored events of one topic share on the wire."""

    aggregate: str
    type: str
    subject: str
    span_name: str
    class_version: int


class _OpenSpan(Protocol):
    """What the relay does with a span between publishing its message and the ack."""

    def get_span_context(self) -> SpanContext: ...
    def is_recording(self) -> bool: ...
    def set_attribute(self, key: str, value: Any) -> None: ...
    def set_status(self, status: Status) -> None: ...
    def end(self) -> None: ...


class _StartSpan(Protocol):
    def __call__(
        self, name: str, parent: Context, parent_span: SpanContext | None, attributes: Any
    ) -> _OpenSpan: ...


def _api_span(
    name: str, parent: Context, parent_span: SpanContext | None, attributes: Any
) -> _OpenSpan:
    return _tracer.start_span(name, context=parent, kind=SpanKind.PRODUCER, attributes=attributes)


class BatchOutcome:
    """What became of a published batch: how many messages from its start JetStream is
    known to hold, and its answer to each message."""

    def __init__(self, replies: list[int | Ack | None], sent: int, failure: str) -> None:
        self._replies = replies
        self._unanswered = Ack(error="no acknowledgement")
        self._unsent = Ack(error=failure)
        self._sent = sent
        stored = 0
        for reply in replies:
            if reply is None or (not isinstance(reply, int) and reply.error is not None):
                break
            stored += 1
        self.stored = stored

    def ack(self, i: int) -> Ack:
        """JetStream's answer to message ``i`` (an error if it gave none, or got none)."""
        reply = self._replies[i]
        if reply is None:
            return self._unanswered if i < self._sent else self._unsent
        return Ack(reply) if isinstance(reply, int) else reply

    @property
    def acks(self) -> list[Ack]:
        """The answer to every message, in order."""
        return [self.ack(i) for i in range(len(self._replies))]

    @property
    def failure(self) -> Ack | None:
        """The answer that ended the stored prefix, if one did."""
        return self.ack(self.stored) if self.stored < len(self._replies) else None


class _Batch:
    """One batch in flight: the spans of its messages and JetStream's answers, each under
    its index in the batch (the last token of its reply subject). A span ends as soon as
    its ack is in, so few are alive at a time. A plain ack is kept as its stream sequence:
    an int, which the garbage collector does not track (thousands of tuples it would)."""

    def __init__(self, inbox: str, size: int) -> None:
        self._prefix = len(inbox) + 1
        self.replies: list[int | Ack | None] = [None] * size
        self.spans: list[_OpenSpan | None] = [None] * size
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

    def close(self, sent: int, failure: str) -> BatchOutcome:
        """The batch's outcome; ends the spans still open."""
        self._closed = True
        outcome = BatchOutcome(self.replies, sent, failure)
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


def _end(span: _OpenSpan, reply: int | Ack) -> None:
    if isinstance(reply, int):
        span.set_attribute("messaging.nats.stream_sequence", reply)
    elif reply.error is None:
        span.set_attribute("messaging.nats.stream_sequence", reply.seq)
        if reply.duplicate:
            span.set_attribute("messaging.nats.duplicate", True)
    else:
        span.set_status(Status(StatusCode.ERROR, reply.error))
    span.end()


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
        # Raised when the relay cannot go on by itself (shown on /readyz, as a metric).
        self.alarm = AlarmSlot(f"relay:{self.stream}")
        self.published_total = 0
        self._kinds: dict[str, _Kind] = {}
        # Stored traceparent → (its context, its span context if valid).
        self._parents: dict[str | None, tuple[Context, SpanContext | None]] = {}
        # The next page, read while the current one is published: (after which id, rows).
        self._ahead: tuple[int, asyncio.Future[list[Row]]] | None = None
        self._select = (
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            f'FROM "{app.schema}"."{app.events_table}" '
            "WHERE notification_id > $1 ORDER BY notification_id LIMIT $2"
        )
        self._source = f"/ssj/{self.service}"
        self._system = f"system:{self.service}"
        self._headers_end = f"\r\nNats-Expected-Stream: {self.stream}\r\n\r\n"
        if not (self.service.isascii() and self.stream.isascii()):  # lengths are in bytes
            raise ValueError(f"service and stream names must be ASCII: {self.stream!r}")
        mapper = app.mapper
        transcoder = mapper.transcoder
        # Stored JSON whose only transcoded value is the timestamp can be read as it is.
        self._plain_json = (
            mapper.cipher is None
            and mapper.compressor is None
            and isinstance(transcoder, JSONTranscoder)
            and type(transcoder.names.get("datetime_iso")) is DatetimeAsISO
        )

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

    async def _stream_head(self) -> tuple[int, int]:
        """(last stream sequence, notification id of the last message we published there).

        Because every message is published with ``Nats-Expected-Last-Sequence``, the stream
        holds our events in notification order with no holes, so its last message tells
        exactly how far a previous run got, even if that run died before recording it.
        """
        info = await self.js.stream_info(self.stream)
        last_seq = int(info.state.last_seq or 0)
        if last_seq == 0:
            return 0, 0
        msg = await self.js.get_msg(self.stream, last_seq)
        msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        service, _, number = msg_id.partition(":")
        return last_seq, int(number) if service == self.service and number.isdigit() else 0

    async def publish_pending(self) -> int:
        """Publish one batch after what JetStream already has; return how many went out.

        The batch is pipelined: every message is sent at once, each expecting the stream's
        last sequence to be its predecessor's, so the server stores them in order or rejects
        the rest after the first failure. The position is written after the acks, up to
        the last message of the acknowledged prefix.
        """
        (last_seq, in_stream), recorded = await asyncio.gather(self._stream_head(), self.position())
        position = max(recorded, in_stream)
        limit = self.settings.relay_batch
        rows = await self._rows_after(position, limit)
        if not rows:
            if position > recorded:
                await self._record(position)
            return 0
        if len(rows) == limit:  # read the next page while this one goes out
            self._ahead = (rows[-1][0], asyncio.ensure_future(self.read(rows[-1][0], limit)))
        outcome = await self.publish_batch(rows, last_seq)
        published = outcome.stored
        if outcome.failure is not None:
            log.warning(
                "relay %s: %s:%d was not stored (%s); the next pass resumes there",
                self.service,
                self.service,
                rows[published][0],
                outcome.failure.error,
            )
        crash_point("relay.after_publish")
        if published:
            await self._record(rows[published - 1][0])
        self.published_total += published
        return published

    async def _rows_after(self, position: int, limit: int) -> list[Row]:
        """The page after ``position``: the one read ahead if it starts there (and is not
        empty), else a fresh one."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            after, task = ahead
            if after == position:
                rows = await task
                if rows:
                    return rows
            else:
                _discard(task)
        return await self.read(position, limit)

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
        stream's last sequence to be ``last_seq``; return JetStream's answers (an error for
        a message not answered or not sent) and how many of the batch it holds.

        Nothing is awaited per message: the batch is written, then the acks are awaited
        together, giving up on the rest when none comes for
        :data:`ACK_IDLE_TIMEOUT_SECONDS`.
        """
        nc: NATS = self.js._nc
        inbox = nc.new_inbox()
        batch = _Batch(inbox, len(rows))
        sent = 0  # messages the client has taken
        failure = "not sent"
        sub = await nc.subscribe(inbox + ".*", cb=batch.on_reply)
        try:
            try:
                added = 0
                for i, row in enumerate(rows):
                    subject, headers, body, span = self._prepare(row, last_seq + i, _api_span)
                    if span.is_recording():
                        batch.spans[i] = span
                    if len(headers) + len(body) > nc.max_payload:
                        failure = f"larger than the {nc.max_payload} bytes NATS takes"
                        log.error(
                            "relay %s: %s:%d is %s", self.service, self.service, row[0], failure
                        )
                        break
                    await nc.publish(subject, body.encode(), f"{inbox}.{i}", _parse(headers))
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
                log.warning("relay %s: publishing stopped: %r", self.service, exc)
            await batch.wait(sent, ACK_IDLE_TIMEOUT_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            outcomes = batch.close(sent, failure)  # also ends the spans left open
        return outcomes

    def _prepare(
        self, row: Row, expected_last_seq: int, start_span: _StartSpan
    ) -> tuple[str, str, str, _OpenSpan]:
        """(subject, NATS header block, CloudEvent body, started PRODUCER span) of a stored
        event; header block and body are ASCII."""
        notification_id, originator_id, originator_version, topic, _ = row
        kind = self._kinds.get(topic) or self._kind(topic)
        state, timestamp, data = self._decode(row, kind)
        meta: dict[str, Any] = state.get("meta") or {}
        stored_parent = meta.get("traceparent")
        parent = self._parents.get(stored_parent)
        if parent is None:
            if len(self._parents) >= _PARENTS_CACHED:
                self._parents.clear()
            context = context_from_traceparent(stored_parent)
            span_context = trace.get_current_span(context).get_span_context()
            parent = self._parents[stored_parent] = (
                context,
                span_context if span_context.is_valid else None,
            )
        msg_id = f"{self.service}:{notification_id}"
        span = start_span(
            kind.span_name,
            parent[0],
            parent[1],
            {
                "messaging.system": "nats",
                "messaging.destination.name": kind.subject,
                "messaging.message.id": msg_id,
            },
        )
        traceparent = stored_parent
        span_context = span.get_span_context()
        if span_context == INVALID_SPAN_CONTEXT:  # what the W3C propagator would inject
            headers = (
                f"NATS/1.0\r\nNats-Msg-Id: {msg_id}\r\n"
                f"Nats-Expected-Last-Sequence: {expected_last_seq}{self._headers_end}"
            )
        else:
            traceparent = (
                f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
                f"-{span_context.trace_flags:02x}"
            )
            trace_state = span_context.trace_state
            headers = (
                f"NATS/1.0\r\nNats-Msg-Id: {msg_id}\r\n"
                f"Nats-Expected-Last-Sequence: {expected_last_seq}\r\n"
                f"traceparent: {traceparent}"
                + (f"\r\ntracestate: {trace_state.to_header()}" if trace_state else "")
                + self._headers_end
            )

        # The CloudEvent, exactly as libs.common.envelope.to_cloudevent writes it.
        actor = meta.get("actor") or {}
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": msg_id,
            "source": self._source,
            "type": kind.type,
            "subject": originator_id,
            "time": timestamp,
            "datacontenttype": "application/json",
            "aggregate": kind.aggregate,
            "aggregateversion": originator_version,
            "actorsub": str(actor.get("sub", self._system)),
            "actordept": str(actor.get("dept", "")),
            "actorroles": ",".join(actor.get("roles", [])),
            "correlationid": str(meta.get("correlation_id") or msg_id),
        }
        if meta.get("causation_id"):
            event["causationid"] = str(meta["causation_id"])
        if traceparent:
            event["traceparent"] = traceparent
        if meta.get("prev_hash"):
            event["prevhash"] = meta["prev_hash"]
        event["data"] = data
        return kind.subject, headers, _write_json(event), span

    def _kind(self, topic: str) -> _Kind:
        cls = resolve_topic(topic)
        aggregate, _, name = cls.__qualname__.rpartition(".")
        aggregate = aggregate or name
        version = int(getattr(cls, "class_version", 1))
        subject = f"{self.subject_prefix}.{aggregate.lower()}.{name}"
        if _NOT_A_SUBJECT.search(subject):
            raise ValueError(f"{topic} makes no NATS subject: {subject!r}")
        kind = _Kind(
            aggregate=aggregate,
            type=event_type(self.service, name, version),
            subject=subject,
            span_name=f"publish {self.service}.{name}",
            class_version=version,
        )
        self._kinds[topic] = kind
        return kind

    def _decode(self, row: Row, kind: _Kind) -> tuple[dict[str, Any], Any, dict[str, Any]]:
        """(the stored event's fields as its domain event holds them, its ``time`` and its
        ``data`` as they go on the wire)."""
        raw: bytes = row[4]
        if self._plain_json and raw.count(b'"_type_"') == 1:
            # Nothing but the timestamp needs the transcoder: read the JSON as it is.
            text = raw.decode()
            state, end = _read_json(text)
            if end != len(text):
                state = json.loads(text)  # raises, as anything but one JSON value should
            stamp = state.get("timestamp")
            if (
                type(stamp) is dict
                and stamp.get("_type_") == "datetime_iso"
                and state.get("class_version", 1) == kind.class_version
            ):
                iso = str(stamp["_data_"])  # datetime.isoformat() wrote it
                if iso.endswith("+00:00"):
                    iso = iso[:-6] + "Z"
                data = {k: v for k, v in state.items() if k not in _ENVELOPE_FIELDS}
                return state, iso, data
        state = self._state(row, kind)
        timestamp = state["timestamp"]
        if isinstance(timestamp, datetime):  # as the CloudEvents JSON format writes it
            timestamp = timestamp.isoformat()
            if timestamp.endswith("+00:00"):
                timestamp = timestamp[:-6] + "Z"
        data = {
            k: v if type(v) in _PLAIN else to_jsonable(v)
            for k, v in state.items()
            if k not in _ENVELOPE_FIELDS
        }
        return state, timestamp, data

    def _state(self, row: Row, kind: _Kind) -> dict[str, Any]:
        """The stored event's fields, as its domain event object would hold them."""
        mapper = self.app.mapper
        if mapper.cipher is None and mapper.compressor is None:
            state: dict[str, Any] = mapper.transcoder.decode(row[4])
            if state.get("class_version", 1) == kind.class_version:
                state.pop("class_version", None)
                return state
        # Encrypted, compressed or to be upcast: the mapper does all of that.
        stored = StoredEvent(
            originator_id=uuid.UUID(row[1]),
            originator_version=row[2],
            topic=row[3],
            state=row[4],
        )
        return vars(mapper.to_domain_event(stored))


def _discard(task: asyncio.Future[Any]) -> None:
    """Cancel a read-ahead nobody will use, and let it fail quietly."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _parse(headers: str) -> dict[str, str]:
    """The header block of a raw message as ``Client.publish`` takes it."""
    lines = headers.split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines if line)
