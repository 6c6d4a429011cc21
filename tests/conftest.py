"""Session fixtures: one real PostgreSQL database and one NATS namespace for the whole run,
and one of their own for a module marked ``own_infra``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import Infra, isolated_infra, start_infra, stop_infra


@pytest.fixture(scope="session")
def session_infra() -> Iterator[Infra]:
    """Real PostgreSQL and NATS JetStream: from the environment, else embedded."""
    infra = start_infra()
    previous = {k: os.environ.get(k) for k in ("DATABASE_URL", "NATS_URL", "SSJ_NAMESPACE")}
    os.environ.update(
        DATABASE_URL=infra.database_url, NATS_URL=infra.nats_url, SSJ_NAMESPACE=infra.namespace
    )
    try:
        yield infra
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stop_infra(infra)


@pytest.fixture(scope="module")
def infra(request: pytest.FixtureRequest, session_infra: Infra) -> Iterator[Infra]:
    """The session's database and namespace; a module marked ``own_infra`` (it puts events
    of its own making on another service's stream, which that service's relay would later
    rightly refuse to publish after) gets a database and namespace of its own."""
    if request.node.get_closest_marker("own_infra") is None:
        yield session_infra
        return
    own = isolated_infra(session_infra)
    yield own
    stop_infra(own)
