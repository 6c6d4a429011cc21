"""The consumer's retry policy on its own: backoff, the poison-event alarm after a bounded
number of attempts, and what clears it."""

from __future__ import annotations

import json

from libs.common.alarms import AlarmSlot
from libs.common.delivery import Delivery
from libs.common.retrying import FAILING, POISON, EventFailed, Retrying


def delivery(seq: int, body: bytes | None = None) -> Delivery:
    event = {
        "specversion": "1.0",
        "id": f"registry:{seq}",
        "source": "/ssj/registry",
        "type": "ssj.registry.item.ItemRegistered.v1",
        "data": {},
    }
    return Delivery(seq, body or json.dumps(event).encode(), "SSJ_REGISTRY", None)


def policy() -> Retrying:
    return Retrying(
        AlarmSlot("consumer:test"), "SSJ_REGISTRY", attempts=3, initial=1.0, maximum=60.0
    )


def test_an_event_is_retried_after_waits_doubling_to_the_cap() -> None:
    retrying = policy()
    bad = EventFailed(delivery(8), ValueError("cannot apply"))
    waits = [retrying.event_failed(bad) for _ in range(9)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_the_alarm_names_the_event_after_the_set_number_of_attempts_and_clears_past_it() -> None:
    retrying = policy()
    bad = EventFailed(delivery(8), ValueError("cannot apply"))
    retrying.event_failed(bad)
    retrying.event_failed(bad)
    assert retrying.alarm.current is None
    retrying.event_failed(bad)
    alarm = retrying.alarm.current
    assert alarm is not None and alarm.reason == POISON
    assert alarm.details == {
        "stream": "SSJ_REGISTRY",
        "stream_seq": 8,
        "event_id": "registry:8",
        "type": "ssj.registry.item.ItemRegistered.v1",
        "error": "ValueError: cannot apply",
    }
    retrying.applied(7)  # events before it do not clear it
    assert retrying.alarm.current is alarm
    retrying.applied(8)
    assert retrying.alarm.current is None and retrying.suspect is None


def test_a_message_that_does_not_parse_is_named_by_what_its_json_holds() -> None:
    retrying = policy()
    broken = delivery(4, json.dumps({"specversion": "1.0", "id": "registry:4"}).encode())
    assert isinstance(broken.event, Exception)
    for _ in range(3):
        retrying.event_failed(EventFailed(broken, broken.event))
    alarm = retrying.alarm.current
    assert alarm is not None
    assert (alarm.details["event_id"], alarm.details["type"]) == ("registry:4", None)


def test_another_event_failing_starts_counting_again() -> None:
    retrying = policy()
    retrying.event_failed(EventFailed(delivery(8), ValueError("x")))
    retrying.event_failed(EventFailed(delivery(8), ValueError("x")))
    assert retrying.event_failed(EventFailed(delivery(9), ValueError("y"))) == 1.0
    assert retrying.suspect == 9 and retrying.alarm.current is None


def test_other_failures_back_off_to_ten_seconds_and_never_hide_a_poison_alarm() -> None:
    retrying = policy()
    waits = [retrying.failed(OSError("connection refused")) for _ in range(6)]
    assert waits == [1, 2, 4, 8, 10, 10]
    failing = retrying.alarm.current
    assert failing is not None and failing.reason == FAILING
    retrying.ok()
    assert retrying.alarm.current is None

    for _ in range(3):
        retrying.event_failed(EventFailed(delivery(8), ValueError("x")))
    for _ in range(3):
        retrying.failed(OSError("connection refused"))
    current = retrying.alarm.current
    assert current is not None and current.reason == POISON
    retrying.ok()  # a pass without failure does not mean the event was applied
    assert retrying.alarm.current is not None
