"""A three-node NATS cluster (libs/common/nats_cluster.py) with the service's stream
replicated three times: the node leading the stream is killed with SIGKILL while the relay
publishes under load, and started again; no event JetStream acknowledged is lost, every
stored event ends up in the stream once, and the node that died catches up."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import nats
from nats.errors import Error as NatsError

from libs.common.audit import verify
from libs.common.nats_cluster import EmbeddedNatsCluster, servers
from libs.common.relay import Relay
from libs.common.service import open_pool
from tests.integration.common_app import AccountsApp, open_accounts
from tests.support import Infra


async def test_an_r3_stream_loses_nothing_when_its_leader_node_is_killed(
    infra: Infra, tmp_path: Path
) -> None:
    cluster = EmbeddedNatsCluster(tmp_path / "nats")
    cluster.start()
    settings = infra.settings("clustered").model_copy(
        update={"nats_url": cluster.url, "stream_replicas": 3}
    )
    cls = type("ClusteredApp", (AccountsApp,), {"service": "clustered", "hash_chained": True})
    app = await asyncio.to_thread(cls, settings)
    pool = await open_pool(settings, max_size=4)
    nc = await nats.connect(
        servers(cluster.url), max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    js = nc.jetstream()
    relay = Relay(app, js, pool)
    await relay.setup()
    stream = settings.stream_name("clustered")
    assert (await js.stream_info(stream)).config.num_replicas == 3

    writing = threading.Event()
    writing.set()
    saved = [0]

    def write() -> None:  # the service keeps saving while the cluster loses a node
        while writing.is_set():
            saved[0] += open_accounts(app, 2, 2)
            time.sleep(0.02)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    failures = 0

    async def relay_for(seconds: float) -> None:
        nonlocal failures
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                if not await relay.publish_pending():
                    await asyncio.sleep(0.05)
            except (NatsError, TimeoutError, OSError):  # the leader moving: try again
                failures += 1
                await asyncio.sleep(0.2)

    try:
        await relay_for(2.0)
        leader = (await js.stream_info(stream)).cluster.leader  # type: ignore[union-attr]
        assert leader is not None
        before = int((await js.stream_info(stream)).state.last_seq)
        cluster.node(leader).kill()
        await relay_for(3.0)
        cluster.node(leader).start()
        cluster.node(leader).wait_healthy()
        await relay_for(3.0)
        writing.clear()
        writer.join()
        # Everything stored gets out, then the table and the stream agree event by event.
        deadline = time.monotonic() + 60
        while (await relay.lag()) and time.monotonic() < deadline:
            await relay_for(1.0)
        (report,) = await asyncio.to_thread(verify, settings, app.schema)
        assert report.breaks == [] and report.not_yet_published == 0, (report, failures)
        assert report.events == saved[0] and report.messages_compared == saved[0]
        info = await js.stream_info(stream)
        assert int(info.state.last_seq) > before  # published while it was away, and after
        # The node that died caught up: every replica current, none lagging.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = await js.stream_info(stream)
            assert info.cluster is not None
            peers = {info.cluster.leader: (True, 0)} | {
                p.name: (bool(p.current), int(p.lag or 0)) for p in info.cluster.replicas or []
            }
            if len(peers) == 3 and all(c and not lag for c, lag in peers.values()):
                break
            await asyncio.sleep(0.5)
        assert peers[leader] == (True, 0), peers
    finally:
        writing.clear()
        await nc.close()
        await pool.close()
        app.close()
        cluster.stop()
