"""Bearer JWT with claims ``sub``, ``dept``, ``roles``, ``jti``; verified locally, and checked
against the deny-list of revoked tokens (吊销名单).

Who signs (see docs/api.md "Tokens"): ssj itself, HS256 with ``SSJ_JWT_SECRET`` (the
demo, the tests, ``ssj token``); and, with ``SSJ_JWKS_URL`` set, an external identity
provider (统一身份认证), RS256 or ES256 with a key of its JWKS chosen by the token's
``kid`` (:mod:`libs.common.jwks`). Beside a provider, HS256 is accepted in development
only: in production the provider is the one issuer, and a secret shared by every process
would otherwise mint tokens nobody at the provider ever issued. The algorithm is taken
from a fixed list, never from the key: ``none`` is refused, and an HS256 token is checked
against the secret alone, never against a provider's public key (algorithm confusion).

Roles: ``office`` (joint-meeting office 联席会议办公室), ``operator`` (department operator),
``inspector`` (执法检查人员), ``auditor`` (read-only oversight), ``approver`` (审批人: the
department's leader who approves a draw's replacements 递补; a role held beside
``operator`` where the person also works the records), ``reviewer`` (审核人); ``subject``
(检查对象: an enterprise signed in with its own identity, ``sub`` its USCC, ``dept``
``SUBJECT``), which reads its own line of a draw's pool and nothing else; ``platform``
(平台对接账号: another government platform calling machine to machine), which reads the
operations of :data:`PLATFORM_OPERATIONS` and nothing else.

What a token must carry (anything else is a 401, see docs/api.md "Tokens"):

- ``iss`` this deployment's issuer; ``sub`` a non-empty string; ``aud`` when
  ``SSJ_JWT_AUDIENCE`` is set (always beside a provider), naming it;
- ``iat`` and ``exp``, at most ``SSJ_TOKEN_MAX_TTL`` (12 h) apart: a token valid for a
  century is refused, however well signed;
- ``roles`` a non-empty list of the roles above (``platform`` alone in its token);
- ``dept`` a department code (``SAMR``, ``420000-SAMR``): the office's tokens carry
  ``OFFICE``, an auditor's its own unit, a platform's ``PLATFORM``. Whether an operator's or
  inspector's department is in the register (部门名录) is each service's check on writes
  (403), since it changes;
- ``jti`` a unique id, so the office can revoke the token before it expires.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.context import Actor
from libs.common.jwks import KeyUnavailable, key_set_for
from libs.common.problems import Problem
from libs.common.revocations import refuse_revoked
from libs.common.settings import CommonSettings

ROLES = frozenset(
    {"office", "operator", "inspector", "auditor", "approver", "reviewer", "subject", "platform"}
)
# 平台对接账号: a machine, not a person. It holds this role alone, carries this department,
# and calls exactly the operations below, all reads, whatever role lists a route names.
PLATFORM = "platform"
PLATFORM_DEPT = "PLATFORM"
# (service, method, path as the OpenAPI document names it): what a platform receiving
# ssj's data needs to check it: the record of a 报送 file (its hash), a draw as readers
# outside its department see it (public reason codes only), and the hash chains of draws
# and records. What the public reads needs no token at all.
PLATFORM_OPERATIONS = frozenset(
    {
        ("disclosure", "GET", "/v1/exports/{export_id}"),
        ("draw", "GET", "/v1/draws/{draw_id}"),
        ("draw", "GET", "/v1/draws/{draw_id}/chain"),
        ("results", "GET", "/v1/results/{record_id}/verification"),
    }
)
# Roles that act for one department: their department must be one of the register.
DEPARTMENT_ROLES = frozenset({"operator", "inspector", "approver", "reviewer"})
# The department an office token carries by convention (the office acts for every one).
OFFICE_DEPT = "OFFICE"
# The register's code pattern (services/registry/domain/departments.py): codes travel in
# tokens, events and URLs, so nothing that needs escaping; "None" or "" never match.
DEPT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
JTI_MAX = 128
# What a jti may be (the registry's revocations take the same): ours are UUIDs.
JTI_FORM = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ALGORITHM = "HS256"  # ssj's own tokens
# An identity provider's: asymmetric only, so that its public keys verify and cannot sign.
PROVIDER_ALGORITHMS = ("RS256", "ES256")
# How far in the future a token's iat / nbf may lie (clock skew between issuer and us).
CLOCK_LEEWAY_SECONDS = 30
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller (``jti`` and ``expires_at`` name the token it came with)."""

    sub: str
    dept: str
    roles: frozenset[str]
    jti: str = field(default="", compare=False)
    expires_at: int = field(default=0, compare=False)

    @property
    def actor(self) -> Actor:
        """The actor recorded on events this caller causes."""
        return Actor(sub=self.sub, dept=self.dept, roles=tuple(sorted(self.roles)))

    def may_act_for(self, dept: str) -> bool:
        """A department writes only its own data; the office acts for all."""
        return "office" in self.roles or self.dept == dept


