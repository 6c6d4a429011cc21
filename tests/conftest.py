"""Session fixtures: one real PostgreSQL database and one NATS namespace for the whole run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import Infra, start_infra, stop_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
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
