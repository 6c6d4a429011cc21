"""The CloudEvents envelope: what other platforms receive."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from libs.common.envelope import parse_cloudevent, to_cloudevent, to_jsonable
from tests.integration.ledger import Entry


def _stored_entry() -> Entry.EntryAdded:  # type: ignore[name-defined]
    entry = Entry(7)
    (event,) = entry.collect_events()
    object.__setattr__(
        event,
        "meta",
        {
            "actor": {"sub": "op-1", "dept": "SAMR", "roles": ["operator"]},
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "correlation_id": "corr-1",
            "causation_id": "registry:9",
            "prev_hash": "ab" * 32,
        },
    )
    return event


def test_cloudevent_carries_versioned_type_actor_causality_and_trace() -> None:
    event = _stored_entry()
    out = to_cloudevent("ledger", "t1.ssj.ledger", 42, event)
    body = json.loads(out.body)
    assert out.subject == "t1.ssj.ledger.entry.EntryAdded"
    assert out.msg_id == body["id"] == "ledger:42"
    assert body["specversion"] == "1.0"
    assert body["type"] == "ssj.ledger.EntryAdded.v1"
    assert body["source"] == "/ssj/ledger"
    assert body["subject"] == str(event.originator_id)
    assert body["data"] == {"n": 7}
    assert body["actorsub"] == "op-1" and body["actordept"] == "SAMR"
    assert body["actorroles"] == "operator"
    assert body["correlationid"] == "corr-1" and body["causationid"] == "registry:9"
    assert body["prevhash"] == "ab" * 32
    assert body["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c")


def test_publisher_traceparent_replaces_the_stored_one() -> None:
    tp = "00-11111111111111111111111111111111-2222222222222222-01"
    body = json.loads(to_cloudevent("ledger", "ssj.ledger", 1, _stored_entry(), tp).body)
    assert body["traceparent"] == tp


def test_parse_round_trips_what_the_relay_writes() -> None:
    out = to_cloudevent("ledger", "ssj.ledger", 5, _stored_entry())
    inbound = parse_cloudevent(out.body, "SSJ_LEDGER", 5)
    assert (inbound.name, inbound.service) == ("EntryAdded", "ledger")
    assert inbound.data == {"n": 7}
    assert inbound.actor_sub == "op-1"
    assert inbound.aggregate_version == 1
    assert inbound.stream_seq == 5


def test_domain_values_become_json() -> None:
    u = uuid.uuid4()
    value = {
        "u": u,
        "d": date(2026, 3, 1),
        "t": datetime(2026, 3, 1, tzinfo=UTC),
        "m": Decimal("0.05"),
        "s": {2, 1},
        "l": (1, "a"),
    }
    assert to_jsonable(value) == {
        "u": str(u),
        "d": "2026-03-01",
        "t": "2026-03-01T00:00:00+00:00",
        "m": "0.05",
        "s": [1, 2],
        "l": [1, "a"],
    }


def test_unknown_values_are_refused_rather_than_guessed() -> None:
    with pytest.raises(TypeError):
        to_jsonable(object())
