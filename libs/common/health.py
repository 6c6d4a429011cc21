"""``/healthz`` (the process is alive) and ``/readyz`` (database, NATS, relay and consumer lag)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """Alive as long as the event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, NATS, relay and consumer lag")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, NATS is connected and no lag exceeds the limit."""
    state = request.app.state
    checks: dict[str, Any] = {}
    ready = True
    try:
        async with state.pool.acquire() as conn:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), 2.0)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc}"
        ready = False
    connected = bool(state.nc.is_connected)
    checks["nats"] = "ok" if connected else "disconnected"
    ready = ready and connected
    if connected:
        try:
            checks["relay_lag"] = await state.relay.lag()
            checks["consumer_lag"] = {c.durable: await c.lag() for c in state.consumers}
        except Exception as exc:
            checks["lag"] = f"error: {exc}"
            ready = False
        else:
            worst = max([checks["relay_lag"], *checks["consumer_lag"].values()])
            ready = ready and worst <= request.app.state.settings.ready_max_lag
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
