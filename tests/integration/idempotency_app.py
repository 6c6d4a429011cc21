"""The app of the Idempotency-Key and body-limit tests, in-process or as a process of its own.

Its command route ``POST /v1/draws`` needs an operator's token and waits on a :class:`Gate`
the test controls, so no timing is guessed; the status of each call can be chosen. There is
also an anonymous write (``POST /v1/public/items``), a read, and an upload route under the
import prefix that answers the length and SHA-256 of the body it got.

``python -m tests.integration.idempotency_app PORT`` serves it with uvicorn on PORT, with its
own pool on ``DATABASE_URL``, its process mark (:mod:`libs.common.liveness`) and a claim
lease of ``SSJ_TEST_CLAIM_SECONDS``; its draws never finish, so the test can kill it
mid-request. With ``SSJ_TEST_STORE_DELAY`` (seconds) its draws
finish at once and the middleware takes that long to store each outcome: the window in
which a client that retries the moment it has its answer must not find the key in progress.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from libs.common.auth import Principal, require_roles
from libs.common.bodylimit import BodyLimitMiddleware
from libs.common.idempotency import CLAIM_SECONDS, IdempotencyMiddleware
from libs.common.idempotency_table import DDL
from libs.common.liveness import ProcessMark
from libs.common.problems import install_problem_handlers
from libs.common.service import migrate, open_pool
from libs.common.settings import CommonSettings

SCHEMA = "idemtest"
Operator = Annotated[Principal, Depends(require_roles("operator", "office"))]


@dataclass
class Gate:
    """Lets the test hold requests inside the command and choose each call's status."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0
    # Status answered by the n-th call (1-based); 201 when not listed.
    statuses: dict[int, int] = field(default_factory=dict)
    public_calls: int = 0
    uploads: int = 0


def build_app(
    settings: CommonSettings,
    gate: Gate,
    claim_seconds: float = CLAIM_SECONDS,
    lifespan: Any = None,
    middleware: type[IdempotencyMiddleware] = IdempotencyMiddleware,
) -> FastAPI:
    """The test app with both middlewares wired as :func:`libs.common.service.create_app`
    wires them; the caller sets ``app.state.pool`` (or passes a lifespan that does)."""
    app = FastAPI(lifespan=lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(middleware, schema=SCHEMA, settings=settings, claim_seconds=claim_seconds)
    app.add_middleware(BodyLimitMiddleware, settings=settings)

    @app.post("/v1/draws")
    async def execute_draw(body: dict[str, str], who: Operator) -> JSONResponse:
        gate.calls += 1
        call = gate.calls
        gate.entered.set()
        await gate.release.wait()
        status = gate.statuses.get(call, 201)
        return JSONResponse(
            {"draw": body.get("batch"), "call": call, "by": who.sub}, status_code=status
        )

    @app.get("/v1/draws/{draw_id}")
    async def read_draw(draw_id: str, who: Operator) -> dict[str, str]:
        return {"draw": draw_id}

    @app.post("/v1/public/items")
    async def publish_item(body: dict[str, str]) -> dict[str, int]:
        gate.public_calls += 1
        return {"call": gate.public_calls}

    @app.post("/v1/imports/{kind}")
    async def import_file(kind: str, request: Request, who: Operator) -> dict[str, Any]:
        data = await request.body()
        gate.uploads += 1
        return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "n": gate.uploads}

    return app


def main() -> None:
    """Serve the app on the port given as the only argument (the kill test's process)."""
    settings = CommonSettings().model_copy(update={"service": SCHEMA})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings, max_size=2)
        await migrate(pool, SCHEMA, [DDL])
        # As the services hold theirs (libs/common/service.py).
        mark = ProcessMark(settings.database_url, claim_seconds)
        await mark.start()
        app.state.pool, app.state.process_mark = pool, mark
        try:
            yield
        finally:
            await mark.stop()
            await pool.close()

    claim_seconds = float(os.environ.get("SSJ_TEST_CLAIM_SECONDS", CLAIM_SECONDS))
    gate, middleware = Gate(), IdempotencyMiddleware
    delay = float(os.environ.get("SSJ_TEST_STORE_DELAY", "0"))
    if delay:
        gate.release.set()

        class SlowStore(IdempotencyMiddleware):
            async def _finish(self, *args: Any) -> None:
                await asyncio.sleep(delay)
                await super()._finish(*args)

        middleware = SlowStore
    app = build_app(settings, gate, claim_seconds, lifespan, middleware)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
