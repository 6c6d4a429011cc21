"""What each service's OpenAPI document says its answers look like (make fuzz holds the
services to it): every error a problem+json, /metrics text, /readyz its readiness body."""

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
    catches up) alike; /readyz's 503 is its readiness answer, not an error of a request."""
    found = []
    for path, operations in _openapi(service)["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                if status[0] in "45" and path != "/readyz":
                    media = list(answer.get("content", {}))
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
