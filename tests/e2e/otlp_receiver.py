"""A minimal OTLP/HTTP trace receiver for tests: the services export real spans to it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    """The parts of a span the assertions need."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    scope: str = ""  # the instrumentation scope: ssj's own, or a library's


class OtlpReceiver:
    """Listens on 127.0.0.1 and collects every exported span."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest.FromString(body)
                received = []
                for resource_spans in request.resource_spans:
                    attrs = {
                        a.key: a.value.string_value for a in resource_spans.resource.attributes
                    }
                    for scope_spans in resource_spans.scope_spans:
                        scope = scope_spans.scope.name
                        for span in scope_spans.spans:
                            received.append(
                                ReceivedSpan(
                                    service=attrs.get("service.name", ""),
                                    name=span.name,
                                    kind=span.kind,
                                    trace_id=span.trace_id.hex(),
                                    span_id=span.span_id.hex(),
                                    parent_span_id=span.parent_span_id.hex(),
                                    scope=scope,
                                )
                            )
                with receiver._lock:
                    receiver.spans.extend(received)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OtlpReceiver:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """All spans received so far for one trace."""
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def find(self, service: str, name: str) -> list[ReceivedSpan]:
        """Spans of one service with one name."""
        with self._lock:
            return [s for s in self.spans if s.service == service and s.name == name]
