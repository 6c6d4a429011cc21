"""Addresses the public is given: where a draw's proof is fetched (the draw service, as
the public reaches it), and the portal's own address for the Atom feed."""

from __future__ import annotations

import os
from uuid import UUID, uuid5

from libs.common.settings import SERVICE_PORTS


def draw_public_url() -> str:
    """Where browsers fetch a draw's public proof (the draw service, as the public reaches
    it): ``SSJ_DRAW_PUBLIC_URL``, else where the services reach it (``SSJ_DRAW_URL``), else
    the draw service on this host."""
    default = os.environ.get("SSJ_DRAW_URL") or f"http://127.0.0.1:{SERVICE_PORTS['draw']}"
    return os.environ.get("SSJ_DRAW_PUBLIC_URL", default).rstrip("/")


def proof_url(draw_id: UUID | str) -> str:
    """The public proof of one draw (no sign-in; ``ssj draw verify`` checks it)."""
    return f"{draw_public_url()}/v1/draws/{draw_id}/proof"


# The feed's permanent id when the portal's address is not configured: a name, not where
# it was fetched from (a client's Host header is not the portal's address).
FEED_ID = f"urn:uuid:{uuid5(UUID('6ba7b811-9dad-11d1-80b4-00c04fd430c8'), 'ssj:disclosure:feed')}"


def portal_public_url() -> str:
    """The portal as the public reaches it (``SSJ_PORTAL_PUBLIC_URL``, e.g.
    ``https://ssj.example.gov.cn``), or "" (links relative to the feed's own address)."""
    return os.environ.get("SSJ_PORTAL_PUBLIC_URL", "").strip().rstrip("/")
