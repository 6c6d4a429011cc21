"""The CloudEvents envelope of libs/common: what the relay writes is what consumers read."""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event

from libs.common.envelope import (
    InvalidCloudEvent,
    event_type,
    parse_cloudevent,
    to_cloudevent,
    to_jsonable,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
META = {
    "actor": {"sub": "op-42", "dept": "SAMR", "roles": ["inspector", "operator"]},
    "traceparent": TRACEPARENT,
    "trace_id": "0af7651916cd43dd8448eb211c80319c",
    "correlation_id": "corr-7",
    "causation_id": "registry:12",
}


class Inspection(Aggregate):
    """An inspection with field types the wire must carry (UUID, date, Decimal, tuple)."""

    @event("Scheduled")
    def __init__(
        self, subject_id: uuid.UUID, on: date, ratio: Decimal, inspectors: tuple[str, ...]
    ) -> None:
        self.subject_id = subject_id
        self.on = on

    class Rescheduled(Aggregate.Event):
        """Second version of the event: the type name on the wire says so."""

        class_version = 2
        on: date

        def apply(self, aggregate: Any) -> None:
            aggregate.on = self.on

    @event(Rescheduled)
    def reschedule(self, on: date) -> None:
        """Move the inspection."""


def _events(meta: dict[str, Any] | None = META) -> list[Any]:
    inspection = Inspection(uuid.UUID(int=7), date(2026, 3, 2), Decimal("0.05"), ("i-1", "i-2"))
    inspection.reschedule(date(2026, 4, 1))
    events = list(inspection.collect_events())
    if meta is not None:
        for e in events:
            object.__setattr__(e, "meta", dict(meta))
    return events


def test_round_trip_keeps_type_id_subject_actor_causality_and_trace() -> None:
    scheduled, _ = _events()
    out = to_cloudevent("draw", "t1.ssj.draw", 17, scheduled)
    inbound = parse_cloudevent(out.body, "T1_SSJ_DRAW", 3)

    assert out.msg_id == inbound.id == "draw:17"
    assert inbound.type == "ssj.draw.Scheduled.v1" == event_type("draw", "Scheduled")
    assert (inbound.service, inbound.name) == ("draw", "Scheduled")
    assert inbound.source == "/ssj/draw"
    assert inbound.subject == str(scheduled.originator_id)
    assert inbound.time == scheduled.timestamp
    assert (inbound.actor_sub, inbound.actor_dept) == ("op-42", "SAMR")
    assert (inbound.correlation_id, inbound.causation_id) == ("corr-7", "registry:12")
    assert inbound.traceparent == TRACEPARENT
    assert inbound.aggregate_version == 1
    assert (inbound.stream, inbound.stream_seq) == ("T1_SSJ_DRAW", 3)
    assert inbound.data == {
        "subject_id": str(uuid.UUID(int=7)),
        "on": "2026-03-02",
        "ratio": "0.05",
        "inspectors": ["i-1", "i-2"],
    }


def test_wire_body_is_structured_cloudevents_with_flat_actor_extensions() -> None:
    scheduled, _ = _events()
    out = to_cloudevent("draw", "t1.ssj.draw", 17, scheduled)
    body = json.loads(out.body)
    assert body["specversion"] == "1.0"
    assert body["datacontenttype"] == "application/json"
    assert body["actorsub"] == "op-42"
    assert body["actordept"] == "SAMR"
    assert body["actorroles"] == "inspector,operator"
    assert body["aggregate"] == "Inspection"
    # CloudEvents extension names: lower-case letters and digits only.
    standard = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}
    assert all(k.isalnum() and k.islower() for k in set(body) - standard - {"data"})
    # The eventsourcing bookkeeping travels as envelope attributes, not as data.
    assert not {"originator_id", "originator_version", "timestamp", "meta"} & set(body["data"])


def test_nats_subject_names_prefix_aggregate_and_event() -> None:
    _, rescheduled = _events()
    out = to_cloudevent("draw", "t1.ssj.draw", 18, rescheduled)
    assert out.subject == "t1.ssj.draw.inspection.Rescheduled"
    inbound = parse_cloudevent(out.body)
    assert inbound.aggregate_version == 2
    assert inbound.data == {"on": "2026-04-01"}


