"""The cache of verified tokens (libs/common/auth.py) never accepts what a fresh
verification would refuse: another secret, issuer or audience, a token past its exp."""

from __future__ import annotations

import pytest

from libs.common import auth
from libs.common.auth import decode_token, issue_token
from libs.common.problems import Problem
from libs.common.settings import CommonSettings

SETTINGS = CommonSettings.model_validate({"SSJ_JWT_SECRET": "s" * 40})


def _token(settings: CommonSettings = SETTINGS, ttl: int = 600) -> str:
    return issue_token(settings, sub="op-1", dept="SAMR", roles=["operator"], ttl_seconds=ttl)


def test_a_token_verified_once_is_answered_from_the_cache() -> None:
    token = _token()
    first = decode_token(SETTINGS, token)
    assert (token, "HS256") in auth._verified_tokens
    assert decode_token(SETTINGS, token) is first


def test_other_settings_verify_again() -> None:
    token = _token()
    decode_token(SETTINGS, token)
    for changed in (
        {"SSJ_JWT_SECRET": "t" * 40},
        {"SSJ_JWT_SECRET": "s" * 40, "SSJ_JWT_ISSUER": "elsewhere"},
        {"SSJ_JWT_SECRET": "s" * 40, "SSJ_JWT_AUDIENCE": "ssj-other"},
    ):
        other = CommonSettings.model_validate(changed)
        with pytest.raises(Problem) as refused:
            decode_token(other, token)
        assert refused.value.status == 401


def test_a_cached_token_past_its_exp_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(ttl=60)
    principal = decode_token(SETTINGS, token)
    later = principal.expires_at + 1.0
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Problem, match="expired"):
        decode_token(SETTINGS, token)


def test_an_entry_lives_at_most_verified_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token()
    decode_token(SETTINGS, token)
    until = auth._verified_tokens[(token, "HS256")][3]
    assert until <= auth.time.time() + auth.VERIFIED_SECONDS
    calls: list[str] = []
    real = auth._check

    def counted(*args: object) -> auth.Principal:
        calls.append("checked")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(auth, "_check", counted)
    now = auth.time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + auth.VERIFIED_SECONDS + 1)
    decode_token(SETTINGS, token)
    assert calls == ["checked"]
