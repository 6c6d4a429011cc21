"""Helpers of the input-door tests: send hostile bodies exactly, count stored events."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg

from tests.support import Infra, token


def office(url: str, infra: Infra) -> httpx.Client:
    """A client of ``url`` as the joint-meeting office (writes for every department)."""
    auth = {"Authorization": f"Bearer {token(infra, 'office-door', 'OFFICE', 'office')}"}
    return httpx.Client(base_url=url, headers=auth, timeout=30)


def send(client: httpx.Client, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    """The request with ``body`` as ASCII JSON, so that NUL, lone surrogates and NaN reach
    the service exactly as a hostile client writes them."""
    if body is not None:
        kw["content"] = json.dumps(body).encode()
        kw.setdefault("headers", {})["Content-Type"] = "application/json"
    return client.request(method, path, **kw)


def stored_events(infra: Infra, schema: str) -> int:
    """Events in every event table of the service's schema."""
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name LIKE %s",
            (schema, "%events"),
        ).fetchall()
        return sum(
            conn.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]  # type: ignore[index]
            for (name,) in tables
        )


def assert_refused(response: httpx.Response, field: str) -> None:
    """422 problem+json whose errors name ``field`` (or a part of it)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f == field or f.startswith((field + ".", field + "[")) for f in fields), fields


def register_departments(url: str, infra: Infra, codes: list[str]) -> None:
    """Register departments where the registry keeps a register (201, or 409 if known)."""
    with office(url, infra) as http:
        for code in codes:
            body = {
                "code": code,
                "name": f"黄石市{code}局",
                "level": "city",
                "region_code": "420200",
                "parent": "",
            }
            response = http.post("/v1/departments", json=body)
            assert response.status_code in (201, 409, 404, 405), response.text
