"""The platform account (平台对接账号): a machine's token, alone in its role, calling exactly
libs.common.auth.PLATFORM_OPERATIONS (reads) and refused everything else."""

from __future__ import annotations

from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from libs.common.auth import (
    PLATFORM_OPERATIONS,
    Principal,
    decode_token,
    issue_token,
    require_roles,
)
from libs.common.problems import Problem, install_problem_handlers
from libs.common.settings import CommonSettings
from tests.access.matrix import BY_KEY, RULES

SETTINGS = CommonSettings.model_validate(
    {"SSJ_JWT_SECRET": "unit-test-secret-" + "x" * 32, "SSJ_SERVICE": "draw"}
)


def _platform_token(settings: CommonSettings = SETTINGS) -> str:
    return issue_token(settings, sub="gsxt-national", dept="PLATFORM", roles=["platform"])


def test_a_platform_token_names_the_account_and_the_platform_department() -> None:
    principal = decode_token(SETTINGS, _platform_token())
    assert (principal.sub, principal.dept, principal.roles) == (
        "gsxt-national",
        "PLATFORM",
        {"platform"},
    )


@pytest.mark.parametrize(
    ("dept", "roles"),
    [
        ("PLATFORM", ["platform", "office"]),
        ("PLATFORM", ["platform", "auditor"]),
        ("SAMR", ["platform"]),
    ],
)
def test_a_platform_role_beside_another_or_with_a_department_is_refused(
    dept: str, roles: list[str]
) -> None:
    with pytest.raises(ValueError, match="platform"):
        issue_token(SETTINGS, sub="gsxt-national", dept=dept, roles=roles)
    # Signed by someone who skipped issue_token's checks: the verifier refuses it too.
    office = issue_token(SETTINGS, sub="x", dept="OFFICE", roles=["office"])
    claims = jwt.decode(office, options={"verify_signature": False})
    forged = jwt.encode({**claims, "roles": roles, "dept": dept}, SETTINGS.jwt_secret, "HS256")
    with pytest.raises(Problem) as raised:
        decode_token(SETTINGS, forged)
    assert raised.value.status == 401


def test_the_platform_scope_is_reads_the_access_matrix_lists() -> None:
    assert {rule.key for rule in RULES if rule.platform} == PLATFORM_OPERATIONS
    assert all(method == "GET" for _, method, _ in PLATFORM_OPERATIONS)
    assert all(not BY_KEY[key].public for key in PLATFORM_OPERATIONS)


# Module level: FastAPI resolves the (postponed) annotations from the module's names.
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "auditor"))]
Overseer = Annotated[Principal, Depends(require_roles("office", "auditor"))]
Anyone = Annotated[Principal, Depends(require_roles())]


def _draw_app(service: str) -> FastAPI:
    app = FastAPI()
    app.state.settings = SETTINGS.model_copy(update={"service": service})
    install_problem_handlers(app)

    @app.get("/v1/draws/{draw_id}")
    def get_draw(draw_id: str, who: Reader) -> dict[str, str]:
        return {"id": draw_id, "sub": who.sub}

    @app.post("/v1/draws/{draw_id}")
    def post_draw(draw_id: str, who: Reader) -> dict[str, str]:
        return {"id": draw_id}

    @app.get("/v1/draws/{draw_id}/proof/full")
    def full_proof(draw_id: str, who: Overseer) -> dict[str, str]:
        return {"id": draw_id}

    @app.get("/v1/batches/{batch_id}/draws")
    def batch_draws(batch_id: str, who: Anyone) -> dict[str, str]:
        return {"id": batch_id}

    return app


async def _call(app: FastAPI, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    auth = {"Authorization": f"Bearer {_platform_token()}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, headers=auth)


async def test_a_platform_reads_an_operation_of_its_scope() -> None:
    response = await _call(_draw_app("draw"), "GET", "/v1/draws/d-1")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "d-1", "sub": "gsxt-national"}


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("draw", "GET", "/v1/draws/d-1/proof/full"),  # oversight's, not in the scope
        ("draw", "POST", "/v1/draws/d-1"),  # a write on a path of the scope
        ("draw", "GET", "/v1/batches/b-1/draws"),  # a route open to every role
        ("registry", "GET", "/v1/draws/d-1"),  # the scope names the service too
    ],
)
async def test_a_platform_is_refused_everything_else(service: str, method: str, path: str) -> None:
    response = await _call(_draw_app(service), method, path)
    assert response.status_code == 403
    assert "平台对接账号" in response.json()["detail"]
