"""``Idempotency-Key`` for writes: a retried request gets the first answer, not a second effect.

Keys are scoped to the caller (hash of the Authorization header) and kept for
``RETENTION``. The same key with a different request body is rejected (422); a retry
while the first request is still running gets 409. Responses with status ≥ 500 are not
kept, so the client may retry them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.problems import MEDIA_TYPE

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETENTION = "24 hours"
MAX_KEY_LENGTH = 200

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.idempotency_keys (
    caller text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status int,
    headers jsonb,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
)
"""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", MEDIA_TYPE.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


class IdempotencyMiddleware:
    """ASGI middleware storing the first response per (caller, key) in the service schema."""

    def __init__(self, app: ASGIApp, schema: str) -> None:
        self.app = app
        self.table = f"{schema}.idempotency_keys"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            await _problem(send, 400, "Bad Request", "Idempotency-Key must be 1-200 characters")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        caller = hashlib.sha256((_header(scope, b"authorization") or "").encode()).hexdigest()[:32]
        digest = hashlib.sha256(
            b"\n".join([scope["method"].encode(), scope["path"].encode(), body])
        ).hexdigest()
        pool: asyncpg.Pool = scope["app"].state.pool
        async with pool.acquire() as conn:
            await conn.execute(
                f"DELETE FROM {self.table} WHERE caller = $1 AND key = $2 "
                f"AND created_at < now() - interval '{RETENTION}'",
                caller,
                key,
            )
            claimed = await conn.fetchval(
                f"""INSERT INTO {self.table} (caller, key, request_hash) VALUES ($1, $2, $3)
                    ON CONFLICT DO NOTHING RETURNING true""",
                caller,
                key,
                digest,
            )
            if not claimed:
                row = await conn.fetchrow(
                    f"SELECT request_hash, status, headers, body FROM {self.table} "
                    "WHERE caller = $1 AND key = $2",
                    caller,
                    key,
                )
        if not claimed:
            await self._replay(row, digest, send)
            return
        await self._first(scope, body, caller, key, pool, send)

    async def _replay(self, row: Any, digest: str, send: Send) -> None:
        if row is None or row["request_hash"] != digest:
            await _problem(
                send, 422, "Idempotency key reused", "this key was used for a different request"
            )
            return
        if row["status"] is None:
            await _problem(send, 409, "Request in progress", "the first request is still running")
            return
        headers = [(k.encode(), v.encode()) for k, v in json.loads(row["headers"])]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": row["status"], "headers": headers})
        await send({"type": "http.response.body", "body": bytes(row["body"])})

    async def _first(
        self, scope: Scope, body: bytes, caller: str, key: str, pool: asyncpg.Pool, send: Send
    ) -> None:
        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"content-length", b"date", b"server")
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            async with pool.acquire() as conn:
                if status >= 500:
                    await conn.execute(
                        f"DELETE FROM {self.table} WHERE caller = $1 AND key = $2", caller, key
                    )
                else:
                    await conn.execute(
                        f"""UPDATE {self.table} SET status = $3, headers = $4, body = $5
                            WHERE caller = $1 AND key = $2""",
                        caller,
                        key,
                        status,
                        json.dumps(headers),
                        b"".join(chunks),
                    )
