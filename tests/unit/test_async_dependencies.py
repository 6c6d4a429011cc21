"""Every route's dependencies and handler run on the event loop: FastAPI hands a plain
``def`` to a worker thread on every request (a queue, a wake-up and a hand-back), which
cost the public USCC look-up about a tenth of its time for a function that only reads
``app.state``."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from libs.common.service import create_app

SERVICES = ("registry", "planner", "draw", "results", "disclosure")


def _threaded(dependant: Dependant, route: str) -> list[str]:
    found = []
    call: Any = dependant.call
    if call is not None:
        target = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
        if not inspect.iscoroutinefunction(target):
            found.append(f"{route}: {getattr(call, '__qualname__', call)!r}")
    for sub in dependant.dependencies:
        found += _threaded(sub, route)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_runs_a_plain_function_in_a_thread(service: str) -> None:
    module = __import__(f"services.{service}.main", fromlist=["SPEC"])
    app = create_app(module.SPEC)
    found: list[str] = []
    # Routes of included routers are kept apart since FastAPI 0.16x; no service gives a
    # router dependencies of its own, so each route's own dependant is the whole of it.
    contexts = iter_route_contexts(app.routes)
    routes = [c.original_route for c in contexts if isinstance(c.original_route, APIRoute)]
    assert routes, "no routes found: the check would pass vacuously"
    for route in routes:
        found += _threaded(route.dependant, f"{sorted(route.methods)} {route.path}")
    assert found == []
