"""Bearer JWT (HS256, PyJWT) with claims ``sub``, ``dept``, ``roles``; verified locally.

Roles: ``office`` (joint-meeting office 联席会议办公室), ``operator`` (department operator),
``inspector`` (执法检查人员), ``auditor`` (read-only oversight).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.context import Actor
from libs.common.problems import Problem
from libs.common.settings import CommonSettings

ROLES = frozenset({"office", "operator", "inspector", "auditor"})
ALGORITHM = "HS256"
# How far in the future a token's iat / nbf may lie (clock skew between issuer and us).
CLOCK_LEEWAY_SECONDS = 30
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    sub: str
    dept: str
    roles: frozenset[str]

    @property
    def actor(self) -> Actor:
        """The actor recorded on events this caller causes."""
        return Actor(sub=self.sub, dept=self.dept, roles=tuple(sorted(self.roles)))

    def may_act_for(self, dept: str) -> bool:
        """A department writes only its own data; the office acts for all."""
        return "office" in self.roles or self.dept == dept


def issue_token(
    settings: CommonSettings,
    *,
    sub: str,
    dept: str,
    roles: Iterable[str],
    ttl_seconds: int = 8 * 3600,
) -> str:
    """Sign a token (used by the demo, the tests and the ``ssj token`` command)."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    now = int(time.time())
    claims = {
        "sub": sub,
        "dept": dept,
        "roles": sorted(set(roles)),
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def decode_token(settings: CommonSettings, token: str) -> Principal:
    """Verify signature, expiry and issuer; raise a 401 problem otherwise.

    ``iat`` and ``nbf`` may lie up to :data:`CLOCK_LEEWAY_SECONDS` in the future: the
    issuer's clock may run a little ahead of ours, and refusing a token it has just issued
    helps no one. ``exp`` gets no leeway: it is the issuer's limit on the token's life.
    """
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            leeway=CLOCK_LEEWAY_SECONDS,
            # PyJWT's leeway would stretch exp as well; exp is checked strictly below.
            options={"require": ["sub", "exp", "iss"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Problem(401, "Unauthorized", f"invalid token: {exc}") from exc
    try:
        expires = int(claims["exp"])
    except (ValueError, TypeError, OverflowError) as exc:
        raise Problem(401, "Unauthorized", "invalid token: claim 'exp' must be an integer") from exc
    if expires <= time.time():
        raise Problem(401, "Unauthorized", "invalid token: the token has expired")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Problem(401, "Unauthorized", "claim 'roles' must be a list of strings")
    return Principal(
        sub=str(claims["sub"]), dept=str(claims.get("dept", "")), roles=frozenset(roles)
    )


def require_roles(*allowed: str) -> Callable[..., Principal]:
    """FastAPI dependency: an authenticated caller holding at least one of ``allowed``."""
    bad = set(allowed) - ROLES
    if bad:
        raise ValueError(f"unknown roles: {sorted(bad)}")

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Problem(401, "Unauthorized", "a bearer token is required")
        settings: CommonSettings = request.app.state.settings
        principal = decode_token(settings, credentials.credentials)
        if allowed and not (principal.roles & set(allowed)):
            raise Problem(403, "Forbidden", f"one of the roles {sorted(allowed)} is required")
        request.state.principal = principal
        return principal

    return dependency