def test_event_class_version_is_part_of_the_type_name() -> None:
    _, rescheduled = _events()
    out = to_cloudevent("draw", "ssj.draw", 18, rescheduled)
    assert parse_cloudevent(out.body).type == "ssj.draw.Rescheduled.v2"


def test_publisher_traceparent_replaces_the_stored_one() -> None:
    scheduled, _ = _events()
    publish_span = "00-11111111111111111111111111111111-2222222222222222-01"
    out = to_cloudevent("draw", "ssj.draw", 1, scheduled, traceparent=publish_span)
    assert out.traceparent == publish_span
    assert parse_cloudevent(out.body).traceparent == publish_span


def test_event_without_metadata_is_attributed_to_the_service_and_correlated_to_itself() -> None:
    scheduled, _ = _events(meta=None)
    inbound = parse_cloudevent(to_cloudevent("planner", "ssj.planner", 9, scheduled).body)
    assert inbound.actor_sub == "system:planner"
    assert inbound.correlation_id == inbound.id == "planner:9"
    assert inbound.causation_id is None
    assert inbound.traceparent is None


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (date(2026, 2, 28), "2026-02-28"),
        (datetime(2026, 2, 28, 8, 30, tzinfo=UTC), "2026-02-28T08:30:00+00:00"),
        (time(8, 30), "08:30:00"),
        (Decimal("0.050"), "0.050"),
        ((1, "a", (2,)), [1, "a", [2]]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        (Colour.RED, "red"),
        (Money(Decimal("1.5"), "CNY"), {"amount": "1.5", "currency": "CNY"}),
        ({1: [uuid.UUID(int=2)]}, {"1": ["00000000-0000-0000-0000-000000000002"]}),
        (None, None),
        (True, True),
    ],
    ids=[
        "uuid",
        "date",
        "datetime",
        "time",
        "decimal",
        "tuple",
        "set",
        "frozenset",
        "enum",
        "dataclass",
        "mapping",
        "none",
        "bool",
    ],
)
def test_domain_values_become_json_types(value: Any, expected: Any) -> None:
    converted = to_jsonable(value)
    assert converted == expected
    assert json.loads(json.dumps(converted)) == expected


def test_set_order_on_the_wire_does_not_depend_on_insertion_order() -> None:
    words = ["监督", "抽查", "公开", "检查", "随机"]
    assert to_jsonable(set(words)) == to_jsonable(set(reversed(words)))


def test_values_without_a_wire_form_are_refused() -> None:
    with pytest.raises(TypeError, match="bytes"):
        to_jsonable(b"raw")


def _wire(**changes: Any) -> bytes:
    """A relay-written body of the Scheduled event, with attributes changed or removed."""
    scheduled, _ = _events()
    body = json.loads(to_cloudevent("draw", "ssj.draw", 17, scheduled).body)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body).encode()


def test_every_attribute_and_extension_reaches_the_consumer() -> None:
    scheduled, _ = _events()
    meta = {**META, "prev_hash": "ab" * 32}
    object.__setattr__(scheduled, "meta", meta)
    inbound = parse_cloudevent(to_cloudevent("draw", "ssj.draw", 17, scheduled).body)

    # actorroles was dropped by the consumer side before: it is the actor's roles.
    assert inbound.actor_roles == ("inspector", "operator")
    assert inbound.aggregate == "Inspection"
    assert inbound.prev_hash == "ab" * 32
    assert inbound.datacontenttype == "application/json"
    assert inbound.dataschema is None
    assert inbound.extensions == {
        "aggregate": "Inspection",
        "aggregateversion": 1,
        "actorsub": "op-42",
        "actordept": "SAMR",
        "actorroles": "inspector,operator",
        "correlationid": "corr-7",
        "causationid": "registry:12",
        "traceparent": TRACEPARENT,
        "prevhash": "ab" * 32,
    }


def test_roles_of_an_actor_without_roles_and_of_older_events() -> None:
    assert parse_cloudevent(_wire(actorroles="")).actor_roles == ()
    assert parse_cloudevent(_wire(actorroles=None)).actor_roles == ()
    assert parse_cloudevent(_wire(actorroles="operator")).actor_roles == ("operator",)


