"""The security headers middleware on a bare ASGI app (issue 11, point 8)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Response

from libs.common.security_headers import (
    API_POLICY,
    DOCS_POLICY,
    SecurityHeadersMiddleware,
    cache_control,
)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/public/draws")
    async def public() -> list[str]:
        return []

    @app.get("/v1/things")
    async def things() -> list[str]:
        return []

    @app.get("/v1/kept")
    async def kept(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "private, max-age=5"
        return {}

    app.add_middleware(SecurityHeadersMiddleware)
    return app


@pytest.mark.parametrize(
    ("method", "path", "authenticated", "expected"),
    [
        ("GET", "/v1/public/draws", False, "public, max-age=60"),
        ("GET", "/v1/public/draws", True, "no-store"),  # a signed-in caller's answer
        ("POST", "/v1/public/items", False, "no-store"),
        ("GET", "/v1/draws/x/proof", False, "no-store"),
        ("GET", "/readyz", False, "no-store"),
    ],
)
def test_only_anonymous_public_lists_may_be_kept(
    method: str, path: str, authenticated: bool, expected: str
) -> None:
    assert cache_control(method, path, authenticated) == expected


async def test_every_answer_gets_the_headers_and_a_route_keeps_its_own_cache_control() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        public = await client.get("/v1/public/draws")
        signed = await client.get("/v1/things", headers={"Authorization": "Bearer t"})
        missing = await client.get("/nowhere")
        kept = await client.get("/v1/kept")
        docs = await client.get("/docs")
    for answer in (public, signed, missing, kept, docs):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    assert public.headers["cache-control"] == "public, max-age=60"
    assert signed.headers["cache-control"] == missing.headers["cache-control"] == "no-store"
    assert kept.headers["cache-control"] == "private, max-age=5"
    assert public.headers["content-security-policy"] == API_POLICY
    assert docs.status_code == 200 and docs.headers["content-security-policy"] == DOCS_POLICY
    assert "https://cdn.jsdelivr.net" in docs.text  # what DOCS_POLICY lets it load
