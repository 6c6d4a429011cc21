"""How the relay writes a stored event on the wire: NATS subject, header block, CloudEvent
body and PRODUCER span, and the content hash that lets a later run prove the stream's last
message is the database's event.

Events are encoded from their stored state without rebuilding domain objects or validated
``CloudEvent`` objects; the bytes are those :func:`libs.common.envelope.to_cloudevent`
writes (tests hold the two together). Each message carries ``Ssj-Content-Sha256``, the
SHA-256 of the stored event (originator id, version, topic and stored state bytes): the
body cannot serve, since its ``traceparent`` names the span of the run that published it.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, StoredEvent
from eventsourcing.utils import resolve_topic
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
)

from libs.common.envelope import _ENVELOPE_FIELDS, event_type, to_jsonable
from libs.common.eventstore import EventStoreApp
from libs.common.tracing import context_from_traceparent, tracer

_tracer = tracer("ssj.relay")

CONTENT_HASH_HEADER = "Ssj-Content-Sha256"

_PLAIN = frozenset({str, int, float, bool, type(None)})
_PARENTS_CACHED = 1024
# What a subject written into a raw HPUB line must not hold.
_NOT_A_SUBJECT = re.compile(r"[\s*>]")

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


def content_hash(row: Row) -> str:
    """SHA-256 (hex) of what makes a stored event this event, whatever run publishes it."""
    digest = hashlib.sha256(f"{row[1]}\n{row[2]}\n{row[3]}\n".encode())
    digest.update(row[4])
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Kind:
    """What all stored events of one topic share on the wire."""

    aggregate: str
    type: str
    subject: str
    span_name: str
    class_version: int


class OpenSpan(Protocol):
    """What the relay does with a span between publishing its message and the ack."""

    def get_span_context(self) -> SpanContext: ...
    def is_recording(self) -> bool: ...
    def set_attribute(self, key: str, value: Any) -> None: ...
    def set_status(self, status: Status) -> None: ...
    def end(self) -> None: ...


class StartSpan(Protocol):
    def __call__(
        self, name: str, parent: Context, parent_span: SpanContext | None, attributes: Any
    ) -> OpenSpan: ...


def api_span(
    name: str, parent: Context, parent_span: SpanContext | None, attributes: Any
) -> OpenSpan:
    """A PRODUCER span through the OpenTelemetry API (what every published message gets)."""
    return _tracer.start_span(name, context=parent, kind=SpanKind.PRODUCER, attributes=attributes)


def no_span(
    name: str, parent: Context, parent_span: SpanContext | None, attributes: Any
) -> OpenSpan:
    """No span: for encoding an event to look at it (size, comparison), not to send it."""
    return NonRecordingSpan(INVALID_SPAN_CONTEXT)


class Encoder:
    """Turns the rows of one application's events table into NATS messages."""

    def __init__(self, app: EventStoreApp, stream: str, subject_prefix: str) -> None:
        self.app = app
        self.service = app.service
        self.subject_prefix = subject_prefix
        if not (self.service.isascii() and stream.isascii()):  # lengths are in bytes
            raise ValueError(f"service and stream names must be ASCII: {stream!r}")
        self._kinds: dict[str, Kind] = {}
        # Stored traceparent → (its context, its span context if valid).
        self._parents: dict[str | None, tuple[Context, SpanContext | None]] = {}
        self._source = f"/ssj/{self.service}"
        self._system = f"system:{self.service}"
        self._headers_end = f"\r\nNats-Expected-Stream: {stream}\r\n\r\n"
        mapper = app.mapper
        transcoder = mapper.transcoder
        # Stored JSON whose only transcoded value is the timestamp can be read as it is.
        self._plain_json = (
            mapper.cipher is None
            and mapper.compressor is None
            and isinstance(transcoder, JSONTranscoder)
            and type(transcoder.names.get("datetime_iso")) is DatetimeAsISO
        )

    def prepare(
        self, row: Row, expected_last_seq: int, start_span: StartSpan
    ) -> tuple[str, str, str, OpenSpan]:
        """(subject, NATS header block, CloudEvent body, started PRODUCER span) of a stored
        event; header block and body are ASCII."""
        notification_id, originator_id, originator_version, topic, _ = row
        kind = self._kinds.get(topic) or self.kind(topic)
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
        fixed = (
            f"NATS/1.0\r\nNats-Msg-Id: {msg_id}\r\n"
            f"Nats-Expected-Last-Sequence: {expected_last_seq}\r\n"
            f"{CONTENT_HASH_HEADER}: {content_hash(row)}"
        )
        if span_context == INVALID_SPAN_CONTEXT:  # what the W3C propagator would inject
            headers = fixed + self._headers_end
        else:
            traceparent = (
                f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
                f"-{span_context.trace_flags:02x}"
            )
            trace_state = span_context.trace_state
            headers = (
                f"{fixed}\r\ntraceparent: {traceparent}"
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

    def same_event(self, row: Row, headers: dict[str, str], body: bytes | None) -> bool:
        """Whether a message the stream holds is this stored event: by its content hash, or,
        for a message published before the hash header existed, by its body encoded again
        (all but ``traceparent``, which names the span of the run that published it)."""
        published_hash = headers.get(CONTENT_HASH_HEADER)
        if published_hash is not None:
            return published_hash == content_hash(row)
        if body is None:
            return False
        _, _, expected, _ = self.prepare(row, 0, no_span)
        try:
            held = json.loads(body)
        except ValueError:
            return False
        if not isinstance(held, dict):
            return False
        wanted = json.loads(expected)
        held.pop("traceparent", None)
        wanted.pop("traceparent", None)
        return bool(held == wanted)

    def kind(self, topic: str) -> Kind:
        """What events of ``topic`` share on the wire (type, subject, span name)."""
        found = self._kinds.get(topic)
        if found is not None:
            return found
        cls = resolve_topic(topic)
        aggregate, _, name = cls.__qualname__.rpartition(".")
        aggregate = aggregate or name
        version = int(getattr(cls, "class_version", 1))
        subject = f"{self.subject_prefix}.{aggregate.lower()}.{name}"
        if _NOT_A_SUBJECT.search(subject):
            raise ValueError(f"{topic} makes no NATS subject: {subject!r}")
        kind = Kind(
            aggregate=aggregate,
            type=event_type(self.service, name, version),
            subject=subject,
            span_name=f"publish {self.service}.{name}",
            class_version=version,
        )
        self._kinds[topic] = kind
        return kind

    def _decode(self, row: Row, kind: Kind) -> tuple[dict[str, Any], Any, dict[str, Any]]:
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

    def _state(self, row: Row, kind: Kind) -> dict[str, Any]:
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


def parse_headers(headers: str) -> dict[str, str]:
    """The header block of a raw message as ``Client.publish`` takes it."""
    lines = headers.split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines if line)