def roles_problem(roles: object) -> str | None:
    """Why ``roles`` is not a valid roles claim (None: it is)."""
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return "claim 'roles' must be a list of strings"
    if not roles:
        return "claim 'roles' must name at least one role"
    unknown = set(roles) - ROLES
    if unknown:
        return f"unknown roles: {sorted(unknown)}; known: {sorted(ROLES)}"
    if PLATFORM in roles and len(set(roles)) > 1:
        # A person's role beside it would widen a machine's scope to a person's.
        return "role 'platform' (平台对接账号) must be the token's only role"
    return None


def dept_problem(dept: object, roles: Iterable[str]) -> str | None:
    """Why ``dept`` is not a valid department claim for ``roles`` (None: it is)."""
    roles = set(roles)
    if not isinstance(dept, str) or not dept:
        kind = "operators, inspectors and approvers" if roles & DEPARTMENT_ROLES else "every token"
        return f"claim 'dept' must name a department for {kind} (the office's is {OFFICE_DEPT!r})"
    if not DEPT_CODE.fullmatch(dept):
        return f"claim 'dept' {dept[:40]!r} is not a department code (upper-case A-Z 0-9 - _)"
    if PLATFORM in roles and dept != PLATFORM_DEPT:
        # Never a department's code: rules that compare departments must not match a machine.
        return f"a platform token carries dept {PLATFORM_DEPT!r}"
    return None


