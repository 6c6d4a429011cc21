"""Streams on real NATS: who may configure a stream, the development reset, and the
embedded server's sync interval."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from libs.common.bus import ensure_stream, ensure_stream_exists, reset_streams
from libs.common.consumer import Consumer
from libs.common.envelope import InboundEvent
from libs.common.infra import EmbeddedNats, free_port
from libs.common.service import migrate, open_pool
from libs.common.settings import CommonSettings
from tests.support import Infra


@pytest.fixture
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


async def ignore(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """A handler for a consumer that is only set up here."""


async def test_a_consumer_does_not_rewrite_the_owners_stream_configuration(
    infra: Infra, nc: NATS
) -> None:
    js = nc.jetstream()
    owner = infra.settings("streamowner").model_copy(update={"dedupe_window_seconds": 7200.0})
    reader = infra.settings("streamreader").model_copy(update={"dedupe_window_seconds": 60.0})
    await ensure_stream(js, owner, "streamowner")
    pool = await open_pool(reader, max_size=2)
    try:
        await migrate(pool, "streamreader", [])
        consumer = Consumer(
            settings=reader,
            schema="streamreader",
            name="views",
            source="streamowner",
            handler=ignore,
            js=js,
            pool=pool,
        )
        await consumer.setup()
        info = await js.stream_info(owner.stream_name("streamowner"))
        assert info.config.duplicate_window == 7200.0
    finally:
        await pool.close()


async def test_a_consumer_starting_first_creates_the_missing_stream_its_owner_then_configures(
    infra: Infra, nc: NATS
) -> None:
    js = nc.jetstream()
    reader = infra.settings("streamlate").model_copy(update={"dedupe_window_seconds": 60.0})
    owner = infra.settings("streamlate").model_copy(update={"dedupe_window_seconds": 7200.0})
    await ensure_stream_exists(js, reader, "streamlate")
    await ensure_stream_exists(js, owner, "streamlate")  # exists: left as it is
    name = owner.stream_name("streamlate")
    assert (await js.stream_info(name)).config.duplicate_window == 60.0
    await ensure_stream(js, owner, "streamlate")
    assert (await js.stream_info(name)).config.duplicate_window == 7200.0


async def test_streams_reset_deletes_only_the_namespaces_streams(infra: Infra, nc: NATS) -> None:
    js = nc.jetstream()
    mine = infra.settings("one").model_copy(update={"namespace": f"{infra.namespace}m"})
    longer = infra.settings("one").model_copy(update={"namespace": f"{infra.namespace}mx"})
    try:
        for service in ("one", "two"):
            await ensure_stream(js, mine, service)
        await ensure_stream(js, longer, "one")

        deleted = await reset_streams(js, mine.namespace)

        assert deleted == [mine.stream_name("one"), mine.stream_name("two")]
        names = {info.config.name for info in await js.streams_info()}
        assert longer.stream_name("one") in names
        assert not names & set(deleted)
    finally:
        await reset_streams(js, longer.namespace)
        await reset_streams(js, mine.namespace)


def varz_jetstream(monitor_port: int) -> dict[str, object]:
    varz = httpx.get(f"http://127.0.0.1:{monitor_port}/varz", timeout=5).json()
    config: dict[str, object] = varz["jetstream"]["config"]
    return config


@pytest.mark.parametrize(
    ("sync", "expected"),
    [("always", {"sync_always": True}), ("10s", {"sync_interval": 10_000_000_000})],
)
def test_the_embedded_nats_server_syncs_as_configured(
    tmp_path: Path, sync: str, expected: dict[str, object]
) -> None:
    monitor = free_port()
    server = EmbeddedNats(tmp_path, preferred_port=0, sync_interval=sync, monitor_port=monitor)
    server.start()
    try:
        config = varz_jetstream(monitor)
        assert {key: config.get(key) for key in expected} == expected
        if sync != "always":
            assert not config.get("sync_always")
    finally:
        server.stop()


def test_single_replica_streams_are_synced_on_every_write_unless_configured_otherwise() -> None:
    assert CommonSettings().stream_sync == "always"
    assert CommonSettings.model_validate({"SSJ_STREAM_SYNC": "2m"}).stream_sync == "2m"
    with pytest.raises(ValueError, match="sync interval"):
        EmbeddedNats(Path("unused"), sync_interval="sometimes")
