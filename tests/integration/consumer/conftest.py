"""Fixtures of the consumer tests: a NATS connection and a pool on the read-model schema
their handlers write (:data:`tests.integration.consumer.support.SCHEMA`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from libs.common.service import migrate, open_pool
from tests.integration.common_app import READ_MODEL_DDL
from tests.integration.consumer.support import SCHEMA
from tests.support import Infra


@pytest.fixture(scope="module")
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    # Two consumers (leader and standby) and the test's own queries at once.
    p = await open_pool(infra.settings(SCHEMA), max_size=6)
    await migrate(p, SCHEMA, [READ_MODEL_DDL])
    yield p
    await p.close()
