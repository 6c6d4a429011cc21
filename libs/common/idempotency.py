"""``Idempotency-Key`` for writes: a retried request gets the first answer, not a second effect
(after the IETF draft "The Idempotency-Key HTTP Header Field").

- **Who takes part.** Only an authenticated, routed write: a POST, PUT, PATCH or DELETE that a
  route of the app serves, carrying a bearer token :func:`libs.common.auth.decode_token`
  accepts. Anything else (anonymous, an invalid token, a path no route serves, a read) is
  passed on as if it carried no key and leaves no row; the route's own auth answers 401.
- **Scope and fingerprint.** Keys belong to the principal (the token's verified ``sub``,
  ``dept`` and roles; a revoked token takes no part), so a retry with a refreshed token
  replays. The fingerprint is method, path,
  query string, body and preconditions (``If-Match``, ``If-None-Match``); the same key with
  another fingerprint is 422.
- **Claims expire.** The first request claims the key with a lease of :data:`CLAIM_SECONDS`
  that it renews while it runs; a retry meanwhile gets 409. A lease nobody renews (the
  process died mid-request) lapses, and so does at once the claim of a process whose
  PostgreSQL session is gone (:mod:`libs.common.liveness`: a killed process's keys are
  not held for the rest of their lease); the next retry takes the key over and runs, unless
  the dead request had stored events: every save marks its key in the same transaction
  (:mod:`libs.common.idempotency_commit`), and such a retry is told "already carried out".
- **Only outcomes are kept.** 2xx, 400, 409 and 422 (:func:`is_outcome`) are stored and
  replayed with ``Idempotent-Replayed: true``; any other answer (401, 403, 404 from a read
  model not caught up, 408, 413, 429, 5xx) deletes the claim so the retry runs again.
- **Bodies** are read once, within the limit :mod:`libs.common.bodylimit` enforces outside
  this middleware: in memory up to ``settings.max_body_bytes``, in a temporary file beyond
  (uploads to the import paths), so a key works for a 500 MB import without this
  middleware holding the file in memory.
- Rows are kept a day; :func:`libs.common.idempotency_table.purge_expired` (run by the
  service lifespan) deletes older ones, since they hold whole response bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.auth import Principal, decode_token
from libs.common.idempotency_body import SpooledBody
from libs.common.idempotency_commit import Claim, carried_out, holding
from libs.common.idempotency_table import RETENTION_SECONDS, lapsed
from libs.common.problems import Problem, problem_response
from libs.common.revocations import refuse_revoked
from libs.common.settings import CommonSettings

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A claim's lease; its owner renews it every third of this while the request runs.
CLAIM_SECONDS = 60.0
MAX_KEY_LENGTH = 200
# A claim that vanishes between our failed insert and our look-up (its request ended in
# an answer that is not kept) is claimed again; this bounds that loop under contention.
CLAIM_ATTEMPTS = 10
_IN_PROGRESS = ("Request in progress", "the first request with this key is still running")


def is_outcome(status: int) -> bool:
    """Whether an answer is the command's outcome, kept and replayed for the key."""
    return 200 <= status < 300 or status in (400, 409, 422)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _principal(scope: Scope, settings: CommonSettings) -> Principal | None:
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return decode_token(settings, token.strip())
    except Problem:
        return None


def _routed(scope: Scope) -> bool:
    router = getattr(scope.get("app"), "router", None)
    return any(route.matches(scope)[0] is Match.FULL for route in getattr(router, "routes", ()))


