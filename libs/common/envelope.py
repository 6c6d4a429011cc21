"""The wire format: CloudEvents 1.0, structured JSON mode.

Attributes: ``id`` (``<service>:<notification id>``, the same as the ``Nats-Msg-Id``),
``source`` (``/ssj/<service>``), ``type`` (``ssj.<service>.<EventName>.v<N>``), ``subject``
(the aggregate id), ``time``, ``datacontenttype`` and ``data`` (the event's own fields).
Extensions (CloudEvents allows only flat, lower-case names): ``traceparent``, ``actorsub``,
``actordept``, ``actorroles``, ``correlationid``, ``causationid``, ``aggregate``,
``aggregateversion``.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

_FORMAT = JSONFormat()
# Fields eventsourcing keeps on every event; they travel as envelope attributes instead.
_ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "meta",
        "class_version",
    }
)


def to_jsonable(value: Any) -> Any:
    """Convert domain values (UUID, dates, Decimal, tuples, dataclasses) to JSON types."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    raise TypeError(f"cannot put {type(value).__name__} on the wire")


def event_name(domain_event: Any) -> tuple[str, str]:
    """(aggregate, event) names of an eventsourcing event, e.g. ('Draw', 'DrawExecuted')."""
    qualname = type(domain_event).__qualname__
    aggregate, _, name = qualname.rpartition(".")
    return aggregate or name, name


def event_type(service: str, name: str, version: int = 1) -> str:
    """Versioned CloudEvents type, e.g. ``ssj.draw.DrawExecuted.v1``."""
    return f"ssj.{service}.{name}.v{version}"


@dataclass(frozen=True)
class Outbound:
    """One event ready to publish: NATS subject, message id and the JSON body."""

    subject: str
    msg_id: str
    body: bytes
    traceparent: str | None


def to_cloudevent(
    service: str,
    subject_prefix: str,
    notification_id: int,
    domain_event: Any,
    traceparent: str | None = None,
) -> Outbound:
    """Build the CloudEvent for a stored domain event.

    ``traceparent`` (the publisher's span) replaces the one stored with the event, so
    consumers hang their spans under the publish span, which hangs under the request.
    """
    state = vars(domain_event)
    meta: dict[str, Any] = state.get("meta") or {}
    actor = meta.get("actor") or {}
    aggregate, name = event_name(domain_event)
    version = int(getattr(type(domain_event), "class_version", 1))
    msg_id = f"{service}:{notification_id}"
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": msg_id,
        "source": f"/ssj/{service}",
        "type": event_type(service, name, version),
        "subject": str(state["originator_id"]),
        "time": state["timestamp"],
        "datacontenttype": "application/json",
        "aggregate": aggregate,
        "aggregateversion": int(state["originator_version"]),
        "actorsub": str(actor.get("sub", f"system:{service}")),
        "actordept": str(actor.get("dept", "")),
        "actorroles": ",".join(actor.get("roles", [])),
        "correlationid": str(meta.get("correlation_id") or msg_id),
    }
    if meta.get("causation_id"):
        attributes["causationid"] = str(meta["causation_id"])
    traceparent = traceparent or meta.get("traceparent")
    if traceparent:
        attributes["traceparent"] = traceparent
    if meta.get("prev_hash"):
        attributes["prevhash"] = meta["prev_hash"]
    data = {k: to_jsonable(v) for k, v in state.items() if k not in _ENVELOPE_FIELDS}
    body = _FORMAT.write(CloudEvent(attributes=attributes, data=data))
    return Outbound(
        subject=f"{subject_prefix}.{aggregate.lower()}.{name}",
        msg_id=msg_id,
        body=body,
        traceparent=traceparent,
    )


