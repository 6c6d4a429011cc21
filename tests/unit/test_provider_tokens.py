"""Tokens of an external identity provider through libs/common/auth.py: RS256 and ES256
verified against a real JWKS over HTTP (tests/identity_provider.py), the algorithm policy,
audience, expiry, the refetch rate limit, a provider that is down; and through a route."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import Depends, FastAPI

from libs.common.auth import Principal, decode_token, issue_token, require_roles, verify_token
from libs.common.jwks import key_set_for
from libs.common.problems import Problem, install_problem_handlers
from libs.common.settings import CommonSettings
from tests.identity_provider import EC_KEY, RSA_KEY, JwksServer, serving

ISSUER = "https://idp.example.gov.cn/realms/ssj"
AUDIENCE = "ssj-api"
SECRET = "unit-test-secret-" + "x" * 32


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = serving()
    yield server
    server.stop()


def _settings(url: str, **env: str) -> CommonSettings:
    values = {
        "SSJ_JWT_SECRET": SECRET,
        "SSJ_JWT_ISSUER": ISSUER,
        "SSJ_JWKS_URL": url,
        "SSJ_JWT_AUDIENCE": AUDIENCE,
        "SSJ_JWKS_TIMEOUT": "2",
        **env,
    }
    return CommonSettings.model_validate(values)


def _claims(**change: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "zhang.san",
        "dept": "SAMR",
        "roles": ["operator"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        **change,
    }
    return {k: v for k, v in claims.items() if v is not None}


def _signed(key: Any = RSA_KEY, kid: str = "rsa-1", alg: str = "RS256", **change: Any) -> str:
    return jwt.encode(_claims(**change), key, algorithm=alg, headers={"kid": kid})


def _segment(part: dict[str, Any]) -> str:
    raw = json.dumps(part, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256_with_public_key(kid: str = "rsa-1") -> str:
    """The algorithm-confusion forgery: HS256 with the provider's public key (PEM, which
    anyone may download) as the HMAC secret. PyJWT refuses to sign it, so by hand."""
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(_claims())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


async def _refused(settings: CommonSettings, token: str) -> str:
    with pytest.raises(Problem) as raised:
        await verify_token(settings, token)
    assert raised.value.status == 401
    return raised.value.detail


async def test_a_provider_token_signed_rs256_is_accepted(idp: JwksServer) -> None:
    principal = await verify_token(_settings(idp.url), _signed(roles=["operator", "auditor"]))
    assert (principal.sub, principal.dept) == ("zhang.san", "SAMR")
    assert principal.roles == {"operator", "auditor"}


async def test_a_provider_token_signed_es256_is_accepted(idp: JwksServer) -> None:
    principal = await verify_token(_settings(idp.url), _signed(EC_KEY, "ec-1", "ES256"))
    assert principal.sub == "zhang.san"


async def test_the_key_set_is_fetched_once_for_many_tokens(idp: JwksServer) -> None:
    settings = _settings(idp.url)
    for _ in range(5):
        await verify_token(settings, _signed())
    assert idp.hits == 1


async def test_a_token_for_another_audience_is_refused(idp: JwksServer) -> None:
    detail = await _refused(_settings(idp.url), _signed(aud="another-system"))
    assert "audience" in detail.lower()


async def test_a_token_without_an_audience_is_refused(idp: JwksServer) -> None:
    detail = await _refused(_settings(idp.url), _signed(aud=None))
    assert "aud" in detail


async def test_an_expired_provider_token_is_refused(idp: JwksServer) -> None:
    now = int(time.time())
    detail = await _refused(_settings(idp.url), _signed(iat=now - 700, exp=now - 100))
    assert "expired" in detail


async def test_a_token_from_another_issuer_is_refused(idp: JwksServer) -> None:
    await _refused(_settings(idp.url), _signed(iss="https://elsewhere.example"))


async def test_an_unsigned_token_is_refused(idp: JwksServer) -> None:
    unsigned = _segment({"alg": "none", "typ": "JWT", "kid": "rsa-1"}) + "."
    detail = await _refused(_settings(idp.url), unsigned + _segment(_claims()) + ".")
    assert "'none' is not accepted" in detail


@pytest.mark.parametrize("environment", ["production", "development"])
async def test_hs256_signed_with_the_providers_public_key_is_refused(
    idp: JwksServer, environment: str
) -> None:
    # Production refuses HS256 beside a provider; development checks it against the
    # secret, which the public key is not.
    await _refused(_settings(idp.url, SSJ_ENV=environment), _hs256_with_public_key())


async def test_a_token_claiming_another_algorithm_than_its_key_is_refused(
    idp: JwksServer,
) -> None:
    # ES256 in the header, the RSA key's kid: the key decides, and it is RS256.
    forged = _signed(EC_KEY, "rsa-1", "ES256")
    await _refused(_settings(idp.url), forged)


@pytest.mark.parametrize("alg", ["RS512", "PS256", "HS512"])
async def test_algorithms_outside_the_list_are_refused(idp: JwksServer, alg: str) -> None:
    key: Any = RSA_KEY if alg != "HS512" else SECRET * 2
    detail = await _refused(_settings(idp.url), _signed(key, alg=alg))
    assert "is not accepted" in detail


async def test_a_provider_token_without_a_kid_is_refused(idp: JwksServer) -> None:
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256")
    assert "kid" in await _refused(_settings(idp.url), token)


async def test_hs256_beside_a_provider_is_refused_in_production(idp: JwksServer) -> None:
    settings = _settings(idp.url)
    with pytest.raises(ValueError, match="identity provider"):
        issue_token(settings, sub="office-1", dept="OFFICE", roles=["office"])
    token = jwt.encode(_claims(roles=["office"], dept="OFFICE"), SECRET, algorithm="HS256")
    assert "HS256 is not accepted" in await _refused(settings, token)


async def test_hs256_beside_a_provider_is_accepted_in_development_with_the_audience(
    idp: JwksServer,
) -> None:
    settings = _settings(idp.url, SSJ_ENV="development")
    token = issue_token(settings, sub="office-1", dept="OFFICE", roles=["office"])
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == AUDIENCE
    assert (await verify_token(settings, token)).sub == "office-1"
    assert idp.hits == 0  # ssj's own tokens never need the provider


async def test_rs256_without_a_provider_is_refused() -> None:
    settings = CommonSettings.model_validate({"SSJ_JWT_SECRET": SECRET, "SSJ_JWT_ISSUER": ISSUER})
    assert "is not accepted" in await _refused(settings, _signed())


async def test_an_unreachable_provider_is_a_401_and_is_not_asked_again_at_once() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = _settings(f"http://127.0.0.1:{port}/{uuid.uuid4()}/jwks.json")
    detail = await _refused(settings, _signed())
    assert "keys are unavailable" in detail
    assert "127.0.0.1" not in detail  # the log has the error, the caller does not
    await _refused(settings, _signed())
    assert key_set_for(settings).attempts == 1


async def test_a_provider_answering_garbage_is_a_401(idp: JwksServer) -> None:
    idp.document = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "rsa-1"}]}
    assert "unavailable" in await _refused(_settings(idp.url), _signed())


async def test_an_unknown_kid_in_the_window_is_refused_without_asking_the_provider(
    idp: JwksServer,
) -> None:
    settings = _settings(idp.url, SSJ_JWKS_REFETCH="3600")
    await verify_token(settings, _signed())
    invented = [_signed(kid=f"invented-{n}") for n in range(50)]
    details = await asyncio.gather(*(_refused(settings, token) for token in invented))
    assert all("unknown key id" in d for d in details)
    assert idp.hits == 1


async def test_a_flood_of_unknown_kids_before_the_first_fetch_costs_one_fetch(
    idp: JwksServer,
) -> None:
    settings = _settings(idp.url, SSJ_JWKS_REFETCH="3600")
    tokens = [_signed(), *(_signed(kid=f"invented-{n}") for n in range(30))]
    outcomes = await asyncio.gather(
        *(verify_token(settings, t) for t in tokens), return_exceptions=True
    )
    assert isinstance(outcomes[0], Principal)
    assert all(isinstance(o, Problem) and o.status == 401 for o in outcomes[1:])
    assert idp.hits == 1


def test_the_sync_decoder_uses_fetched_keys_only(idp: JwksServer) -> None:
    """decode_token runs on the event loop (idempotency, /readyz): no I/O there."""
    settings = _settings(idp.url)
    with pytest.raises(Problem) as raised:
        decode_token(settings, _signed())
    assert raised.value.status == 401
    # The refusal started a background fetch; once it is in, the same token passes.
    deadline = time.monotonic() + 5
    while idp.hits == 0 or _cached_fails(settings):
        assert time.monotonic() < deadline, "the background fetch never came"
        time.sleep(0.02)
    assert decode_token(settings, _signed()).sub == "zhang.san"


def _cached_fails(settings: CommonSettings) -> bool:
    try:
        decode_token(settings, _signed())
    except Problem:
        return True
    return False


def _app(settings: CommonSettings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    install_problem_handlers(app)

    @app.get("/v1/plans")
    def plans(who: Annotated[Principal, Depends(require_roles("operator"))]) -> dict[str, str]:
        return {"sub": who.sub}

    return app


async def _get(app: FastAPI, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/v1/plans", headers={"Authorization": f"Bearer {token}"})


async def test_a_route_takes_a_provider_token(idp: JwksServer) -> None:
    response = await _get(_app(_settings(idp.url)), _signed(EC_KEY, "ec-1", "ES256"))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "zhang.san"}


async def test_a_route_answers_401_problem_when_the_provider_is_down(idp: JwksServer) -> None:
    idp.stop()
    response = await _get(_app(_settings(idp.url)), _signed())
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "identity provider" in response.json()["detail"]
