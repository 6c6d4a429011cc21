"""How a consumer retries what failed, and when it tells an operator.

Two kinds of failure:

- **An event it cannot apply** (the handler raises, or the message is no CloudEvent): a
  poison event. It is retried alone, with exponential backoff (``initial`` doubling to
  ``maximum`` seconds), never skipped: a read model never silently misses an event. After
  ``attempts`` failures the alarm ``poison_event`` names the exact event (stream, stream
  sequence, CloudEvent id, type, error) on ``/readyz``, in a log line and in the metric
  ``ssj_stalled``; retries go on at the capped interval, so once the code or the data is
  fixed the consumer resumes from that event by itself and the alarm clears.
- **Everything else** (PostgreSQL or NATS unreachable, a lost pull request, a lost
  lock): retried with the same backoff capped at ``TRANSIENT_MAX_SECONDS``, with the alarm
  ``consumer_failing`` after ``attempts`` failures in a row.

Every failed attempt counts in ``ssj_retries`` (:meth:`AlarmSlot.retried`).
"""

from __future__ import annotations

import logging
from typing import Any

from libs.common.alarms import AlarmSlot
from libs.common.delivery import Delivery

log = logging.getLogger(__name__)

# An outage of PostgreSQL or NATS is retried at least this often, so the consumer is back
# soon after they are.
TRANSIENT_MAX_SECONDS = 10.0
POISON = "poison_event"
FAILING = "consumer_failing"


class EventFailed(Exception):
    """One event could not be applied (its handler raised, or it did not parse)."""

    def __init__(self, delivery: Delivery, error: BaseException) -> None:
        super().__init__(f"stream seq {delivery.stream_seq}: {type(error).__name__}: {error}")
        self.delivery = delivery
        self.error = error


class Retrying:
    """The failures of one consumer since it last made progress."""

    def __init__(
        self,
        alarm: AlarmSlot,
        stream: str,
        *,
        attempts: int,
        initial: float,
        maximum: float,
    ) -> None:
        self.alarm = alarm
        self.stream = stream
        self.attempts = max(1, attempts)
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.suspect: int | None = None  # stream seq of the event that failed last
        self._poison_failures = 0
        self._failures = 0

    def _delay(self, failures: int, cap: float) -> float:
        return float(min(cap, self.initial * 2 ** min(failures - 1, 30)))

    def event_failed(self, failure: EventFailed) -> float:
        """Count a failed attempt at one event; returns how long to wait before the next."""
        delivery = failure.delivery
        if delivery.stream_seq != self.suspect:
            self.suspect, self._poison_failures = delivery.stream_seq, 0
        self._poison_failures += 1
        self.alarm.retried()
        delay = self._delay(self._poison_failures, self.maximum)
        details: dict[str, Any] = {
            "stream": self.stream,
            "stream_seq": delivery.stream_seq,
            "event_id": delivery.event_id,
            "type": delivery.event_type,
            "error": f"{type(failure.error).__name__}: {failure.error}",
            "attempts": self._poison_failures,
        }
        if self._poison_failures >= self.attempts:
            # attempts is left out of the alarm's details so the alarm is logged once.
            self.alarm.raise_(
                POISON,
                "an event cannot be applied (无法处理的事件); nothing after it is applied "
                f"until it is; retrying every {self.maximum:g} s. Fix the handler or the "
                "read model and the consumer resumes from this event",
                **{k: v for k, v in details.items() if k != "attempts"},
            )
        else:
            log.warning(
                "%s: event failed, retrying in %.1f s: %s", self.alarm.component, delay, details
            )
        return delay

    def failed(self, error: BaseException) -> float:
        """Count a failure that is not an event's; returns how long to wait."""
        self._failures += 1
        self.alarm.retried()
        delay = self._delay(self._failures, min(self.maximum, TRANSIENT_MAX_SECONDS))
        log.warning(
            "%s failed (%s: %s); resuming from the committed position in %.1f s",
            self.alarm.component,
            type(error).__name__,
            error,
            delay,
        )
        current = self.alarm.current
        if self._failures >= self.attempts and (current is None or current.reason == FAILING):
            self.alarm.raise_(
                FAILING,
                "the consumer keeps failing (消费者持续失败) and is retrying; see the error "
                "and the database and NATS checks",
                stream=self.stream,
                error=f"{type(error).__name__}: {error}",
            )
        return delay

    def ok(self) -> None:
        """One pass of the loop went through: the failures in a row are over."""
        self._failures = 0
        current = self.alarm.current
        if current is not None and current.reason == FAILING:
            self.alarm.clear()

    def applied(self, up_to: int) -> None:
        """Events up to stream seq ``up_to`` were applied: clear what that resolves."""
        if self.suspect is not None and up_to >= self.suspect:
            self.suspect, self._poison_failures = None, 0
            current = self.alarm.current
            if current is not None and current.reason == POISON:
                self.alarm.clear()