@dataclass(frozen=True)
class InboundEvent:
    """A CloudEvent as a consumer sees it, with its JetStream position.

    Every attribute on the wire is here: the context attributes, ssj's extensions as typed
    fields, and all extensions (ssj's and any others) as sent in :attr:`extensions`.
    """

    id: str
    type: str
    source: str
    subject: str
    time: datetime | None
    data: dict[str, Any]
    actor_sub: str
    actor_dept: str
    correlation_id: str
    causation_id: str | None
    traceparent: str | None
    aggregate_version: int
    stream: str = ""
    stream_seq: int = 0
    # The actor's roles (``actorroles``, comma-separated on the wire).
    actor_roles: tuple[str, ...] = ()
    aggregate: str = ""
    prev_hash: str | None = None  # hash-chained streams only
    datacontenttype: str | None = None
    dataschema: str | None = None
    extensions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Event name without service and version, e.g. ``DrawExecuted``."""
        return self.type.split(".")[2]

    @property
    def service(self) -> str:
        """The service that published the event."""
        return self.type.split(".")[1]


class InvalidCloudEvent(ValueError):
    """A message body that is not a structured-mode CloudEvents 1.0 JSON event."""


_SSJ_EXTENSIONS = frozenset(
    {
        "traceparent",
        "tracestate",
        "actorsub",
        "actordept",
        "actorroles",
        "correlationid",
        "causationid",
        "aggregate",
        "aggregateversion",
        "prevhash",
    }
)
_EXTENSION_NAME = re.compile(r"[a-z0-9]+")
_raw_decode = json.JSONDecoder().raw_decode
_new = object.__new__


def _json_object(body: bytes | str) -> Any:
    """``json.loads`` without its encoding detection and second whitespace scan (UTF-8 is
    the only encoding a structured-mode CloudEvent may have)."""
    text = body.decode() if isinstance(body, (bytes, bytearray, memoryview)) else body
    if text[:1].isspace():
        text = text.lstrip()
    value, end = _raw_decode(text)
    if end != len(text) and not text[end:].isspace():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _string(name: str, value: Any, required: bool) -> None:
    if value is None and not required:
        return
    if not value or not isinstance(value, str):
        raise InvalidCloudEvent(f"attribute {name!r} must be a non-empty string, not {value!r}")


_ROLES: dict[str, tuple[str, ...]] = {}


def _roles(value: Any) -> tuple[str, ...]:
    """``actorroles`` (comma-separated) as a tuple; the few distinct values are kept."""
    if type(value) is not str:
        return tuple(filter(None, str(value).split(",")))
    roles = _ROLES.get(value)
    if roles is None:
        roles = tuple(filter(None, value.split(",")))
        if len(_ROLES) < 1024:
            _ROLES[value] = roles
    return roles


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCloudEvent(f"attribute 'time' must be an RFC 3339 string, not {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:  # RFC 3339 allows a lower-case 't' and 'z', which fromisoformat does not take
            parsed = datetime.fromisoformat(value.upper())
        except ValueError as exc:
            raise InvalidCloudEvent(f"attribute 'time' is not RFC 3339: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InvalidCloudEvent(f"attribute 'time' has no UTC offset: {value!r}")
    return parsed


def parse_cloudevent(body: bytes, stream: str = "", stream_seq: int = 0) -> InboundEvent:
    """Parse a structured-mode CloudEvent published by any ssj service.

    Consumers call this for every message, so it is one JSON decode and dictionary look-ups
    rather than the CloudEvents SDK, but it checks what the SDK checks on reading
    (``specversion`` 1.0; ``id``, ``source`` and ``type`` non-empty strings; ``subject``,
    ``datacontenttype`` and ``dataschema`` non-empty strings when present; ``time`` RFC 3339
    with an offset; extension names lower-case letters and digits) and raises
    :class:`InvalidCloudEvent` (a ``ValueError``) otherwise. ``data`` is the JSON value, else
    ``data_base64`` decoded; JSON in a string is parsed.
    """
    try:
        attrs = _json_object(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidCloudEvent(f"not JSON: {exc}") from exc
    if type(attrs) is not dict:
        raise InvalidCloudEvent("a structured-mode CloudEvent is a JSON object")
    # Take the context attributes and the data out: what stays are the extensions.
    pop = attrs.pop
    specversion = pop("specversion", None)
    event_id = pop("id", None)
    event_type = pop("type", None)
    source = pop("source", None)
    subject = pop("subject", None)
    time = pop("time", None)
    datacontenttype = pop("datacontenttype", None)
    dataschema = pop("dataschema", None)
    data = pop("data", None)
    data_base64 = pop("data_base64", None)
    extensions = attrs
    if specversion != "1.0":
        raise InvalidCloudEvent(f"specversion must be '1.0', not {specversion!r}")
    if not (
        type(event_id) is str
        and type(event_type) is str
        and type(source) is str
        and event_id
        and event_type
        and source
        and (subject is None or (type(subject) is str and subject))
        and (datacontenttype is None or (type(datacontenttype) is str and datacontenttype))
        and dataschema is None
    ):
        for name, value, required in (
            ("id", event_id, True),
            ("type", event_type, True),
            ("source", source, True),
            ("subject", subject, False),
            ("datacontenttype", datacontenttype, False),
            ("dataschema", dataschema, False),
        ):
            _string(name, value, required)
    if not extensions.keys() <= _SSJ_EXTENSIONS:
        for name in extensions.keys() - _SSJ_EXTENSIONS:
            if not _EXTENSION_NAME.fullmatch(name):
                raise InvalidCloudEvent(f"extension name {name!r} is not lower-case a-z, 0-9")
    if data is None and data_base64 is not None:
        data = base64.b64decode(data_base64)
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    get = extensions.get
    roles = get("actorroles")
    correlation_id = get("correlationid")
    # The frozen dataclass's __init__ sets each of its 20 fields through
    # object.__setattr__; filling __dict__ at once is several times faster for the same
    # object (consumers build one per message).
    event: InboundEvent = _new(InboundEvent)
    event.__dict__.update(
        id=event_id,
        type=event_type,
        source=source,
        subject=subject or "",
        time=_timestamp(time),
        data=data if type(data) is dict else dict(data or {}),
        actor_sub=str(get("actorsub", "")),
        actor_dept=str(get("actordept", "")),
        correlation_id=event_id if correlation_id is None else str(correlation_id),
        causation_id=get("causationid"),
        traceparent=get("traceparent"),
        aggregate_version=int(get("aggregateversion", 0)),
        stream=stream,
        stream_seq=stream_seq,
        actor_roles=_roles(roles) if roles else (),
        aggregate=str(get("aggregate", "")),
        prev_hash=get("prevhash"),
        datacontenttype=datacontenttype,
        dataschema=dataschema,
        extensions=extensions,
    )
    return event
