"""HTTP API of token revocation (吊销令牌): the office revokes a token by its ``jti``."""

from __future__ import annotations

from typing import Annotated, Any

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from libs.common.answers import Answer
from libs.common.auth import Principal, require_roles
from libs.common.commands import Command, Instant
from libs.common.problems import Problem
from libs.common.service import run_command
from libs.common.text import TextRule, line
from services.registry.api.deps import App
from services.registry.application import RegistryApplication
from services.registry.domain.tokens import JTI_PATTERN, REASON_MAX, RevokedToken, revocation_id

router = APIRouter(prefix="/v1", tags=["tokens"])
Office = Annotated[Principal, Depends(require_roles("office"))]
Overseer = Annotated[Principal, Depends(require_roles("office", "auditor"))]
Jti = Annotated[str, TextRule(128, 1, pattern=JTI_PATTERN)]


class RevocationIn(Command):
    """A token to revoke: its ``jti``, its ``exp`` and why."""

    jti: Jti = Field(description="the token's jti claim")
    expires_at: Instant = Field(
        description="the token's exp: the deny-list forgets it afterwards (it has expired)"
    )
    reason: Annotated[str, line(REASON_MAX, min_length=1)] = Field(
        description="why (internal, never disclosed)", examples=["令牌泄露"]
    )


class RevocationView(Answer):
    """A revocation as recorded."""

    jti: str
    expires_at: str = Field(description="the token's exp, ISO 8601 with its offset")
    reason: str
    revoked_at: str = Field(description="when it was revoked, ISO 8601")
    version: int


def _view(revoked: RevokedToken) -> dict[str, Any]:
    return {
        "jti": revoked.jti,
        "expires_at": revoked.expires_at,
        "reason": revoked.reason,
        "revoked_at": revoked.created_on.isoformat(),
        "version": revoked.version,
    }


def _revoke(app: RegistryApplication, **fields: Any) -> RevokedToken:
    try:
        app.repository.get(revocation_id(fields["jti"]))
    except AggregateNotFoundError:
        revoked = RevokedToken.revoke(**fields)
        app.save(revoked)
        return revoked
    raise Problem(409, "Already revoked", f"the token {fields['jti']!r} is already revoked")


@router.post(
    "/tokens/revocations",
    status_code=201,
    response_model=RevocationView,
    summary="Revoke a token by its jti (office)",
)
async def revoke_token(
    body: RevocationIn, request: Request, who: Office, app: App
) -> dict[str, Any]:
    """Record ``TokenRevoked``; every service refuses the token (401) once its copy of the
    registry stream has it (within a second or two). A second revocation is a 409."""
    revoked = await run_command(request, who, _revoke, app, **body.model_dump())
    return _view(revoked)


@router.get(
    "/tokens/revocations/{jti}",
    response_model=RevocationView,
    summary="One revocation (office, auditors)",
)
async def get_revocation(
    jti: Annotated[Jti, Path(description="the token's jti")],
    request: Request,
    who: Overseer,
    app: App,
) -> dict[str, Any]:
    """The revocation as recorded (404 when the token was never revoked)."""
    revoked = await run_command(request, who, app.repository.get, revocation_id(jti))
    return _view(revoked)
