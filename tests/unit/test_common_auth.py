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
        "jti": "jti-1",
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


HOUR = 3600
YEAR = 365 * 24 * HOUR


def _refused(token: str) -> str:
    with pytest.raises(Problem) as raised:
        decode_token(SETTINGS, token)
    assert raised.value.status == 401
    return str(raised.value.detail)


def test_a_token_valid_for_a_century_is_refused() -> None:
    now = int(time.time())
    assert "longer than the maximum" in _refused(_raw_token(iat=now, exp=now + 100 * YEAR))
    assert "longer than the maximum" in _refused(_raw_token(iat=now, exp=now + 12 * HOUR + 1))
    assert decode_token(SETTINGS, _raw_token(iat=now, exp=now + 12 * HOUR)).sub == "u-1"


def test_a_token_without_iat_is_refused() -> None:
    now = int(time.time())
    assert "iat" in _refused(_raw_token(iat=None, exp=now + 600))
    assert "iat" in _refused(_raw_token(iat="yesterday"))


def test_the_maximum_lifetime_is_a_setting() -> None:
    short = CommonSettings.model_validate({"SSJ_JWT_SECRET": SECRET, "SSJ_TOKEN_MAX_TTL": "600"})
    now = int(time.time())
    with pytest.raises(Problem, match="maximum of 600 s"):
        decode_token(short, _raw_token(iat=now, exp=now + 601))
    assert decode_token(short, _raw_token(iat=now, exp=now + 600)).sub == "u-1"


def test_issue_token_refuses_a_lifetime_above_the_maximum() -> None:
    with pytest.raises(ValueError, match="SSJ_TOKEN_MAX_TTL"):
        issue_token(SETTINGS, sub="u", dept="SAMR", roles=["operator"], ttl_seconds=100 * YEAR)
    token = issue_token(SETTINGS, sub="u", dept="SAMR", roles=["operator"], ttl_seconds=12 * HOUR)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="ssj")
    assert claims["exp"] - claims["iat"] == 12 * HOUR


@pytest.mark.parametrize(
    "roles",
    [["superadmin"], ["system"], ["operator", "system"], [], None, [None]],
    ids=["superadmin", "system", "one-unknown-among-known", "empty", "missing", "not-strings"],
)
def test_unknown_or_missing_roles_are_refused(roles: object) -> None:
    _refused(_raw_token(roles=roles))


def test_issue_token_refuses_no_roles() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        issue_token(SETTINGS, sub="u", dept="SAMR", roles=[])


@pytest.mark.parametrize("role", ["operator", "inspector", "office", "auditor"])
@pytest.mark.parametrize("dept", ["", None, "None", " ", "samr", "SAMR\n", 7], ids=repr)
def test_a_token_without_a_department_code_is_refused(role: str, dept: object) -> None:
    # None leaves the claim out entirely (missing), "None" is what str(None) used to make.
    assert "dept" in _refused(_raw_token(roles=[role], dept=dept))


def test_issue_token_refuses_an_empty_department() -> None:
    for role in ("operator", "inspector", "office", "auditor"):
        with pytest.raises(ValueError, match="dept"):
            issue_token(SETTINGS, sub="u", dept="", roles=[role])


def test_office_and_auditor_tokens_carry_their_own_unit() -> None:
    office = decode_token(SETTINGS, issue_token(SETTINGS, sub="o", dept="OFFICE", roles=["office"]))
    audit = decode_token(SETTINGS, issue_token(SETTINGS, sub="a", dept="AUDIT", roles=["auditor"]))
    assert (office.dept, audit.dept) == ("OFFICE", "AUDIT")


def test_issued_tokens_carry_a_unique_jti_and_one_without_is_refused() -> None:
    first, second = (
        decode_token(SETTINGS, issue_token(SETTINGS, sub="u", dept="SAMR", roles=["operator"]))
        for _ in range(2)
    )
    assert first.jti and second.jti and first.jti != second.jti
    assert "jti" in _refused(_raw_token(jti=None))
    assert "jti" in _refused(_raw_token(jti=""))
    assert "jti" in _refused(_raw_token(jti="x" * 129))


def test_a_blank_subject_is_refused() -> None:
    assert "sub" in _refused(_raw_token(sub=" "))


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


def test_a_token_header_is_parsed_once_and_only_ordinary_tokens_are_remembered() -> None:
    from libs.common import auth

    auth._cached_header.cache_clear()
    token = issue_token(SETTINGS, sub="op-1", roles=["operator"], dept="SAMR")
    for _ in range(3):
        decode_token(SETTINGS, token)
    assert auth._cached_header.cache_info().hits >= 2
    assert auth._cached_header.cache_info().currsize == 1
    # A header that does not parse is refused every time and never remembered; a token
    # longer than an ordinary one is parsed each time, not kept.
    for _ in range(2):
        with pytest.raises(Problem):
            decode_token(SETTINGS, "e30.not-a-token." + "x" * 10)
    oversized = token + "A" * (auth._HEADER_CACHED_LENGTH + 1)
    with pytest.raises(Problem):
        decode_token(SETTINGS, oversized)
    assert auth._cached_header.cache_info().currsize == 1