def test_unknown_extensions_are_kept_and_dataschema_is_read() -> None:
    inbound = parse_cloudevent(
        _wire(partitionkey="42", dataschema="https://ssj.example/schemas/scheduled.json")
    )
    assert inbound.extensions["partitionkey"] == "42"
    assert inbound.dataschema == "https://ssj.example/schemas/scheduled.json"
    assert inbound.data["on"] == "2026-03-02"


def test_the_parser_reads_what_the_cloudevents_sdk_reads() -> None:
    from cloudevents.core.formats.json import JSONFormat

    scheduled, _ = _events()
    body = to_cloudevent("draw", "ssj.draw", 17, scheduled).body
    sdk = JSONFormat().read(None, body)
    attributes = sdk.get_attributes()
    inbound = parse_cloudevent(body)
    assert (inbound.id, inbound.type, inbound.source, inbound.subject) == (
        attributes["id"],
        attributes["type"],
        attributes["source"],
        attributes["subject"],
    )
    assert inbound.time == attributes["time"]
    assert inbound.data == sdk.get_data()
    standard = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}
    assert dict(inbound.extensions) == {k: v for k, v in attributes.items() if k not in standard}


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2026-03-02T08:30:00Z", datetime(2026, 3, 2, 8, 30, tzinfo=UTC)),
        ("2026-03-02t08:30:00.5z", datetime(2026, 3, 2, 8, 30, 0, 500000, tzinfo=UTC)),
        ("2026-03-02T16:30:00+08:00", datetime(2026, 3, 2, 8, 30, tzinfo=UTC)),
        ("2026-03-02T08:30:00.123456789Z", datetime(2026, 3, 2, 8, 30, 0, 123456, tzinfo=UTC)),
    ],
    ids=["zulu", "lower-case", "offset", "nanoseconds"],
)
def test_rfc3339_times(wire: str, expected: datetime) -> None:
    assert parse_cloudevent(_wire(time=wire)).time == expected


def test_data_in_base64_or_as_a_json_string() -> None:
    data = {"n": 1, "名称": "抽查"}
    encoded = base64.b64encode(json.dumps(data).encode()).decode()
    assert parse_cloudevent(_wire(data=None, data_base64=encoded)).data == data
    assert parse_cloudevent(_wire(data=json.dumps(data))).data == data
    assert parse_cloudevent(_wire(data=None)).data == {}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (_wire() + b" {}", "not JSON"),
        (_wire(specversion="0.3"), "specversion"),
        (_wire(specversion=None), "specversion"),
        (_wire(id=None), "'id'"),
        (_wire(id=""), "'id'"),
        (_wire(type=7), "'type'"),
        (_wire(source=None), "'source'"),
        (_wire(subject=""), "'subject'"),
        (_wire(datacontenttype=""), "'datacontenttype'"),
        (_wire(time="yesterday"), "RFC 3339"),
        (_wire(time="2026-03-02T08:30:00"), "offset"),
        (_wire(time=1), "'time'"),
        (_wire(**{"Actor-Sub": "x"}), "extension name"),
    ],
)
def test_what_is_not_a_cloudevent_is_refused(body: bytes, complaint: str) -> None:
    with pytest.raises(InvalidCloudEvent, match=complaint):
        parse_cloudevent(body)


def test_surrounding_whitespace_is_allowed() -> None:
    assert parse_cloudevent(b"\n " + _wire() + b"\r\n").id == "draw:17"


def test_inbound_events_stay_frozen_dataclasses() -> None:
    body = _wire()
    inbound = parse_cloudevent(body, "SSJ_DRAW", 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inbound.id = "other"  # type: ignore[misc]
    changed = dataclasses.replace(inbound, data={})
    assert (changed.data, changed.id, changed.stream_seq) == ({}, "draw:17", 5)
    assert changed == dataclasses.replace(parse_cloudevent(body, "SSJ_DRAW", 5), data={})
    assert inbound == parse_cloudevent(body, "SSJ_DRAW", 5)
