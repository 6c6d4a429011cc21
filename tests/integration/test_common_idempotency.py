"""Idempotency-Key middleware of libs/common against real PostgreSQL: the paths the
registry test does not reach (a retry while the first request still runs, failed first
attempts, caller scoping). The app runs in-process; the "slow" handler waits on an event
the test controls, so no timing is guessed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from libs.common.idempotency import DDL, MAX_KEY_LENGTH, IdempotencyMiddleware
from libs.common.service import migrate, open_pool
from tests.support import Infra

SCHEMA = "idemtest"


@dataclass
class Gate:
    """Lets the test hold the first request inside its handler."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0
    fail_first: bool = False


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(infra.settings(SCHEMA), max_size=4)
    await migrate(p, SCHEMA, [DDL])
    yield p
    await p.close()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
async def client(pool: asyncpg.Pool, gate: Gate) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.pool = pool
    app.add_middleware(IdempotencyMiddleware, schema=SCHEMA)

    @app.post("/v1/draws")
    async def execute_draw(body: dict[str, str]) -> JSONResponse:
        gate.calls += 1
        gate.entered.set()
        await gate.release.wait()
        if gate.fail_first and gate.calls == 1:
            return JSONResponse({"detail": "NATS unavailable"}, status_code=503)
        return JSONResponse({"draw": body["batch"], "call": gate.calls}, status_code=201)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _headers(key: str, caller: str = "op-1") -> dict[str, str]:
    return {"Idempotency-Key": key, "Authorization": f"Bearer {caller}"}


async def test_retry_while_the_first_request_runs_is_409_and_later_gets_the_first_answer(
    client: httpx.AsyncClient, gate: Gate
) -> None:
    body = {"batch": "B-2026-01"}
    first = asyncio.create_task(client.post("/v1/draws", json=body, headers=_headers("k-run")))
    await asyncio.wait_for(gate.entered.wait(), 10)

    during = await client.post("/v1/draws", json=body, headers=_headers("k-run"))
    assert during.status_code == 409
    assert during.json()["title"] == "Request in progress"

    gate.release.set()
    answered = await asyncio.wait_for(first, 10)
    assert answered.status_code == 201
    after = await client.post("/v1/draws", json=body, headers=_headers("k-run"))
    assert after.status_code == 201
    assert after.json() == answered.json() == {"draw": "B-2026-01", "call": 1}
    assert after.headers["idempotent-replayed"] == "true"
    assert gate.calls == 1


async def test_failed_first_attempt_is_not_kept_so_the_retry_runs(
    client: httpx.AsyncClient, gate: Gate
) -> None:
    gate.fail_first = True
    gate.release.set()
    body = {"batch": "B-2026-02"}
    failed = await client.post("/v1/draws", json=body, headers=_headers("k-fail"))
    assert failed.status_code == 503
    retried = await client.post("/v1/draws", json=body, headers=_headers("k-fail"))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert gate.calls == 2


async def test_keys_belong_to_the_caller(client: httpx.AsyncClient, gate: Gate) -> None:
    gate.release.set()
    body = {"batch": "B-2026-03"}
    mine = await client.post("/v1/draws", json=body, headers=_headers("k-same", "op-1"))
    theirs = await client.post("/v1/draws", json=body, headers=_headers("k-same", "op-2"))
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert gate.calls == 2


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)], ids=["empty", "too-long"])
async def test_unusable_key_is_400(client: httpx.AsyncClient, gate: Gate, key: str) -> None:
    gate.release.set()
    response = await client.post("/v1/draws", json={"batch": "B"}, headers=_headers(key))
    assert response.status_code == 400
    assert gate.calls == 0
