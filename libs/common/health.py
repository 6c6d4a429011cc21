"""``/healthz`` (the process is alive), ``/readyz`` (database, NATS, relay and consumer lag,
standing alarms) and ``/metrics`` (Prometheus text format).

``/readyz`` answers anyone with its status only (``ready`` 200 / ``not ready`` 503): that
is all a load balancer or an orchestrator needs. Its details (which check failed, lags,
alarms naming streams, positions and event ids) are internals, shown only to a caller
with an office or auditor bearer token.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.common.auth import decode_token
from libs.common.problems import Problem
from libs.common.revocations import refuse_revoked

router = APIRouter(tags=["health"])
# Who sees /readyz's details.
DETAIL_ROLES = frozenset({"office", "auditor"})
# /readyz's answer, ready or not (``checks`` only for DETAIL_ROLES).
READINESS = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not ready"]},
                "checks": {"type": "object"},
            },
        }
    }
}


async def sees_details(request: Request) -> bool:
    """Whether the caller holds a valid, unrevoked office or auditor token (a missing or
    invalid token is no error here: the caller gets the status, like any probe)."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not credentials:
        return False
    try:
        principal = decode_token(request.app.state.settings, credentials)
        if not principal.roles & DETAIL_ROLES:
            return False
        await refuse_revoked(request, principal.jti)
    except Problem:
        return False
    return True


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """Alive as long as the event loop answers."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database, NATS, relay and consumer lag, alarms",
    responses={
        200: {"content": READINESS},
        503: {"description": "Not ready: a check failed or an alarm stands", "content": READINESS},
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, NATS is connected, no lag exceeds the limit and no
    relay or consumer has raised an alarm. ``checks`` (each alarm with where it stopped)
    only for an office or auditor token; anyone else gets ``{"status": …}``."""
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
    alarms = [
        c.alarm.current.as_dict()
        for c in [state.relay, *state.consumers]
        if c.alarm.current is not None
    ]
    if alarms:
        checks["alarms"] = alarms
        ready = False
    answer: dict[str, Any] = {"status": "ready" if ready else "not ready"}
    if await sees_details(request):
        answer["checks"] = checks
    return JSONResponse(answer, status_code=200 if ready else 503)


# Declared as text: the Prometheus exposition format, not JSON.
@router.get(
    "/metrics",
    summary="Prometheus metrics (ssj_stalled, ssj_retries, …)",
    response_class=PlainTextResponse,
)
async def metrics() -> Response:
    """The process's metrics in the Prometheus text format, for alerting."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
