"""OpenTelemetry setup and W3C trace-context propagation through NATS headers.

Spans go to OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces-specific
variable) is set; otherwise they are created but not exported, which keeps trace ids in
event metadata meaningful at no cost.

SQL statements get a span each inside a request (but the public results look-up, whose
one statement the request's span times already). Elsewhere one span says what the work
was (the relay's publish, a consumer's batch, an event-store save) and the statements
under it are not traced (:func:`quiet_statements`): a span costs about as much CPU as the
small statement it times, and a result's projections alone run a dozen of them.
``SSJ_TRACE_STATEMENTS=all`` traces every statement again, for a slow projection's hunt.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None


def setup_tracing(service: str) -> TracerProvider:
    """Install the process-wide tracer provider and the library instrumentations (once)."""
    global _provider
    if _provider is not None:
        return _provider
    resource = Resource.create({"service.name": f"ssj-{service}", "service.namespace": "ssj"})
    provider = TracerProvider(resource=resource)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing: exporting spans over OTLP/HTTP")
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    _provider = provider
    return provider


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    HTTPXClientInstrumentor().instrument()
    AsyncPGInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)


def quiet_statements() -> contextlib.AbstractContextManager[None]:
    """Inside: the SQL statements' own spans are left out (the library instrumentations
    are suppressed; ssj's spans are not), unless ``SSJ_TRACE_STATEMENTS=all``. Background
    loops started inside inherit it (a task or thread copies the context)."""
    if os.environ.get("SSJ_TRACE_STATEMENTS", "").strip().lower() == "all":
        return contextlib.nullcontext()
    return suppress_instrumentation()


def shutdown_tracing() -> None:
    """Flush pending spans (called when a service stops)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def tracer(name: str) -> trace.Tracer:
    """A tracer for ssj's own spans (relay, consumer, domain)."""
    return trace.get_tracer(name)


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Write the current span's ``traceparent`` (and ``tracestate``) into message headers."""
    _propagator.inject(headers)
    return headers


def context_from_headers(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The remote parent carried in NATS message headers."""
    return _propagator.extract(dict(headers or {}))


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    """The parent context named by a stored ``traceparent`` value."""
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})
