"""Idempotency-Key middleware of libs/common against real PostgreSQL: a retry while the
first request runs, failed first attempts, principal scoping, the fingerprint, which answers
are kept, who takes part, claims of a killed process, concurrent retries and the purge.

The app (:mod:`tests.integration.idempotency_app`) runs in-process; its command waits on
a gate the test controls, so no timing is guessed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from libs.common.auth import issue_token
from libs.common.idempotency import MAX_KEY_LENGTH
from libs.common.idempotency_table import DDL, purge_expired
from libs.common.infra import free_port
from libs.common.service import migrate, open_pool, purge_idempotency_keys
from libs.common.settings import CommonSettings
from tests.integration.common_app import poll
from tests.integration.idempotency_app import SCHEMA, Gate, build_app
from tests.support import ROOT, Infra

MAX_BODY = 4096
MAX_UPLOAD = 1024 * 1024
TABLE = f"{SCHEMA}.idempotency_keys"


@pytest.fixture(scope="module")
def settings(infra: Infra) -> CommonSettings:
    return infra.settings(SCHEMA).model_copy(
        update={"max_body_bytes": MAX_BODY, "max_upload_bytes": MAX_UPLOAD}
    )


@pytest.fixture(scope="module")
async def pool(settings: CommonSettings) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(settings, max_size=6)
    await migrate(p, SCHEMA, [DDL])
    yield p
    await p.close()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@contextlib.asynccontextmanager
async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def client(
    settings: CommonSettings, pool: asyncpg.Pool, gate: Gate
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, gate)
    app.state.pool = pool
    async with _serve(app) as c:
        yield c


def _token(settings: CommonSettings, sub: str = "op-1", ttl: int = 3600) -> str:
    return issue_token(settings, sub=sub, dept="SAMR", roles=["operator"], ttl_seconds=ttl)


def _headers(settings: CommonSettings, key: str, sub: str = "op-1") -> dict[str, str]:
    return {"Idempotency-Key": key, "Authorization": f"Bearer {_token(settings, sub)}"}


async def _rows(pool: asyncpg.Pool, key: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {TABLE} WHERE key = $1", key))


async def test_retry_while_the_first_request_runs_is_409_and_later_gets_the_first_answer(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    body = {"batch": "B-2026-01"}
    headers = _headers(settings, "k-run")
    first = asyncio.create_task(client.post("/v1/draws", json=body, headers=headers))
    await asyncio.wait_for(gate.entered.wait(), 10)

    during = await client.post("/v1/draws", json=body, headers=headers)
    assert during.status_code == 409
    assert during.headers["content-type"].startswith("application/problem+json")
    assert during.json()["title"] == "Request in progress"

    gate.release.set()
    answered = await asyncio.wait_for(first, 10)
    assert answered.status_code == 201
    after = await client.post("/v1/draws", json=body, headers=headers)
    assert after.status_code == 201
    assert after.json() == answered.json() == {"draw": "B-2026-01", "call": 1, "by": "op-1"}
    assert after.headers["idempotent-replayed"] == "true"
    assert gate.calls == 1


async def test_failed_first_attempt_is_not_kept_so_the_retry_runs(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    gate.statuses[1] = 503
    gate.release.set()
    body = {"batch": "B-2026-02"}
    failed = await client.post("/v1/draws", json=body, headers=_headers(settings, "k-fail"))
    assert failed.status_code == 503
    retried = await client.post("/v1/draws", json=body, headers=_headers(settings, "k-fail"))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert gate.calls == 2


async def test_keys_belong_to_the_principal(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    gate.release.set()
    body = {"batch": "B-2026-03"}
    mine = await client.post("/v1/draws", json=body, headers=_headers(settings, "k-same", "op-1"))
    theirs = await client.post("/v1/draws", json=body, headers=_headers(settings, "k-same", "op-2"))
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert gate.calls == 2


async def test_retry_after_a_token_refresh_replays(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    gate.release.set()
    body = {"batch": "B-2026-04"}
    old, refreshed = _token(settings, ttl=600), _token(settings, ttl=3600)
    assert old != refreshed
    first = await client.post(
        "/v1/draws",
        json=body,
        headers={"Idempotency-Key": "k-refresh", "Authorization": f"Bearer {old}"},
    )
    retry = await client.post(
        "/v1/draws",
        json=body,
        headers={"Idempotency-Key": "k-refresh", "Authorization": f"Bearer {refreshed}"},
    )
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers["idempotent-replayed"] == "true"
    assert gate.calls == 1


async def test_a_token_with_other_roles_replays_nothing(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    gate.release.set()
    body = {"batch": "B-2026-14"}
    first = await client.post("/v1/draws", json=body, headers=_headers(settings, "k-roles"))
    auditor = issue_token(settings, sub="op-1", dept="SAMR", roles=["auditor"])
    retry = await client.post(
        "/v1/draws",
        json=body,
        headers={"Idempotency-Key": "k-roles", "Authorization": f"Bearer {auditor}"},
    )
    assert (first.status_code, retry.status_code) == (201, 403)
    assert "idempotent-replayed" not in retry.headers


async def test_same_key_with_another_query_string_is_422(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    gate.release.set()
    body = {"batch": "B-2026-05"}
    headers = _headers(settings, "k-query")
    first = await client.post("/v1/draws", json=body, headers=headers)
    other = await client.post(
        "/v1/draws", params={"mark_missing": "revoked"}, json=body, headers=headers
    )
    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["title"] == "Idempotency key reused"
    assert gate.calls == 1


@pytest.mark.parametrize("status", [201, 200, 400, 409, 422])
async def test_outcomes_of_the_command_are_kept_and_replayed(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings, status: int
) -> None:
    gate.statuses[1] = status
    gate.release.set()
    body = {"batch": f"B-kept-{status}"}
    headers = _headers(settings, f"k-kept-{status}")
    first = await client.post("/v1/draws", json=body, headers=headers)
    again = await client.post("/v1/draws", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (status, status)
    assert again.headers["idempotent-replayed"] == "true"
    assert gate.calls == 1


@pytest.mark.parametrize("status", [401, 403, 404, 408, 413, 429, 500, 503])
async def test_answers_that_are_not_the_outcome_are_dropped_so_the_retry_runs(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings, pool: asyncpg.Pool, status: int
) -> None:
    gate.statuses[1] = status
    gate.release.set()
    body = {"batch": f"B-dropped-{status}"}
    key = f"k-dropped-{status}"
    first = await client.post("/v1/draws", json=body, headers=_headers(settings, key))
    assert first.status_code == status
    assert await _rows(pool, key) == 0
    retried = await client.post("/v1/draws", json=body, headers=_headers(settings, key))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert gate.calls == 2


async def test_anonymous_write_with_a_key_stores_nothing(
    client: httpx.AsyncClient, gate: Gate, pool: asyncpg.Pool
) -> None:
    headers = {"Idempotency-Key": "k-anonymous"}
    first = await client.post("/v1/public/items", json={"name": "x"}, headers=headers)
    second = await client.post("/v1/public/items", json={"name": "x"}, headers=headers)
    assert (first.json(), second.json()) == ({"call": 1}, {"call": 2})
    assert "idempotent-replayed" not in second.headers
    assert await _rows(pool, "k-anonymous") == 0


async def test_invalid_token_unrouted_path_and_read_store_nothing(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings, pool: asyncpg.Pool
) -> None:
    gate.release.set()
    forged = {"Idempotency-Key": "k-forged", "Authorization": "Bearer not.a.token"}
    response = await client.post("/v1/draws", json={"batch": "B"}, headers=forged)
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"

    nowhere = await client.post("/v1/nowhere", json={}, headers=_headers(settings, "k-nowhere"))
    assert nowhere.status_code == 404
    read = await client.get("/v1/draws/d-1", headers=_headers(settings, "k-read"))
    assert read.status_code == 200
    for key in ("k-forged", "k-nowhere", "k-read"):
        assert await _rows(pool, key) == 0
    assert gate.calls == 0


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)], ids=["empty", "too-long"])
async def test_unusable_key_is_400(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings, key: str
) -> None:
    gate.release.set()
    response = await client.post("/v1/draws", json={"batch": "B"}, headers=_headers(settings, key))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert gate.calls == 0


async def test_body_over_the_limit_is_413_and_stores_nothing(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings, pool: asyncpg.Pool
) -> None:
    gate.release.set()
    big = {"batch": "B" * (MAX_BODY + 1)}
    response = await client.post("/v1/draws", json=big, headers=_headers(settings, "k-big"))
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _rows(pool, "k-big") == 0
    assert gate.calls == 0


async def test_upload_larger_than_the_normal_limit_keeps_its_key(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    # 64 chunks of 4 KiB: past the in-memory limit, so the middleware spools it to a file.
    data = bytes(range(256)) * 16 * 64

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), MAX_BODY):
            yield data[i : i + MAX_BODY]

    headers = _headers(settings, "k-upload")
    first = await client.post("/v1/imports/subjects", content=chunks(), headers=headers)
    again = await client.post("/v1/imports/subjects", content=data, headers=headers)
    expected = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "n": 1}
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json() == expected
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/imports/subjects", content=data[:-1], headers=headers)
    assert other.status_code == 422
    assert gate.uploads == 1


class _PausingConnection:
    """A real connection whose look-ups of a stored key wait until the test lets them go."""

    def __init__(self, conn: asyncpg.Connection, pausing: PausingPool) -> None:
        self._conn = conn
        self._pausing = pausing

    async def fetchrow(self, query: str, *args: Any) -> Any:
        if query.lstrip().upper().startswith("SELECT") and "idempotency_keys" in query:
            self._pausing.waiting += 1
            self._pausing.arrived.set()
            await self._pausing.go_on.wait()
        return await self._conn.fetchrow(query, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class PausingPool:
    """The real pool, handing out :class:`_PausingConnection`; lets a test place the first
    request's end exactly between a retry's failed claim and its look-up."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.arrived = asyncio.Event()
        self.go_on = asyncio.Event()
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[_PausingConnection]:
        async with self.pool.acquire() as conn:
            yield _PausingConnection(conn, self)


