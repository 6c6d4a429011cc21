"""Development keys stay in development (libs/common/keys.py)."""

from __future__ import annotations

import pytest

from libs.common.keys import DevelopmentKeyRefused, check_keys
from libs.common.settings import DEV_JWT_SECRET, CommonSettings

OWN_SECRET = "a-long-random-secret-of-this-deployment-0123456789abcdef"


def _settings(env: str | None, secret: str = DEV_JWT_SECRET) -> CommonSettings:
    values = {"SSJ_SERVICE": "draw", "SSJ_JWT_SECRET": secret}
    if env is not None:
        values["SSJ_ENV"] = env
    return CommonSettings.model_validate(values)


def test_production_is_the_default_and_refuses_the_development_token_secret() -> None:
    settings = _settings(None)
    assert settings.environment == "production"
    with pytest.raises(DevelopmentKeyRefused, match="SSJ_JWT_SECRET") as refused:
        check_keys(settings, {})
    assert "SSJ_ENV=development" in str(refused.value)


def test_a_service_key_on_its_default_is_refused_by_name() -> None:
    with pytest.raises(DevelopmentKeyRefused) as refused:
        check_keys(_settings("production", OWN_SECRET), {"SSJ_DRAW_KEY": True})
    assert "SSJ_DRAW_KEY" in str(refused.value) and "SSJ_JWT_SECRET" not in str(refused.value)


def test_own_keys_start_in_production() -> None:
    check_keys(_settings("production", OWN_SECRET), {"SSJ_DRAW_KEY": False})


def test_development_may_run_on_development_keys() -> None:
    check_keys(_settings("development"), {"SSJ_DRAW_KEY": True, "SSJ_ID_KEY": True})


def test_an_unknown_environment_is_refused_at_reading() -> None:
    with pytest.raises(ValueError, match="SSJ_ENV"):
        _settings("prod")


@pytest.mark.parametrize("weak", ["", "1", "changeme", "x" * 31])
def test_a_short_key_is_refused_outside_development(weak: str) -> None:
    settings = _settings("production", OWN_SECRET)
    with pytest.raises(DevelopmentKeyRefused, match="SSJ_DRAW_KEY shorter than 32"):
        check_keys(settings, {"SSJ_DRAW_KEY": False}, {"SSJ_DRAW_KEY": len(weak)})
    check_keys(_settings("development"), {"SSJ_DRAW_KEY": False}, {"SSJ_DRAW_KEY": len(weak)})


def test_every_offending_key_is_named_in_one_refusal() -> None:
    """The development defaults (the draw's is also short) and a short own key: the
    operator learns of all three at the first start, not one per restart."""
    settings = _settings("production")
    with pytest.raises(DevelopmentKeyRefused) as refused:
        check_keys(
            settings,
            {"SSJ_DRAW_KEY": True, "SSJ_ID_KEY": False},
            {"SSJ_DRAW_KEY": 26, "SSJ_ID_KEY": 5},
        )
    message = str(refused.value)
    assert "SSJ_DRAW_KEY, SSJ_JWT_SECRET still hold the development default" in message
    assert "SSJ_ID_KEY shorter than 32" in message
    assert "SSJ_DRAW_KEY shorter" not in message
