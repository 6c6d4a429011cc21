"""Tracing of what a consumer applies: one CONSUMER span per event, child of its publish
span, or one span per batch linked to every message's publish span (the OpenTelemetry
convention for batch consumption)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from libs.common.delivery import Delivery
from libs.common.envelope import InboundEvent
from libs.common.tracing import context_from_headers, tracer

_tracer = tracer("ssj.consumer")

Handler = Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]
# For bulk read models: one call per batch (e.g. one COPY and one INSERT … SELECT).
BatchHandler = Callable[[asyncpg.Connection, list[InboundEvent]], Awaitable[None]]


def max_links() -> int | None:
    """How many links the SDK keeps on a span (OTEL_SPAN_LINK_COUNT_LIMIT, 128 by
    default; None: unlimited). It keeps the last ones given."""
    return SpanLimits().max_links


def publish_links(fresh: list[Delivery], limit: int | None) -> list[Link]:
    """Links to the messages' publish spans. The SDK keeps only the last ``limit`` links
    given to a span, so only those are built."""
    wanted = len(fresh) if limit is None else limit
    links: list[Link] = []
    for delivery in reversed(fresh):
        if len(links) >= wanted:
            break
        if delivery.traceparent is None:
            continue
        context = trace.get_current_span(context_from_headers(delivery.headers))
        span_context = context.get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    links.reverse()
    return links


async def apply_batch(
    handler: BatchHandler,
    conn: asyncpg.Connection,
    source: str,
    durable: str,
    fresh: list[Delivery],
    events: list[InboundEvent],
    links_limit: int | None,
) -> None:
    """Run a batch handler in one span linked to the messages' publish spans."""
    with _tracer.start_as_current_span(
        f"consume {source} batch", kind=SpanKind.CONSUMER, links=publish_links(fresh, links_limit)
    ) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.consumer.group.name", durable)
        span.set_attribute("messaging.batch.message_count", len(fresh))
        try:
            await handler(conn, events)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))
            raise


async def apply_one(
    handler: Handler,
    conn: asyncpg.Connection,
    durable: str,
    event: InboundEvent,
    delivery: Delivery,
) -> None:
    """Run a handler for one event in a span that is a child of its publish span."""
    with _tracer.start_as_current_span(
        f"consume {event.service}.{event.name}",
        context=context_from_headers(delivery.headers),
        kind=SpanKind.CONSUMER,
    ) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.consumer.group.name", durable)
        span.set_attribute("messaging.message.id", event.id)
        span.set_attribute("messaging.nats.stream_sequence", event.stream_seq)
        try:
            await handler(conn, event)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))
            raise
