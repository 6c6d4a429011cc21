"""Request body limit of libs/common.bodylimit, wired by create_app, driven as raw ASGI so
the test sees exactly how much of a body the service pulled before it answered."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import APIRouter, Request
from starlette.types import ASGIApp, Message

from libs.common.auth import issue_token
from libs.common.bodylimit import body_limit
from libs.common.eventstore import EventStoreApp
from libs.common.service import ServiceSpec, create_app
from libs.common.settings import CommonSettings

LIMIT = 8 * 1024
UPLOAD = 64 * 1024
CHUNK = 1024
SETTINGS = CommonSettings.model_validate(
    {"SSJ_MAX_BODY_BYTES": LIMIT, "SSJ_MAX_UPLOAD_BYTES": UPLOAD}
)

BEARER = f"Bearer {issue_token(SETTINGS, sub='op', dept='OFFICE', roles=['office'])}".encode()

router = APIRouter(prefix="/v1")
handled: list[str] = []


@router.post("/things")
async def create_thing(thing: dict[str, Any]) -> dict[str, int]:
    handled.append("things")
    return {"keys": len(thing)}


@router.post("/raw")
async def take_raw(request: Request) -> dict[str, int]:
    body = await request.body()
    handled.append("raw")
    return {"bytes": len(body)}


@router.post("/imports/{kind}")
async def import_file(kind: str, request: Request) -> dict[str, int]:
    body = await request.body()
    handled.append("imports")
    return {"bytes": len(body)}


APP = create_app(
    ServiceSpec(
        name="limits",
        title="limits",
        description="body limit test",
        application=EventStoreApp,
        routers=[router],
    ),
    SETTINGS,
)


@dataclass
class Exchange:
    """What the client saw of one request."""

    pulled: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


async def _call(
    app: ASGIApp, path: str, chunks: Iterable[bytes], content_length: int | None = None
) -> Exchange:
    seen = Exchange()
    source: Iterator[bytes] = iter(chunks)
    done = False
    # Every body needs a token the service accepts (libs/common/bodyguard.py).
    headers = [(b"content-type", b"application/json"), (b"authorization", BEARER)]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("test", 80),
        "client": ("127.0.0.1", 1234),
    }

    async def receive() -> Message:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        chunk = next(source, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        seen.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen.status = message["status"]
            seen.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            seen.body += message.get("body", b"")

    await app(scope, receive, send)
    return seen


def _pieces(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _assert_413(seen: Exchange, limit: int) -> None:
    assert seen.status == 413
    assert seen.headers["content-type"] == "application/problem+json"
    problem = seen.json()
    assert (problem["status"], problem["title"], problem["max_bytes"]) == (
        413,
        "Content too large",
        limit,
    )


async def test_declared_length_over_the_limit_is_413_before_any_byte_is_read() -> None:
    handled.clear()
    seen = await _call(APP, "/v1/raw", itertools.repeat(b"x" * CHUNK), LIMIT + 1)
    _assert_413(seen, LIMIT)
    assert seen.pulled == 0
    assert handled == []


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/things"], ids=["read-by-route", "parsed"])
async def test_endless_chunked_body_is_413_once_past_the_limit(path: str) -> None:
    handled.clear()
    seen = await _call(APP, path, itertools.repeat(b"x" * CHUNK))
    # "parsed": FastAPI's own answer to a failed body read would be 400; the client must
    # hear the real reason.
    _assert_413(seen, LIMIT)
    assert LIMIT < seen.pulled <= LIMIT + CHUNK
    assert handled == []


async def test_body_within_the_limit_reaches_the_route_whole() -> None:
    handled.clear()
    thing = json.dumps({"name": "x" * (LIMIT - 100)}).encode()
    seen = await _call(APP, "/v1/things", _pieces(thing), len(thing))
    assert (seen.status, seen.json()) == (200, {"keys": 1})
    raw = await _call(APP, "/v1/raw", _pieces(b"y" * LIMIT))
    assert (raw.status, raw.json()) == (200, {"bytes": LIMIT})


async def test_import_paths_take_uploads_up_to_their_own_limit() -> None:
    handled.clear()
    upload = b"z" * (4 * LIMIT)
    seen = await _call(APP, "/v1/imports/subjects", _pieces(upload), len(upload))
    assert (seen.status, seen.json()) == (200, {"bytes": len(upload)})
    chunked = await _call(APP, "/v1/imports/subjects", _pieces(upload))
    assert (chunked.status, chunked.json()) == (200, {"bytes": len(upload)})
    too_big = await _call(APP, "/v1/imports/subjects", itertools.repeat(b"z" * CHUNK))
    _assert_413(too_big, UPLOAD)
    assert handled == ["imports", "imports"]


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = CommonSettings()
    assert (defaults.max_body_bytes, defaults.max_upload_bytes) == (2 * 1024**2, 200 * 1024**2)
    assert body_limit(defaults, "/v1/imports/subjects") == 200 * 1024**2
    assert body_limit(defaults, "/v1/items") == 2 * 1024**2
    monkeypatch.setenv("SSJ_MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("SSJ_MAX_UPLOAD_BYTES", "5000")
    monkeypatch.setenv("SSJ_UPLOAD_PATH_PREFIXES", '["/v1/files/"]')
    settings = CommonSettings()
    assert body_limit(settings, "/v1/files/a") == 5000
    assert body_limit(settings, "/v1/imports/subjects") == 1000
