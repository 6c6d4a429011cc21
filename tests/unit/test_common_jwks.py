"""The identity provider's key set (libs/common/jwks.py): rotation by ``kid``, the refetch
rate limit, refreshing an old set, keys unfit to sign; and the settings that refuse a
provider set up half. A real JWKS over HTTP (tests/identity_provider.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from libs.common.jwks import KeySet, KeyUnavailable
from libs.common.settings import CommonSettings
from tests.identity_provider import EC_KEY, ROTATED_KEY, RSA_KEY, JwksServer, jwk_of, serving

AUDIENCE = "ssj-api"


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    server = serving()
    yield server
    server.stop()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_rotated_key_is_fetched_once_then_the_window_holds(idp: JwksServer) -> None:
    clock = Clock()
    keys = KeySet(idp.url, refetch_seconds=30, max_age_seconds=300, clock=clock)
    assert (await keys.key("rsa-1")).key_id == "rsa-1"
    # The provider rotates: a new key beside the old one.
    idp.document["keys"].append(jwk_of(ROTATED_KEY, "rsa-2"))
    clock.now += 31
    assert (await keys.key("rsa-2")).key_id == "rsa-2"
    assert idp.hits == 2
    # A second unknown kid within the window: refused, the provider is not asked.
    clock.now += 5
    with pytest.raises(KeyUnavailable, match="unknown key id 'rsa-3'"):
        await keys.key("rsa-3")
    assert idp.hits == 2


async def test_an_old_key_set_is_refreshed_and_a_withdrawn_key_stops_verifying(
    idp: JwksServer,
) -> None:
    clock = Clock()
    keys = KeySet(idp.url, refetch_seconds=30, max_age_seconds=300, clock=clock)
    await keys.key("rsa-1")
    idp.document = {"keys": [jwk_of(ROTATED_KEY, "rsa-2")]}
    clock.now += 301
    # Still held: answered at once, while a refresh runs in the background.
    assert (await keys.key("rsa-1")).key_id == "rsa-1"
    for _ in range(250):
        if keys.cached("rsa-2") is not None:
            break
        await asyncio.sleep(0.02)
    assert keys.cached("rsa-1") is None
    assert idp.hits == 2


async def test_a_failed_refresh_keeps_the_keys_held(idp: JwksServer) -> None:
    clock = Clock()
    keys = KeySet(idp.url, refetch_seconds=30, max_age_seconds=300, clock=clock)
    await keys.key("rsa-1")
    idp.stop()
    clock.now += 31
    with pytest.raises(KeyUnavailable, match="unknown key id"):
        await keys.key("rsa-9")  # the refetch fails
    assert (await keys.key("rsa-1")).key_id == "rsa-1"


async def test_keys_unfit_to_sign_are_ignored(idp: JwksServer) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p384 = ec.generate_private_key(ec.SECP384R1())
    idp.document = {
        "keys": [
            jwk_of(RSA_KEY, "rsa-enc", use="enc"),
            jwk_of(small, "rsa-1024"),
            jwk_of(p384, "ec-384"),
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "kid": "oct-1"},
            jwk_of(EC_KEY, "ec-1"),
        ]
    }
    keys = KeySet(idp.url, refetch_seconds=0)
    assert (await keys.key("ec-1")).algorithm_name == "ES256"
    for kid in ("rsa-enc", "rsa-1024", "ec-384", "oct-1"):
        assert keys.cached(kid) is None, kid


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SSJ_JWKS_URL": "https://idp.example.gov.cn/jwks"}, "SSJ_JWT_AUDIENCE"),
        ({"SSJ_JWKS_URL": "http://idp.example.gov.cn/jwks", "SSJ_JWT_AUDIENCE": "a"}, "https"),
        ({"SSJ_JWKS_URL": "file:///etc/jwks.json", "SSJ_JWT_AUDIENCE": "a"}, "http(s)"),
    ],
)
def test_a_provider_set_up_half_refuses_to_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CommonSettings.model_validate(env)


def test_a_provider_over_https_or_on_this_machine_starts() -> None:
    for url in ("https://idp.example.gov.cn/jwks", "http://127.0.0.1:8080/jwks"):
        CommonSettings.model_validate({"SSJ_JWKS_URL": url, "SSJ_JWT_AUDIENCE": AUDIENCE})