def issue_token(
    settings: CommonSettings,
    *,
    sub: str,
    dept: str,
    roles: Iterable[str],
    ttl_seconds: int = 8 * 3600,
) -> str:
    """Sign a token (used by the demo, the tests and the ``ssj token`` command); refuse
    (ValueError) what :func:`decode_token` would refuse, a ttl above the maximum included."""
    role_list = sorted(set(roles))
    problem = roles_problem(role_list) or dept_problem(dept, role_list)
    if problem:
        raise ValueError(problem)
    if not sub:
        raise ValueError("a token needs a subject (sub)")
    if settings.jwks_url and settings.environment != "development":
        raise ValueError(
            "SSJ_JWKS_URL is set: outside development tokens come from the identity provider"
        )
    if ttl_seconds > settings.token_max_ttl_seconds:
        raise ValueError(
            f"ttl {ttl_seconds} s exceeds the maximum of {settings.token_max_ttl_seconds} s "
            "(SSJ_TOKEN_MAX_TTL)"
        )
    now = int(time.time())
    claims = {
        "sub": sub,
        "dept": dept,
        "roles": role_list,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", f"invalid token: {detail}")


def _integer(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    # bool is an int to Python, not a time to anyone.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _unauthorized(f"claim '{name}' must be an integer")
    return int(value)


def _header(token: str) -> tuple[Any, Any]:
    """The unverified header's ``alg`` and ``kid``: a client sends the same token with
    every request, and parsing its header twice per write (the body guard, then the route)
    was a few percent of a write's CPU. Remembered for tokens of an ordinary size only (the
    cache's memory stays bounded whatever is sent); a header that does not parse raises,
    and is not remembered."""
    if len(token) > _HEADER_CACHED_LENGTH:
        return _parse_header(token)
    return _cached_header(token)


def _parse_header(token: str) -> tuple[Any, Any]:
    header = jwt.get_unverified_header(token)
    return header.get("alg"), header.get("kid")


_HEADER_CACHED_LENGTH = 2048
_cached_header = functools.lru_cache(maxsize=4096)(_parse_header)


def _key_id(settings: CommonSettings, token: str) -> tuple[str, str | None]:
    """The token's algorithm, if this deployment accepts it, and the provider's key id it
    names (None: HS256, ssj's own secret)."""
    try:
        alg, kid = _header(token)
    except jwt.PyJWTError as exc:
        raise _unauthorized(str(exc)) from exc
    if alg == ALGORITHM:
        if settings.jwks_url and settings.environment != "development":
            raise _unauthorized(
                "HS256 is not accepted here: tokens come from the identity provider "
                f"(SSJ_JWKS_URL), signed {' or '.join(PROVIDER_ALGORITHMS)}"
            )
        return alg, None
    accepted = [ALGORITHM, *PROVIDER_ALGORITHMS] if settings.jwks_url else [ALGORITHM]
    if alg not in accepted:
        raise _unauthorized(f"algorithm {str(alg)[:16]!r} is not accepted (accepted: {accepted})")
    if not isinstance(kid, str) or not kid:
        raise _unauthorized(f"a token signed {alg} must name its key ('kid' header)")
    return alg, kid


def decode_token(settings: CommonSettings, token: str) -> Principal:
    """Verify signature, expiry, lifetime, issuer, audience, roles, department and id; raise a
    401 problem otherwise. (Revocation needs the database: :func:`require_roles` checks it.)

    A provider's token is verified with the keys already fetched only (no I/O: this runs on
    the event loop); :func:`verify_token` fetches a rotated key.
    """
    alg, kid = _key_id(settings, token)
    if kid is None:
        return _verified(settings, token, settings.jwt_secret, alg)
    key = key_set_for(settings).cached(kid)
    if key is None:
        raise _unauthorized(f"key id {kid[:64]!r} is not among the identity provider's keys")
    return _verified(settings, token, key, alg)


async def verify_token(settings: CommonSettings, token: str) -> Principal:
    """:func:`decode_token`, fetching the provider's keys when the token names one not yet
    held (rate-limited, off the event loop)."""
    alg, kid = _key_id(settings, token)
    if kid is None:
        return _verified(settings, token, settings.jwt_secret, alg)
    try:
        key = await key_set_for(settings).key(kid)
    except KeyUnavailable as exc:
        # Logged where the fetch failed, once per attempt, not once per token.
        raise _unauthorized(str(exc)) from exc
    return _verified(settings, token, key, alg)


# Tokens already verified, by token: a client sends the same token with every request,
# and checking its signature and claims again each time was a tenth of a write's CPU. An
# entry is used only with the very key object and settings it was verified with, for at
# most VERIFIED_SECONDS (a key withdrawn by the provider stops working within that), and
# never past the token's own exp. Revocation is checked per request, outside this cache.
VERIFIED_CACHE = 10_000
VERIFIED_SECONDS = 60.0
_verified_tokens: dict[tuple[str, str], tuple[Any, tuple[Any, ...], Principal, float]] = {}


def _verified(settings: CommonSettings, token: str, key: str | jwt.PyJWK, alg: str) -> Principal:
    """:func:`_check`, remembered for :data:`VERIFIED_SECONDS` (see above)."""
    checks = (
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.token_max_ttl_seconds,
        settings.jwt_secret,
    )
    now = time.time()
    hit = _verified_tokens.get((token, alg))
    if hit is not None:
        held_key, held_checks, principal, until = hit
        if held_key is key and held_checks == checks and now < min(until, principal.expires_at):
            return principal
    principal = _check(settings, token, key, alg)
    if len(_verified_tokens) >= VERIFIED_CACHE:
        _verified_tokens.clear()  # simpler than an LRU; a miss costs one verification
    _verified_tokens[(token, alg)] = (key, checks, principal, now + VERIFIED_SECONDS)
    return principal


def _check(settings: CommonSettings, token: str, key: str | jwt.PyJWK, alg: str) -> Principal:
    """The claims checks, once the key is chosen.

    ``iat`` and ``nbf`` may lie up to :data:`CLOCK_LEEWAY_SECONDS` in the future: the
    issuer's clock may run a little ahead of ours, and refusing a token it has just issued
    helps no one. ``exp`` gets no leeway: it is the issuer's limit on the token's life.
    """
    required = ["sub", "exp", "iat", "iss", "jti"] + ["aud"] * bool(settings.jwt_audience)
    try:
        claims = jwt.decode(
            token,
            key,
            # One algorithm, the one the key was chosen for; PyJWT refuses a PyJWK whose
            # own algorithm differs.
            algorithms=[alg],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience or None,
            leeway=CLOCK_LEEWAY_SECONDS,
            # PyJWT's leeway would stretch exp as well; exp is checked strictly below.
            options={"require": required, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(str(exc)) from exc
    expires = _integer(claims, "exp")
    issued = _integer(claims, "iat")
    if expires <= time.time():
        raise _unauthorized("the token has expired")
    if expires - issued > settings.token_max_ttl_seconds:
        raise _unauthorized(
            f"the token is valid for {expires - issued} s, longer than the maximum of "
            f"{settings.token_max_ttl_seconds} s"
        )
    sub, jti = claims["sub"], claims["jti"]
    if not isinstance(sub, str) or not sub.strip():
        raise _unauthorized("claim 'sub' must be a non-empty string")
    if not isinstance(jti, str) or not JTI_FORM.fullmatch(jti):
        # The revocation endpoint takes exactly these: a token it could not name could
        # never be revoked.
        raise _unauthorized(f"claim 'jti' must be 1-{JTI_MAX} characters of A-Z a-z 0-9 . _ : -")
    roles = claims.get("roles")
    problem = roles_problem(roles) or dept_problem(claims.get("dept"), roles or [])
    if problem:
        raise _unauthorized(problem)
    return Principal(
        sub=sub,
        dept=claims["dept"],
        roles=frozenset(roles or ()),
        jti=jti,
        expires_at=expires,
    )


def require_roles(*allowed: str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: an authenticated caller, with a token not revoked, holding at
    least one of ``allowed``."""
    bad = set(allowed) - ROLES
    if bad:
        raise ValueError(f"unknown roles: {sorted(bad)}")

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Problem(401, "Unauthorized", "a bearer token is required")
        settings: CommonSettings = request.app.state.settings
        principal = await verify_token(settings, credentials.credentials)
        await refuse_revoked(request, principal.jti)
        if PLATFORM in principal.roles:
            if not platform_may_call(settings.service, request):
                raise Problem(
                    403,
                    "Forbidden",
                    "a platform account (平台对接账号) calls only the operations listed in "
                    'docs/api.md "Tokens"',
                )
        elif allowed and not (principal.roles & set(allowed)):
            raise Problem(403, "Forbidden", f"one of the roles {sorted(allowed)} is required")
        request.state.principal = principal
        return principal

    return dependency


def platform_may_call(service: str, request: Request) -> bool:
    """Whether the operation ``request`` reached is one of :data:`PLATFORM_OPERATIONS`."""
    path = getattr(request.scope.get("route"), "path", None)
    # Reads only, whatever the list says: a platform writes nothing.
    return request.method == "GET" and (service, "GET", path) in PLATFORM_OPERATIONS
