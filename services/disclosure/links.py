"""Addresses the public is given: where a draw's proof is fetched (the draw service, as
the public reaches it)."""

from __future__ import annotations

import os
from uuid import UUID

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
