"""What each service's OpenAPI document says its answers look like (make fuzz holds the
services to it): every error a problem+json, /metrics text, /readyz its readiness body,
every JSON success answer its fields."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.problems import MEDIA_TYPE
from libs.common.service import create_app

SERVICES = ("registry", "planner", "draw", "results", "disclosure")


def _openapi(service: str) -> dict[str, Any]:
    module = __import__(f"services.{service}.main", fromlist=["SPEC"])
    return create_app(module.SPEC).openapi()


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_an_operation_declares_is_a_problem(service: str) -> None:
    """Shared statuses and those a route declares itself (the draw service's 503 while it
    catches up) alike; /readyz's 503 is its readiness answer, not an error of a request.
    The one error with a body of its own besides: a rejected import answers its report."""
    found = []
    for path, operations in _openapi(service)["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                if status[0] in "45" and path != "/readyz":
                    media = list(answer.get("content", {}))
                    if (method, path, status) == ("post", "/v1/imports/{kind}", "422"):
                        assert answer["content"]["application/json"]["schema"] == {
                            "$ref": "#/components/schemas/ImportReportView"
                        }
                        media = [m for m in media if m not in ("application/json", "text/csv")]
                    if media != [MEDIA_TYPE]:
                        found.append(f"{method.upper()} {path} {status}: {media}")
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_health_answers_are_declared_as_they_are_sent(service: str) -> None:
    paths = _openapi(service)["paths"]
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    for status in ("200", "503"):
        readiness = paths["/readyz"]["get"]["responses"][status]["content"]["application/json"]
        assert readiness["schema"]["required"] == ["status"]


def _declares_fields(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a schema says what the answer holds: an object with properties (or typed
    values, for a map keyed by data), an array of such, or a scalar type; not ``{}`` nor
    an object of anything."""
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    variants = schema.get("anyOf") or schema.get("oneOf")
    if variants:
        return all(_declares_fields(v, components) for v in variants)
    kind = schema.get("type")
    if kind == "array":
        return _declares_fields(schema.get("items") or {}, components)
    if kind == "object" or (kind is None and "properties" in schema):
        values = schema.get("additionalProperties")
        typed_map = isinstance(values, dict) and _declares_fields(values, components)
        return bool(schema.get("properties")) or typed_map
    return kind is not None


@pytest.mark.parametrize("service", SERVICES)
def test_every_json_success_answer_declares_its_fields(service: str) -> None:
    """make fuzz checks every answer against its schema: an answer declared as ``{}`` or as
    an object of anything would pass whatever the route sent."""
    document = _openapi(service)
    components = document["components"]["schemas"]
    undeclared = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                body = answer.get("content", {}).get("application/json")
                if not status.startswith("2") or body is None:
                    continue
                if not _declares_fields(body.get("schema") or {}, components):
                    undeclared.append(f"{method.upper()} {path} {status}")
    assert undeclared == []
