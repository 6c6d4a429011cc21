"""RFC 9457 problem+json of libs/common.problems: field paths and the error mappings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI
from pydantic import BaseModel, Field

from libs.common.problems import MEDIA_TYPE, Problem, _field_path, install_problem_handlers


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "subjects", 3, "uscc"), "subjects[3].uscc"),
        (("body", "plan", "batches", 0, "ends_on"), "plan.batches[0].ends_on"),
        (("query", "limit"), "limit"),
        (("path", "code"), "code"),
        (("header", "if-match"), "if-match"),
        (("body", 2, "name"), "[2].name"),
        (("body", "matrix", 1, 0), "matrix[1][0]"),
        (("body",), ""),
        (("subjects", 1), "subjects[1]"),
        ((), ""),
    ],
)
def test_field_path_reads_like_a_json_path(loc: tuple[Any, ...], path: str) -> None:
    assert _field_path(loc) == path


class Batch(BaseModel):
    ends_on: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class PlanIn(BaseModel):
    year: int
    batches: list[Batch]


class PoolEmpty(Exception):
    """A domain error the service maps to a status."""


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app, {PoolEmpty: (422, "Pool empty")})

    @app.post("/v1/plans")
    def file_plan(plan: PlanIn) -> dict[str, int]:
        return {"year": plan.year}

    @app.post("/v1/conflict")
    def conflict() -> None:
        raise IntegrityError("duplicate key")

    @app.get("/v1/missing")
    def missing() -> None:
        raise AggregateNotFoundError("no such aggregate")

    @app.post("/v1/draws")
    def draw() -> None:
        raise PoolEmpty("no subject matches the filters")

    @app.get("/v1/draws")
    def draws() -> list[str]:
        return []

    @app.get("/v1/teapot")
    def teapot() -> None:
        raise Problem(418, "I am a teapot", "short and stout", hint="tip me over")

    @app.get("/v1/defect")
    def defect() -> None:
        raise RuntimeError('SELECT secret FROM registry.subjects_view WHERE x = "/etc/passwd"')

    # raise_app_exceptions=False: what a client sees (the server re-raises to its log).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_validation_error_is_422_naming_each_field_path(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/plans", json={"year": "twenty", "batches": [{"ends_on": "2026-06-30"}, {}]}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body = response.json()
    assert body["instance"] == "/v1/plans"
    assert body["detail"] == "2 invalid field(s)"
    assert {(e["field"], e["in"]) for e in body["errors"]} == {
        ("year", "body"),
        ("batches[1].ends_on", "body"),
    }


async def test_optimistic_concurrency_conflict_is_409(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/conflict")
    assert response.status_code == 409
    assert response.json()["title"] == "Conflict"


async def test_missing_aggregate_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/missing")).status_code == 404


async def test_unknown_route_is_a_problem_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(MEDIA_TYPE)


async def test_a_method_the_path_lacks_is_405_allowing_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    """/v1/draws has a POST route and a GET route of its own: Allow names both."""
    response = await client.request("TRACE", "/v1/draws")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    assert response.headers["allow"] == "GET, POST"


async def test_domain_error_maps_to_its_registered_status_and_title(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/draws")
    assert response.status_code == 422
    assert response.json()["title"] == "Pool empty"
    assert response.json()["detail"] == "no subject matches the filters"


async def test_problem_extensions_are_members_of_the_body(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/teapot")).json()
    assert body["status"] == 418
    assert body["hint"] == "tip me over"
    assert body["type"] == "https://ssj.gov.cn/problems/i-am-a-teapot"


async def test_a_defect_is_a_500_problem_with_no_sql_or_trace_in_its_body(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/v1/defect")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body = response.json()
    assert body["title"] == "Internal error" and "trace_id" in body
    text = response.text
    assert "SELECT" not in text and "passwd" not in text and "Traceback" not in text
    assert "SELECT secret" in caplog.text  # the operators have it, in the log
