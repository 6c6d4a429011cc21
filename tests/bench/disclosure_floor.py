"""The floor of ``make bench-disclosure``'s look-ups: the mandated stack with nothing of ours.

A FastAPI app served by uvicorn (uvloop, httptools, as the services are), the pools the
disclosure service opens (:func:`libs.common.service.open_pool`: first come, first served),
and no middleware, no tracing, no authentication, no validation beyond FastAPI's own of the
query parameters:

- ``GET /row?identifier=``: the cheapest indexed look-up there is, one column of one row
  of ``disclosure.results`` by USCC, as text (``floor_row_*``): what any look-up through
  this stack costs at least on this machine;
- ``GET /results?identifier=`` and ``GET /results?name=&limit=``: the disclosure service's
  own query (:func:`services.disclosure.results_query.find_results_json`) and answer, on
  the bare stack (``floor_uscc_*``, ``floor_name_*``): what the service's layers (security
  headers, body guard, idempotency, problem answers, OpenTelemetry) add, by difference.

Started by the bench as ``python -m uvicorn tests.bench.disclosure_floor:app`` with
``DATABASE_URL``; never part of a deployment.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

from libs.common.service import open_pool
from libs.common.settings import CommonSettings
from services.disclosure.results_query import ResultFilter, find_results_json

LOOKUP_POOL_SIZE = 5  # the disclosure service's lookup_connections


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = CommonSettings.model_validate({"DATABASE_URL": os.environ["DATABASE_URL"]})
    app.state.pool = await open_pool(settings)
    app.state.lookups = await open_pool(
        settings, max_size=LOOKUP_POOL_SIZE, session={"plan_cache_mode": "force_generic_plan"}
    )
    yield
    await app.state.lookups.close()
    await app.state.pool.close()


# FastAPI traces natively when a tracer provider is set; none is here, and none is asked.
app = FastAPI(lifespan=lifespan, openapi_url=None, telemetry={"tracing": False})


@app.get("/row")
async def row(identifier: str) -> Response:
    found = await app.state.pool.fetchval(
        "SELECT record_id::text FROM disclosure.results WHERE subject_identifier = $1 LIMIT 1",
        identifier,
    )
    return Response(f'{{"record_id":"{found}"}}', media_type="application/json")


@app.get("/results")
async def results(
    identifier: str | None = None, name: str | None = None, limit: int = 200
) -> Response:
    page = await find_results_json(
        app.state.pool,
        ResultFilter(identifier=identifier, name=name),
        limit=limit,
        lookups=app.state.lookups,
    )
    return Response(page, media_type="application/json")
