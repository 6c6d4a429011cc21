"""Request bodies of commands: bounded so that the event a command records fits the wire.

The relay publishes each event as one NATS message (1 MiB by default) of ASCII JSON: a
CJK character takes 6 bytes there, an astral one (emoji, CJK Extension B) 12. Every field
and list of a command has its own realistic limit, but many fields at their limits add up;
so a command's body is also measured as the relay will encode it, and refused (422) above
:data:`MAX_COMMAND_BYTES`, before anything is stored, the error naming its largest field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

# A quarter of what NATS carries: room for the envelope, the actor and trace headers and for
# what the domain adds to the command's fields (a plan copies its items' names).
MAX_COMMAND_BYTES = 256 * 1024


# Instants a command may name: PostgreSQL's timestamptz keeps offsets up to ±15:59 only and
# years far from now are typos; ISO 8601 allows ±23:59 and pydantic years 1-9999.
INSTANT_YEARS = (2000, 2100)


def _utc_instant(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+00:01 lies before year 1 in UTC
        raise ValueError(
            f"must lie between the years {INSTANT_YEARS[0]} and {INSTANT_YEARS[1]}"
        ) from exc
    if not INSTANT_YEARS[0] <= value.year <= INSTANT_YEARS[1]:
        raise ValueError(f"must lie between the years {INSTANT_YEARS[0]} and {INSTANT_YEARS[1]}")
    return value


# A moment with its time zone, stored in UTC whatever offset the client wrote (an offset
# of +23:00 is valid ISO 8601 but stopped every read model that put it in a timestamptz).
Instant = Annotated[AwareDatetime, AfterValidator(_utc_instant)]


def wire_size(value: Any) -> int:
    """Bytes of ``value`` as the relay writes it (``json.dumps``: ASCII, ``\\u`` escapes)."""
    return len(json.dumps(value, separators=(",", ":")))


class Part(BaseModel):
    """A part of a request body (a finding, a sub-item): unknown fields are refused.

    A client's typo (``"departmnet"``) is a 422 naming the field, never a silently ignored
    change that the client believes was made.
    """

    model_config = ConfigDict(extra="forbid")


class Command(Part):
    """A request body that becomes an event: at most :attr:`max_bytes` on the wire; like
    every :class:`Part`, unknown fields are refused (422 naming them)."""

    max_bytes: ClassVar[int] = MAX_COMMAND_BYTES

    @model_validator(mode="after")
    def _fits_one_message(self) -> Command:
        fields = self.model_dump(mode="json")
        size = wire_size(fields)
        if size > self.max_bytes:
            # Reported on the largest field, so that the 422 names what to shorten.
            largest = max(fields, key=lambda k: wire_size(fields[k]))
            error = PydanticCustomError(
                "event_too_large",
                "the command would take {size} bytes as an event, at most {limit}; "
                "its largest field, {field}, takes {part}",
                {
                    "size": size,
                    "limit": self.max_bytes,
                    "field": largest,
                    "part": wire_size(fields[largest]),
                },
            )
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type=error, loc=(largest,), input=getattr(self, largest))],
            )
        return self
