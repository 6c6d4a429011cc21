"""吊销的令牌 — tokens the joint-meeting office revoked before they expired.

One aggregate per revoked ``jti`` (its id derives from the ``jti``), so revoking a token
twice is a conflict rather than a second fact. ``TokenRevoked`` travels on the registry
stream; every service copies it into its deny-list (libs/common/revocations.py) and from
then on refuses the token with 401. ``expires_at`` is the token's own ``exp``: after it
the token is refused anyway, so the deny-list need not remember it longer.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidRecord

# What a jti may be: ours are UUIDs; another issuer's are printable ASCII without spaces.
JTI_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_JTI = re.compile(JTI_PATTERN)
REASON_MAX = 200
_NAMESPACE = uuid.UUID("0b5d2c47-93a1-4f6e-8d0c-6a1e7f2b9c34")


def revocation_id(jti: str) -> uuid.UUID:
    """Id of the revocation of the token ``jti``."""
    return uuid.uuid5(_NAMESPACE, f"token:{jti}")


class RevokedToken(Aggregate):
    """吊销的令牌 — one token the office revoked, with why and until when it would have
    been valid."""

    @staticmethod
    def create_id(jti: str, **_: Any) -> uuid.UUID:
        return revocation_id(jti)

    @event("TokenRevoked")
    def __init__(self, jti: str, expires_at: str, reason: str) -> None:
        self.jti = jti
        self.expires_at = expires_at  # ISO 8601 with offset: the token's exp
        self.reason = reason  # internal: never disclosed

    @classmethod
    def revoke(cls, *, jti: str, expires_at: datetime, reason: str) -> RevokedToken:
        """Validate, then record ``TokenRevoked``."""
        if not _JTI.fullmatch(jti):
            raise InvalidRecord("jti is 1-128 characters of A-Z a-z 0-9 . _ : -")
        if expires_at.tzinfo is None:
            raise InvalidRecord("expires_at needs a time zone offset")
        reason = reason.strip()
        if not reason or len(reason) > REASON_MAX:
            raise InvalidRecord(f"a revocation's reason is 1-{REASON_MAX} characters")
        return cls(jti=jti, expires_at=expires_at.isoformat(), reason=reason)
