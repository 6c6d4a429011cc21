"""A service process outside development refuses to start on the development keys, and
says which keys and what to do; with its own keys it starts (real PostgreSQL and NATS)."""

from __future__ import annotations

import pytest

from tests.support import Infra, ServiceProcess


@pytest.mark.parametrize(("service", "key"), [("draw", "SSJ_DRAW_KEY"), ("registry", "SSJ_ID_KEY")])
def test_a_service_on_development_keys_in_production_does_not_start(
    infra: Infra, service: str, key: str
) -> None:
    proc = ServiceProcess(infra, service, SSJ_ENV="production").start(wait=False)
    try:
        assert proc.proc is not None
        assert proc.proc.wait(60) != 0
        log = proc.log()
        assert "refuses to start" in log and key in log and "SSJ_JWT_SECRET" in log
    finally:
        proc.stop()


def test_a_draw_service_with_its_own_keys_starts_in_production(infra: Infra) -> None:
    own = {
        "SSJ_ENV": "production",
        "SSJ_JWT_SECRET": "this-deployment-token-secret-0123456789abcdef0123",
        "SSJ_DRAW_KEY": "this-deployment-draw-key-0123456789abcdef",
    }
    proc = ServiceProcess(infra, "draw", **own).start()  # /readyz 200
    proc.stop()
