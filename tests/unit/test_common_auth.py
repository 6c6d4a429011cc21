"""Bearer JWTs and role checks of libs/common.auth, through a real FastAPI app in-process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from libs.common.auth import (
    CLOCK_LEEWAY_SECONDS,
    Principal,
    decode_token,
    issue_token,
    require_roles,
)
from libs.common.problems import Problem, install_problem_handlers
from libs.common.settings import CommonSettings

SECRET = "unit-test-secret-" + "x" * 32
SETTINGS = CommonSettings.model_validate({"SSJ_JWT_SECRET": SECRET, "SSJ_JWT_ISSUER": "ssj"})


def _raw_token(key: str = SECRET, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "u-1",
        "dept": "SAMR",
        "roles": ["operator"],
        "iss": "ssj",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256")


def test_issued_token_decodes_to_the_same_principal() -> None:
    token = issue_token(SETTINGS, sub="op-1", dept="TAX", roles=["operator", "auditor"])
    principal = decode_token(SETTINGS, token)
    assert principal == Principal(sub="op-1", dept="TAX", roles=frozenset({"operator", "auditor"}))
    assert principal.actor.as_dict() == {
        "sub": "op-1",
        "dept": "TAX",
        "roles": ["auditor", "operator"],
    }


@pytest.mark.parametrize(
    "token",
    [
        _raw_token(key="another-secret-" + "y" * 32),
        _raw_token(exp=int(time.time()) - 5),
        _raw_token(iss="someone-else"),
        _raw_token(iss=None),
        _raw_token(sub=None),
        _raw_token(exp=None),
        _raw_token(roles="operator"),
        "not.a.jwt",
    ],
    ids=[
        "wrong-secret",
        "expired",
        "wrong-issuer",
        "no-issuer",
        "no-subject",
        "no-expiry",
        "roles-not-a-list",
        "garbage",
    ],
)
def test_untrustworthy_token_is_a_401_problem(token: str) -> None:
    with pytest.raises(Problem) as raised:
        decode_token(SETTINGS, token)
    assert raised.value.status == 401
    assert raised.value.title == "Unauthorized"


def test_token_issued_a_few_seconds_in_the_future_is_accepted() -> None:
    # The issuer's clock runs 2 s ahead of ours: its fresh token must not be a 401.
    ahead = int(time.time()) + 2
    principal = decode_token(SETTINGS, _raw_token(iat=ahead, nbf=ahead))
    assert principal.sub == "u-1"


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_token_valid_only_beyond_the_clock_leeway_is_rejected(claim: str) -> None:
    later = int(time.time()) + CLOCK_LEEWAY_SECONDS + 60
    with pytest.raises(Problem, match="not yet valid"):
        decode_token(SETTINGS, _raw_token(iat=later) if claim == "iat" else _raw_token(nbf=later))


def test_expiry_gets_no_leeway() -> None:
    just_expired = _raw_token(exp=int(time.time()) - 1)
    with pytest.raises(Problem, match="expired"):
        decode_token(SETTINGS, just_expired)
    with pytest.raises(Problem, match="integer"):
        decode_token(SETTINGS, _raw_token(exp="soon"))


def test_token_issued_with_a_past_expiry_is_rejected() -> None:
    token = issue_token(SETTINGS, sub="u", dept="X", roles=["office"], ttl_seconds=-1)
    with pytest.raises(Problem, match="expired"):
        decode_token(SETTINGS, token)


def test_unknown_roles_can_be_neither_issued_nor_required() -> None:
    with pytest.raises(ValueError, match="admin"):
        issue_token(SETTINGS, sub="u", dept="X", roles=["admin"])
    with pytest.raises(ValueError, match="admin"):
        require_roles("admin")


def test_office_acts_for_every_department_an_operator_only_for_its_own() -> None:
    office = Principal(sub="o", dept="OFFICE", roles=frozenset({"office"}))
    operator = Principal(sub="p", dept="TAX", roles=frozenset({"operator"}))
    assert office.may_act_for("TAX") and office.may_act_for("SAMR")
    assert operator.may_act_for("TAX")
    assert not operator.may_act_for("SAMR")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    install_problem_handlers(app)

    @app.post("/v1/plans")
    def file_plan(
        principal: Annotated[Principal, Depends(require_roles("office", "operator"))],
    ) -> dict[str, str]:
        return {"sub": principal.sub}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _bearer(*roles: str) -> dict[str, str]:
    token = issue_token(SETTINGS, sub="u-9", dept="SAMR", roles=roles)
    return {"Authorization": f"Bearer {token}"}


async def test_caller_holding_one_of_the_roles_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/plans", headers=_bearer("operator"))
    assert response.status_code == 200
    assert response.json() == {"sub": "u-9"}


async def test_caller_without_any_of_the_roles_gets_403_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/plans", headers=_bearer("inspector", "auditor"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Forbidden"


async def test_request_without_token_gets_401_with_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/plans")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_request_with_a_forged_token_gets_401(client: httpx.AsyncClient) -> None:
    forged = _raw_token(key="forger-" + "z" * 40, roles=["office"])
    response = await client.post("/v1/plans", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert "invalid token" in response.json()["detail"]
