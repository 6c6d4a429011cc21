"""Stalls an operator must act on, reported the same way by every relay and consumer.

A relay or consumer that cannot make progress by itself (an event a handler cannot apply,
a message NATS will not carry, a stream that disagrees with the database, a stream that
went backwards) raises an :class:`Alarm` instead of retrying silently. The alarm names
the exact place (stream, sequence, event id, type) and the reason; ``/readyz`` answers 503
with every alarm raised, each is logged once at ERROR when raised, and the Prometheus
gauge ``ssj_stalled`` (labels ``component``, ``reason``) is 1 while it stands, so an
operator can alert on ``ssj_stalled > 0``. Clearing it (the component made progress
again) sets the gauge back to 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

STALLED = Gauge(
    "ssj_stalled",
    "1 while a relay or consumer is stopped on something an operator must resolve",
    ["component", "reason"],
)
RETRIES = Counter(
    "ssj_retries",
    "Failed attempts of a relay or consumer that it retries with backoff",
    ["component"],
)


@dataclass(frozen=True)
class Alarm:
    """Why one relay or consumer stopped: ``reason`` is a stable code for alerting,
    ``message`` says what happened and what to do, ``details`` names the exact place."""

    component: str
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_dict(self) -> dict[str, Any]:
        """The alarm as ``/readyz`` shows it."""
        return {
            "component": self.component,
            "reason": self.reason,
            "message": self.message,
            "details": self.details,
            "since": self.since,
        }


class AlarmSlot:
    """The one alarm a component may have standing at a time."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.current: Alarm | None = None

    def raise_(self, reason: str, message: str, /, **details: Any) -> Alarm:
        """Raise (or replace) the alarm; logs at ERROR when it is new or changed.

        ``reason`` and ``message`` are positional only, so a detail may be called ``reason``
        too (the relay's mismatch alarm names why the stream and database disagree)."""
        alarm = Alarm(self.component, reason, message, details)
        previous = self.current
        if previous is None or (previous.reason, previous.details) != (reason, details):
            log.error("%s stalled [%s]: %s %s", self.component, reason, message, details)
            if previous is not None and previous.reason != reason:
                STALLED.labels(self.component, previous.reason).set(0)
        else:
            alarm = previous  # keep when it was first raised
        self.current = alarm
        STALLED.labels(self.component, reason).set(1)
        return alarm

    def clear(self) -> None:
        """The component made progress again."""
        if self.current is not None:
            log.warning("%s resumed after [%s]", self.component, self.current.reason)
            STALLED.labels(self.component, self.current.reason).set(0)
            self.current = None

    def retried(self) -> None:
        """Count one failed attempt that will be retried."""
        RETRIES.labels(self.component).inc()