async def test_concurrent_retries_of_a_failed_first_request_never_get_a_false_422(
    settings: CommonSettings, pool: asyncpg.Pool, gate: Gate
) -> None:
    pausing = PausingPool(pool)
    app = build_app(settings, gate)
    app.state.pool = pausing
    gate.statuses[1] = 503
    body = {"batch": "B-2026-race"}
    headers = _headers(settings, "k-race")
    async with _serve(app) as c:
        first = asyncio.create_task(c.post("/v1/draws", json=body, headers=headers))
        await asyncio.wait_for(gate.entered.wait(), 10)
        # Both retries fail to claim (the first holds the key) and stop before their look-up.
        retries = [
            asyncio.create_task(c.post("/v1/draws", json=body, headers=headers)) for _ in range(2)
        ]
        await poll(lambda: _waiting(pausing, 2), timeout=10)
        gate.release.set()
        assert (await asyncio.wait_for(first, 10)).status_code == 503
        # The first request's row is gone now; the retries look it up.
        pausing.go_on.set()
        answers = [await asyncio.wait_for(r, 10) for r in retries]
    statuses = sorted(a.status_code for a in answers)
    assert 422 not in statuses, [a.json() for a in answers]
    assert statuses[0] == 201 and set(statuses) <= {201, 409}
    assert gate.calls == 2


