"""Development keys stay in development.

Every key a service holds has a development default so that `make run` and the tests work
on a fresh machine: the token secret (``SSJ_JWT_SECRET``), the draw's sealing key
(``SSJ_DRAW_KEY``), the registry's id key (``SSJ_ID_KEY``). Those defaults are public (they
are in this repository), so a deployment running on one can be impersonated, or its draws
unsealed or its private ids recovered, by anyone. A service therefore refuses to start on
a development key unless ``SSJ_ENV=development`` says it is one (`make run` and the tests
set it); production is the default.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from libs.common.settings import DEV_JWT_SECRET, CommonSettings

log = logging.getLogger(__name__)

DEVELOPMENT = "development"
# A key shorter than this is guessable ("", "1", "changeme"): refused outside development.
MIN_KEY_LENGTH = 32


class DevelopmentKeyRefused(RuntimeError):
    """A development key outside development."""


def check_keys(
    settings: CommonSettings,
    service_keys: Mapping[str, bool],
    lengths: Mapping[str, int] | None = None,
) -> None:
    """Refuse to start (outside development) when a key is its development default, or
    shorter than :data:`MIN_KEY_LENGTH`.

    ``service_keys``: the service's own keys, variable name → whether it holds the
    development default; ``lengths``: their lengths. The token secret is checked for every
    service."""
    keys = {"SSJ_JWT_SECRET": settings.jwt_secret == DEV_JWT_SECRET, **service_keys}
    sizes = {"SSJ_JWT_SECRET": len(settings.jwt_secret), **(lengths or {})}
    defaults = sorted(name for name, is_default in keys.items() if is_default)
    # A development default is named as such, short or not: its fix is the same.
    short = sorted(
        name for name, size in sizes.items() if size < MIN_KEY_LENGTH and name not in defaults
    )
    if settings.environment == DEVELOPMENT:
        if defaults:
            log.warning("development keys in use (SSJ_ENV=development): %s", ", ".join(defaults))
        return
    problems = []
    if defaults:
        problems.append(
            f"{', '.join(defaults)} still hold the development default, which is public "
            "(开发环境密钥不得用于生产)"
        )
    if short:
        problems.append(
            f"{', '.join(short)} shorter than {MIN_KEY_LENGTH} characters, which can be "
            "guessed (密钥长度不足)"
        )
    if problems:
        raise DevelopmentKeyRefused(
            f"{settings.service} refuses to start: {'; '.join(problems)}. Set each to a long "
            "random value of your own (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`), the same in every process of the "
            "deployment; or set SSJ_ENV=development on a development machine."
        )
