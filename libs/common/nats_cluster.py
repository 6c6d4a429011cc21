"""A NATS cluster of three ``nats-server`` processes from the same wheel as
:class:`~libs.common.infra.EmbeddedNats`, for streams replicated three times (R3): one node
may die without losing what JetStream acknowledged (a majority, two of three, stored it).

Each node has its own JetStream directory, client port and route port; every node routes
to the other two. Clients connect to all three (``NATS_URL`` lists them, comma-separated:
:func:`servers`), so a client whose node dies reconnects to another. A node killed and
started again on its ports and data catches up from the others.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx

from libs.common.infra import (
    _wait_for_port,
    die_with_parent,
    free_port,
    nats_server_binary,
    stop_process,
)

CLUSTER_NAME = "ssj"


def servers(nats_url: str) -> list[str]:
    """The server URLs of ``NATS_URL`` (one, or several separated by commas)."""
    return [url.strip() for url in nats_url.split(",") if url.strip()]


class ClusterNode:
    """One ``nats-server`` of the cluster."""

    def __init__(
        self, data_dir: Path, name: str, port: int, route_port: int, monitor_port: int
    ) -> None:
        self.data_dir = data_dir
        self.name = name
        self.port = port
        self.route_port = route_port
        self.monitor_port = monitor_port
        self.routes: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        """JetStream syncing every write, and routes to the other nodes."""
        store = json.dumps(str(self.data_dir / "jetstream"))
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
        return (
            f"server_name: {self.name}\nhttp: 127.0.0.1:{self.monitor_port}\n"
            f"jetstream {{\n  store_dir: {store}\n  sync_interval: always\n}}\n"
            f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{self.route_port}\n"
            f"  routes: [{routes}]\n}}\n"
        )

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "nats-server.conf"
        config.write_text(self.config_text())
        log_path = self.data_dir / "nats-server.log"
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(config), "-a", "127.0.0.1", "-p", str(self.port),
             "-l", str(log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        _wait_for_port(self.port, 15.0, self.proc, log_path)

    def healthy(self) -> bool:
        """Whether the node serves JetStream (a cluster forms its meta leader first)."""
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"NATS node {self.name} not healthy: see {self.data_dir}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: nothing flushed, no goodbye to the cluster."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        stop_process(self.proc)


class EmbeddedNatsCluster:
    """Three clustered nodes under ``data_dir``."""

    def __init__(self, data_dir: Path, size: int = 3) -> None:
        self.data_dir = data_dir
        ports = [free_port() for _ in range(3 * size)]
        self.nodes = [
            ClusterNode(data_dir / f"n{i + 1}", f"n{i + 1}", *ports[3 * i : 3 * i + 3])
            for i in range(size)
        ]
        for node in self.nodes:
            node.routes = [n.route_port for n in self.nodes if n is not node]

    @property
    def url(self) -> str:
        """``NATS_URL`` for clients: every node, comma-separated."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> str:
        """Start every node; return once each serves JetStream (the cluster has formed)."""
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_healthy()
        return self.url

    def node(self, name: str) -> ClusterNode:
        return next(n for n in self.nodes if n.name == name)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