async def _problem(scope: Scope, send: Send, status: int, title: str, detail: str) -> None:
    response = problem_response(Request(scope), status, title, detail)
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class IdempotencyMiddleware:
    """ASGI middleware storing the first outcome per (principal, key) in the service schema."""

    def __init__(
        self,
        app: ASGIApp,
        schema: str,
        settings: CommonSettings,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> None:
        self.app = app
        self.schema = schema
        self.table = f"{schema}.idempotency_keys"
        self.settings = settings
        self.claim_seconds = claim_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        principal = None
        if key is not None and scope["method"] in WRITE_METHODS and _routed(scope):
            principal = _principal(scope, self.settings)
            if principal is not None:
                try:  # a revoked token replays nothing: the route answers its 401
                    await refuse_revoked(Request(scope), principal.jti)
                except Problem:
                    principal = None
        if key is None or principal is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            await _problem(
                scope, send, 400, "Bad Request", "Idempotency-Key must be 1-200 characters"
            )
            return
        body = SpooledBody(self.settings.max_body_bytes)
        try:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body.add(message.get("body", b""))
                more = message.get("more_body", False)
            # The roles too: a token of the same person with fewer rights replays nothing.
            principal_id = json.dumps(
                [principal.sub, principal.dept, sorted(principal.roles)]
            ).encode()
            caller = hashlib.sha256(principal_id).hexdigest()[:32]
            # The preconditions too: a PATCH's If-Match is part of what it asks (a retry with
            # the version corrected is another request, not the same one again).
            conditions = [
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name.lower() in (b"if-match", b"if-none-match")
            ]
            fingerprint = json.dumps(
                [
                    scope["method"],
                    scope["path"],
                    scope.get("query_string", b"").decode("latin-1"),
                    body.sha256.hexdigest(),
                    *conditions,
                ]
            )
            digest = hashlib.sha256(fingerprint.encode()).hexdigest()
            pool: asyncpg.Pool = scope["app"].state.pool
            mark = getattr(scope["app"].state, "process_mark", None)
            holder = mark.holder if mark is not None else None
            owner, row = await self._claim(pool, caller, key, digest, holder)
            if owner is not None:
                await self._first(scope, receive, send, body, pool, caller, key, owner)
            elif row is not None:
                await self._replay(scope, send, row, digest)
            else:
                await _problem(scope, send, 409, *_IN_PROGRESS)
        finally:
            body.close()

    async def _claim(
        self, pool: asyncpg.Pool, caller: str, key: str, digest: str, holder: str | None
    ) -> tuple[uuid.UUID | None, Any]:
        """``(owner, None)`` when this request now holds the key, ``(None, row)`` when it is
        answered from the stored row, ``(None, None)`` when contention outlasted the loop.
        ``holder``: the name of this process's mark (:mod:`libs.common.liveness`)."""
        owner = uuid.uuid4()
        async with pool.acquire() as conn:
            for _ in range(CLAIM_ATTEMPTS):
                # Takes a free key, a key past retention, or a claim of this same request
                # whose lease lapsed (its owner died); ON CONFLICT re-checks the WHERE on
                # the locked row, so two retries cannot both take a lapsed claim over.
                claimed = await conn.fetchval(
                    f"""INSERT INTO {self.table} AS t
                            (caller, key, request_hash, owner, lease_until, holder)
                        VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $7)
                        ON CONFLICT (caller, key) DO UPDATE SET
                            request_hash = EXCLUDED.request_hash, owner = EXCLUDED.owner,
                            lease_until = EXCLUDED.lease_until, holder = EXCLUDED.holder,
                            created_at = now(), status = NULL, headers = NULL, body = NULL
                        WHERE t.created_at < now() - make_interval(secs => $6)
                           OR CASE WHEN t.status IS NULL AND t.committed_at IS NULL
                                        AND t.request_hash = EXCLUDED.request_hash
                                   THEN {lapsed("t.")} ELSE false END
                        RETURNING true""",
                    caller,
                    key,
                    digest,
                    owner,
                    self.claim_seconds,
                    RETENTION_SECONDS,
                    holder,
                )
                if claimed:
                    return owner, None
                row = await conn.fetchrow(
                    f"""SELECT request_hash, status, headers, body, committed_at,
                               CASE WHEN status IS NULL THEN {lapsed("")}
                                    ELSE false END AS lapsed
                        FROM {self.table} WHERE caller = $1 AND key = $2""",
                    caller,
                    key,
                )
                # A row gone since the insert (the first request ended with an answer that
                # is not kept) or a lapsed claim of this request that stored nothing is not
                # a different request: claim again.
                if row is None or (
                    row["status"] is None
                    and row["committed_at"] is None
                    and row["lapsed"]
                    and row["request_hash"] == digest
                ):
                    continue
                return None, row
        return None, None

    async def _replay(self, scope: Scope, send: Send, row: Any, digest: str) -> None:
        if row["request_hash"] != digest:
            await _problem(
                scope,
                send,
                422,
                "Idempotency key reused",
                "this key was used for a different request",
            )
            return
        if row["status"] is None:
            if row["committed_at"] is not None and row["lapsed"]:
                # Its events are stored but its owner died before keeping the answer.
                await _problem(scope, send, *carried_out(row["committed_at"]))
            else:
                await _problem(scope, send, 409, *_IN_PROGRESS)
            return
        headers = [(k.encode(), v.encode()) for k, v in json.loads(row["headers"])]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": row["status"], "headers": headers})
        await send({"type": "http.response.body", "body": bytes(row["body"])})

    async def _first(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: SpooledBody,
        pool: asyncpg.Pool,
        caller: str,
        key: str,
        owner: uuid.UUID,
    ) -> None:
        messages = body.messages()

        async def replay_receive() -> Message:
            message = next(messages, None)
            # Once the body is handed over, the real channel only has the disconnect left.
            return message if message is not None else await receive()

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        finished = False
        renewal = asyncio.create_task(self._renew(pool, caller, key, owner))

        async def finish() -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            await self._finish(pool, caller, key, owner, status, headers, b"".join(chunks))

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
                if not message.get("more_body", False):
                    # The outcome is stored before the answer's last byte leaves: a client
                    # that retries the moment it has the answer finds it, never "in
                    # progress".
                    await finish()
            await send(message)

        try:
            with holding(Claim(self.schema, caller, key, owner)):
                await self.app(scope, replay_receive, capture)
        finally:
            if not finished:  # the answer never completed: keep nothing, a retry runs
                status = 500
                await finish()

    async def _renew(self, pool: asyncpg.Pool, caller: str, key: str, owner: uuid.UUID) -> None:
        """Keep the claim's lease alive while this process runs the request."""
        while True:
            await asyncio.sleep(self.claim_seconds / 3)
            try:
                async with pool.acquire() as conn:
                    held = await conn.fetchval(
                        f"""UPDATE {self.table}
                            SET lease_until = now() + make_interval(secs => $4)
                            WHERE caller = $1 AND key = $2 AND owner = $3 AND status IS NULL
                            RETURNING true""",
                        caller,
                        key,
                        owner,
                        self.claim_seconds,
                    )
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("idempotency key claim not renewed (续期失败), retrying: %s", exc)
                continue
            if not held:
                log.warning(
                    "idempotency key %r was taken over by another request while this one "
                    "still ran (its lease lapsed)",
                    key,
                )
                return

    async def _finish(
        self,
        pool: asyncpg.Pool,
        caller: str,
        key: str,
        owner: uuid.UUID,
        status: int,
        headers: list[tuple[str, str]],
        response_body: bytes,
    ) -> None:
        async with pool.acquire() as conn:
            if not is_outcome(status):
                # Dropped so that a retry runs, unless the command stored events before its
                # answer went wrong: then a retry is told it was carried out.
                await conn.execute(
                    f"""DELETE FROM {self.table}
                        WHERE caller = $1 AND key = $2 AND owner = $3 AND committed_at IS NULL""",
                    caller,
                    key,
                    owner,
                )
                await conn.execute(
                    f"""UPDATE {self.table} SET lease_until = NULL
                        WHERE caller = $1 AND key = $2 AND owner = $3""",
                    caller,
                    key,
                    owner,
                )
                return
            kept = await conn.fetchval(
                f"""UPDATE {self.table}
                    SET status = $4, headers = $5, body = $6, lease_until = NULL
                    WHERE caller = $1 AND key = $2 AND owner = $3 RETURNING true""",
                caller,
                key,
                owner,
                status,
                json.dumps(headers),
                response_body,
            )
        if not kept:
            log.warning("idempotency key %r: answer %s not kept, the claim was lost", key, status)
