"""RFC 9457 ``application/problem+json`` errors for every service.

Domain code raises its own exceptions; services register how each maps to a status with
:func:`install_problem_handlers` (``domain_errors``). Validation errors become 422 with the
field path of each error; an optimistic-concurrency conflict of the event store becomes 409.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error the API reports as problem+json."""

    def __init__(self, status: int, title: str, detail: str = "", **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extensions = extensions


def problem_response(
    request: Request, status: int, title: str, detail: str = "", **extensions: Any
) -> JSONResponse:
    """Build the problem+json response."""
    body: dict[str, Any] = {
        "type": f"https://ssj.gov.cn/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "subjects", 3, "uscc") -> "subjects[3].uscc"
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, BaseRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def install_problem_handlers(
    app: FastAPI, domain_errors: Mapping[type[Exception], tuple[int, str]] | None = None
) -> None:
    """Register handlers for Problem, validation, HTTP, conflict and domain errors."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, exc.detail, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field_path(err.get("loc", ())),
                "in": err.get("loc", ("body",))[0],
                "code": err.get("type", "invalid"),
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        return problem_response(
            request, 422, "Validation failed", f"{len(errors)} invalid field(s)", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem_response(request, exc.status_code, str(exc.detail))
        if exc.status_code == 405:
            # RFC 9110: a 405 names the methods the path has (Starlette's names only those
            # of the first route on the path).
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        return problem_response(
            request,
            409,
            "Conflict",
            "the record was changed or created by someone else; reload and retry",
        )

    @app.exception_handler(AggregateNotFoundError)
    async def _missing(request: Request, exc: AggregateNotFoundError) -> JSONResponse:
        return problem_response(request, 404, "Not found", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A defect: the caller learns that, and the trace id to quote; the exception (its
        # text may hold SQL, paths or data) goes to the log and the trace, never the body.
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        trace_id = f"{context.trace_id:032x}" if context.is_valid else ""
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            "Internal error",
            "the service failed on this request; quote the trace id when reporting it",
            trace_id=trace_id,
        )

    for error_type, (status, title) in (domain_errors or {}).items():

        async def _domain(
            request: Request, exc: Exception, status: int = status, title: str = title
        ) -> JSONResponse:
            # A domain error may say which request field it is about (``errors``, as for
            # validation failures) through a ``problem_extensions`` mapping.
            extensions = getattr(exc, "problem_extensions", None) or {}
            return problem_response(request, status, title, str(exc), **extensions)

        app.add_exception_handler(error_type, _domain)
