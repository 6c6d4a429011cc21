"""Every status an operation can answer, declared in the OpenAPI document.

Routes declare their own outcomes (200, 201, a 404 of their own). What the shared machinery
can answer on any route is added here, from what each operation is, so no route can forget
it: 401 and 403 where a bearer token is required (``security``), 413 where there is a
request body (the body limit), 400, 404, 409 and 422 on authenticated writes (the
``Idempotency-Key``, a record the command names that does not exist, optimistic
concurrency, the service's domain errors), 404 where a path names a record, 409 and 428
where ``If-Match`` is read, and 422 wherever anything is validated. Every error answer is
``application/problem+json`` (RFC 9457) with the ``Problem`` schema, which is what
:mod:`libs.common.problems` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from libs.common.problems import MEDIA_TYPE

_WRITES = frozenset({"post", "put", "patch", "delete"})
_TITLES = {
    400: "Bad request (e.g. a malformed Idempotency-Key)",
    401: "No valid bearer token",
    403: "The token's role or department may not do this",
    404: "Not found",
    409: "Conflict (state, version, or an Idempotency-Key still in progress)",
    413: "Request body too large",
    422: "Validation failed (problem+json naming each field)",
    428: "If-Match is required",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "instance": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "in": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def statuses_of(operation: Mapping[str, Any], method: str, domain: Iterable[int]) -> set[int]:
    """The statuses the shared machinery can answer for one operation."""
    found: set[int] = set()
    parameters = operation.get("parameters") or []
    secured = bool(operation.get("security"))
    has_body = "requestBody" in operation
    if parameters or has_body:
        found.add(422)
    if secured:
        found |= {401, 403}
    if has_body or method in _WRITES:
        found.add(413)
    if secured and method in _WRITES:
        # A command may name a record that does not exist (AggregateNotFoundError: 404).
        found |= {400, 404, 409, 422, *domain}
    if any(p.get("in") == "path" for p in parameters):
        found.add(404)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        found |= {409, 428}
    return found


def install_openapi(app: FastAPI, domain_statuses: Iterable[int] = ()) -> None:
    """Make ``app.openapi()`` declare the shared statuses on every operation."""
    domain = sorted({s for s in domain_statuses if 400 <= s < 500})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if method not in {"get", "put", "post", "patch", "delete", "head", "options"}:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses_of(operation, method, domain)):
                    title = _TITLES.get(status, "Error")
                    entry = responses.setdefault(str(status), {"description": title})
                    # Every error is problem+json, FastAPI's default 422 body included; a
                    # body a route declares beside it (an import's report) stays.
                    declared = {
                        media: body
                        for media, body in entry.get("content", {}).items()
                        if "HTTPValidationError" not in str(body.get("schema", ""))
                    }
                    entry["content"] = {**declared, **problem}
                for status, entry in responses.items():
                    # An error a route declares without a body (the draw service's 503
                    # while it catches up) is a Problem too.
                    if status[:1] in ("4", "5") and not entry.get("content"):
                        entry["content"] = problem
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