async def _waiting(pausing: PausingPool, n: int) -> bool:
    return pausing.waiting >= n


async def _kill_mid_request(
    killable: tuple[subprocess.Popen[bytes], str],
    pool: asyncpg.Pool,
    body: dict[str, str],
    headers: dict[str, str],
    while_alive: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Send the draw to the app's own process, wait until that process holds the key and
    runs the command (its draws never finish), run ``while_alive``, then kill it -9."""
    proc, url = killable

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as probe:
                return (await probe.get(f"{url}/v1/draws/x", headers=headers)).status_code == 200
        except httpx.TransportError:
            return False

    await poll(up, timeout=30)
    async with httpx.AsyncClient(timeout=60) as remote:
        hanging = asyncio.create_task(remote.post(f"{url}/v1/draws", json=body, headers=headers))
        await poll(lambda: _rows(pool, headers["Idempotency-Key"]), timeout=20)
        if while_alive is not None:
            await while_alive()
        proc.kill()
        proc.wait()
        with contextlib.suppress(httpx.TransportError):
            await hanging


async def _retried(
    client: httpx.AsyncClient, body: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    """The first answer to the retry that is not a 409 (the claim still held)."""

    async def answered() -> httpx.Response | None:
        answer = await client.post("/v1/draws", json=body, headers=headers)
        return answer if answer.status_code != 409 else None

    answer = await poll(answered, timeout=20, interval=0.2)
    assert isinstance(answer, httpx.Response)
    return answer


@pytest.fixture(params=["1"])
def killable(
    infra: Infra, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The app as a process of its own, its claim lease ``request.param`` seconds."""
    port = free_port()
    env = infra.env(SSJ_SERVICE=SCHEMA, SSJ_TEST_CLAIM_SECONDS=request.param)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.idempotency_app", str(port)],
        env=env,
        cwd=ROOT,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_claim_of_a_killed_request_lapses_and_the_retry_runs(
    killable: tuple[subprocess.Popen[bytes], str],
    client: httpx.AsyncClient,
    gate: Gate,
    settings: CommonSettings,
    pool: asyncpg.Pool,
) -> None:
    body = {"batch": "B-2026-killed"}
    headers = _headers(settings, "k-killed")

    await _kill_mid_request(killable, pool, body, headers)
    gate.release.set()
    answer = await _retried(client, body, headers)
    assert answer.status_code == 201
    assert answer.json() == {"draw": "B-2026-killed", "call": 1, "by": "op-1"}
    assert gate.calls == 1


@pytest.mark.parametrize("killable", ["60"], indirect=True)
async def test_a_killed_process_frees_its_keys_at_once_not_after_its_lease(
    killable: tuple[subprocess.Popen[bytes], str],
    client: httpx.AsyncClient,
    gate: Gate,
    settings: CommonSettings,
    pool: asyncpg.Pool,
) -> None:
    """A lease of a minute: while the process lives its claim holds (409 in progress);
    killed, its PostgreSQL session ends, and the next retry takes the key over at once."""
    body = {"batch": "B-2026-killed-long"}
    headers = _headers(settings, "k-killed-long")

    gate.release.set()

    async def while_alive() -> None:
        alive = await client.post("/v1/draws", json=body, headers=headers)
        assert (alive.status_code, alive.json()["title"]) == (409, "Request in progress")

    await _kill_mid_request(killable, pool, body, headers, while_alive)
    killed = asyncio.get_running_loop().time()
    answer = await _retried(client, body, headers)
    assert asyncio.get_running_loop().time() - killed < 10  # not the lease's 60 s
    assert answer.status_code == 201
    assert answer.json() == {"draw": "B-2026-killed-long", "call": 1, "by": "op-1"}


async def test_purge_deletes_only_keys_past_retention(pool: asyncpg.Pool) -> None:
    await pool.execute(
        f"""INSERT INTO {TABLE} (caller, key, request_hash, status, body, created_at)
            SELECT 'purge', 'old-' || i, 'h', 201, 'x'::bytea, now() - interval '25 hours'
            FROM generate_series(1, 3) AS i
            UNION ALL SELECT 'purge', 'fresh', 'h', 201, 'x'::bytea, now() - interval '23 hours'"""
    )
    assert await purge_expired(pool, SCHEMA, batch=2) == 3
    left = await pool.fetch(f"SELECT key FROM {TABLE} WHERE caller = 'purge'")
    assert [r["key"] for r in left] == ["fresh"]


async def test_services_purge_expired_keys_in_the_background(pool: asyncpg.Pool) -> None:
    await pool.execute(
        f"""INSERT INTO {TABLE} (caller, key, request_hash, status, body, created_at)
            VALUES ('bg', 'stale', 'h', 201, 'x'::bytea, now() - interval '2 days')"""
    )
    task = asyncio.create_task(purge_idempotency_keys(pool, SCHEMA))
    try:
        await poll(lambda: _gone(pool), timeout=10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _gone(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval(f"SELECT count(*) FROM {TABLE} WHERE caller = 'bg'")


@pytest.fixture
def slow_store(infra: Infra) -> Iterator[str]:
    """The test app as a real HTTP server whose middleware takes 0.5 s to store outcomes."""
    port = free_port()
    env = infra.env(SSJ_SERVICE=SCHEMA, SSJ_TEST_STORE_DELAY="0.5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.idempotency_app", str(port)], env=env, cwd=ROOT
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


async def test_a_retry_sent_the_moment_the_answer_arrives_gets_that_answer(
    slow_store: str, settings: CommonSettings
) -> None:
    """Over a real connection a client has the answer when its last byte arrives; the
    outcome must be stored by then, or the retry finds the key "in progress" (409)."""
    async with httpx.AsyncClient(base_url=slow_store, timeout=10) as http:

        async def up() -> bool:
            try:
                return (await http.get("/v1/draws/x", headers=_headers(settings, "-"))).is_success
            except httpx.TransportError:
                return False

        await poll(up, timeout=30)
        for n in range(3):
            headers = _headers(settings, f"k-quick-{n}")
            body = {"batch": f"B-quick-{n}"}
            first = await http.post("/v1/draws", json=body, headers=headers)
            again = await http.post("/v1/draws", json=body, headers=headers)
            assert first.status_code == 201, first.text
            assert again.status_code == 201, again.text
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json() == first.json()


async def test_a_retry_with_another_precondition_is_another_request(
    client: httpx.AsyncClient, gate: Gate, settings: CommonSettings
) -> None:
    """A PATCH refused for a stale If-Match, retried with the version corrected under the
    same key, is not answered with the stale refusal: it is another request (422)."""
    gate.release.set()
    gate.statuses[1] = 409  # as a command with a stale version answers
    body = {"batch": "B-2026-if-match"}
    headers = _headers(settings, "k-if-match")
    stale = await client.post("/v1/draws", json=body, headers={**headers, "If-Match": '"7"'})
    assert stale.status_code == 409
    again = await client.post("/v1/draws", json=body, headers={**headers, "If-Match": '"7"'})
    assert again.headers["idempotent-replayed"] == "true"  # the same request: replayed
    corrected = await client.post("/v1/draws", json=body, headers={**headers, "If-Match": '"1"'})
    assert corrected.status_code == 422, corrected.text
    assert corrected.json()["title"] == "Idempotency key reused"
    assert gate.calls == 1
