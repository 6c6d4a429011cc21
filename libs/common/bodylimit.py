"""Request body size limit: a body larger than the service takes is answered 413
(``application/problem+json``) before it is read whole.

A ``Content-Length`` over the limit is refused before the application sees the request (a
client sending ``Expect: 100-continue`` does not even upload it); a chunked body is counted
while it streams and refused as soon as it passes the limit. Paths under one of
``settings.upload_path_prefixes`` (the registry's bulk import) take file uploads and may send
up to ``settings.max_upload_bytes``; every other request ``settings.max_body_bytes``.

This middleware runs outside the idempotency middleware, so that one never holds more than
the limit either.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.problems import problem_response
from libs.common.settings import CommonSettings


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def body_limit(settings: CommonSettings, path: str) -> int:
    """The largest request body, in bytes, that ``path`` takes."""
    if any(path.startswith(prefix) for prefix in settings.upload_path_prefixes):
        return max(settings.max_upload_bytes, settings.max_body_bytes)
    return settings.max_body_bytes


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                # The HTTP server refuses a malformed length itself; count the bytes instead.
                return None
    return None


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        Request(scope),
        413,
        "Content too large",
        f"the request body may be at most {limit} bytes",
        max_bytes=limit,
    )
    await response(scope, receive, send)


class BodyLimitMiddleware:
    """Pure ASGI middleware answering 413 to request bodies over :func:`body_limit`."""

    def __init__(self, app: ASGIApp, settings: CommonSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, receive, send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # FastAPI turns a failed body read into its own 400 "error parsing the
                # body"; the client must hear the real reason, sent below.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if started:
                raise
        if exceeded and not started:
            await _too_large(scope, receive, send, limit)
