"""Request bodies are judged before anything parses them.

Every write of every service needs a token (tests/access/matrix.py: no anonymous write),
yet FastAPI reads and parses a body before the route's dependencies check who is calling.
This middleware, inside the body-size limit and outside everything else:

- answers **401** to a request that carries a body without a bearer token the service
  accepts, before a byte of the body is read (the file upload paths included: nobody
  anonymous sends 200 MB); the route's own check (roles, department, revocation) still
  runs after;
- answers **422** to a JSON body nested deeper than ``MAX_JSON_DEPTH`` (no request model
  here nests more than a few levels; Python's parser would recurse a thousand deep), found
  by counting brackets outside strings in C and numpy, not by parsing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import numpy as np
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.auth import verify_token
from libs.common.problems import Problem, problem_response
from libs.common.settings import CommonSettings

MAX_JSON_DEPTH = 32
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A JSON string (escapes included): its brackets are text, not nesting. A string that
# never closes runs to the end (the parser refuses it before recursing into it), so each
# byte is scanned once: a required closing quote would rescan from every later quote.
# Written as "unrolled" runs of plain bytes: a pattern that alternates byte by byte took
# longer than parsing the body.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_OPEN_SET = frozenset(b"[{")
SMALL_BRACKETS = 256

# (settings, "Bearer …" header value) → None if the token is accepted, else the reason.
TokenCheck = Callable[[CommonSettings, str], Awaitable[str | None]]


async def bearer_accepted(settings: CommonSettings, header: str) -> str | None:
    """None if ``header`` carries a token this service accepts (signature, issuer,
    audience, lifetime, claims: :func:`libs.common.auth.verify_token`), else why not."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "a bearer token is required"
    try:
        await verify_token(settings, token.strip())
    except Problem as exc:
        return exc.detail or exc.title
    return None


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of ``body`` nest (a bound, for malformed JSON)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    if len(brackets) <= SMALL_BRACKETS:  # numpy's set-up costs more than a loop here
        depth = deepest = 0
        for code in brackets:
            depth += 1 if code in _OPEN_SET else -1
            deepest = max(deepest, depth)
        return deepest
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where(np.isin(codes, _OPEN), 1, -1)
    return int(np.cumsum(steps).max())


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length:
        return length.strip() != "0"
    return "chunked" in _header(scope, b"transfer-encoding").lower()


def _is_json(scope: Scope) -> bool:
    """FastAPI parses a body as JSON when it says so, or says nothing."""
    kind = _header(scope, b"content-type").split(";", 1)[0].strip().lower()
    return not kind or kind == "application/json" or kind.endswith("+json")


class BodyGuardMiddleware:
    """Pure ASGI middleware: a body's sender is authenticated, and its JSON shallow
    enough, before the application reads it."""

    def __init__(
        self, app: ASGIApp, settings: CommonSettings, check_token: TokenCheck | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.check_token = check_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        if self.check_token is not None:
            reason = await self.check_token(self.settings, _header(scope, b"authorization"))
            if reason is not None:
                response = problem_response(Request(scope), 401, "Unauthorized", reason)
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        uploads = self.settings.upload_path_prefixes
        if not _is_json(scope) or any(scope["path"].startswith(p) for p in uploads):
            await self.app(scope, receive, send)
            return
        # JSON bodies are small (the body limit, 2 MB, is outside): read it, judge, replay.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # Nothing nests deeper than it has brackets that open: most bodies are let through
        # on two byte counts.
        openers = body.count(b"[") + body.count(b"{")
        depth = json_depth(body) if openers > MAX_JSON_DEPTH else 0
        if depth > MAX_JSON_DEPTH:
            response = problem_response(
                Request(scope),
                422,
                "Invalid request",
                f"the JSON body nests {depth} levels deep; at most {MAX_JSON_DEPTH}",
                max_depth=MAX_JSON_DEPTH,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A ``receive`` that gives ``messages`` first, then waits on ``then`` (a disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
