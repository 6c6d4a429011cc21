"""Who is acting and in which trace: the metadata every stored event carries.

The API layer (or a consumer) opens a :func:`command_context`; the event store reads it when
it saves, so domain code never has to pass actors around. Context variables follow
``asyncio.to_thread`` into the worker thread that runs the synchronous application.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


@dataclass(frozen=True)
class Actor:
    """The person or system that caused an event (JWT ``sub``, ``dept``, ``roles``)."""

    sub: str
    dept: str = ""
    roles: tuple[str, ...] = ()

    @classmethod
    def system(cls, service: str) -> Actor:
        """The service itself, acting on its own schedule or on another service's event."""
        return cls(sub=f"system:{service}", dept="", roles=("system",))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form stored in event metadata."""
        return {"sub": self.sub, "dept": self.dept, "roles": list(self.roles)}


@dataclass(frozen=True)
class CommandContext:
    """Actor plus causality of the command being handled."""

    actor: Actor
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None


_current: ContextVar[CommandContext | None] = ContextVar("ssj_command_context", default=None)


@contextlib.contextmanager
def command_context(ctx: CommandContext) -> Iterator[CommandContext]:
    """Make ``ctx`` the context of every event saved inside the block."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def current_context(default_service: str = "ssj") -> CommandContext:
    """The open command context, or the service acting as system."""
    ctx = _current.get()
    return ctx if ctx is not None else CommandContext(actor=Actor.system(default_service))


def current_traceparent() -> str | None:
    """W3C traceparent of the active span, if there is a recording one."""
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def event_metadata(default_service: str = "ssj") -> dict[str, Any]:
    """Metadata dict stored with each event: actor, trace and causality."""
    ctx = current_context(default_service)
    span_ctx = trace.get_current_span().get_span_context()
    return {
        "actor": ctx.actor.as_dict(),
        "traceparent": current_traceparent(),
        "trace_id": format(span_ctx.trace_id, "032x") if span_ctx.is_valid else None,
        "correlation_id": ctx.correlation_id,
        "causation_id": ctx.causation_id,
    }
