"""The wire format: CloudEvents 1.0, structured JSON mode.

Attributes: ``id`` (``<service>:<notification id>``, the same as the ``Nats-Msg-Id``),
``source`` (``/ssj/<service>``), ``type`` (``ssj.<service>.<EventName>.v<N>``), ``subject``
(the aggregate id), ``time``, ``datacontenttype`` and ``data`` (the event's own fields).
Extensions (CloudEvents allows only flat, lower-case names): ``traceparent``, ``actorsub``,
``actordept``, ``actorroles``, ``correlationid``, ``causationid``, ``aggregate``,
``aggregateversion``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
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
    """A CloudEvent as a consumer sees it, with its JetStream position."""

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

    @property
    def name(self) -> str:
        """Event name without service and version, e.g. ``DrawExecuted``."""
        return self.type.split(".")[2]

    @property
    def service(self) -> str:
        """The service that published the event."""
        return self.type.split(".")[1]


def parse_cloudevent(body: bytes, stream: str = "", stream_seq: int = 0) -> InboundEvent:
    """Parse a structured-mode CloudEvent published by any ssj service."""
    event = _FORMAT.read(None, body)
    attrs = event.get_attributes()
    data = event.get_data()
    if isinstance(data, (bytes, str)):
        data = json.loads(data)
    return InboundEvent(
        id=attrs["id"],
        type=attrs["type"],
        source=attrs["source"],
        subject=attrs.get("subject") or "",
        time=attrs.get("time"),
        data=dict(data or {}),
        actor_sub=str(attrs.get("actorsub", "")),
        actor_dept=str(attrs.get("actordept", "")),
        correlation_id=str(attrs.get("correlationid", attrs["id"])),
        causation_id=attrs.get("causationid"),
        traceparent=attrs.get("traceparent"),
        aggregate_version=int(attrs.get("aggregateversion", 0)),
        stream=stream,
        stream_seq=stream_seq,
    )
