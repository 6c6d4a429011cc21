"""The system under chaos: embedded NATS and PostgreSQL of its own, and two processes of
every service (relays and consumers inside elect their leaders), each of which can be
killed with SIGKILL and started again on its port; NATS killed and restarted on its port
and data; PostgreSQL restarted."""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
import psycopg

from libs.common.infra import EmbeddedNats, EmbeddedPostgres
from libs.common.nats_cluster import EmbeddedNatsCluster
from libs.common.settings import SERVICE_PORTS, CommonSettings
from tests.support import Infra, ServiceProcess, with_database

REPLICAS = 2


class ChaosStack:
    """Everything the chaos run starts, kills and restarts."""

    def __init__(
        self,
        replicas: int = REPLICAS,
        services: Iterable[str] = SERVICE_PORTS,
        cluster: bool = False,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ssj-chaos-"))
        self.nats = EmbeddedNats(self.root / "nats", preferred_port=0)
        # Three clustered nodes and R3 streams instead: a NATS fault kills one node.
        self.cluster = EmbeddedNatsCluster(self.root / "cluster") if cluster else None
        self._next_node = 0
        self.postgres = EmbeddedPostgres(self.root / "postgres")
        self.replicas = replicas
        self.names = list(services)
        self.procs: dict[str, list[ServiceProcess]] = {}
        self.infra: Infra | None = None

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> Infra:
        nats_url = self.cluster.start() if self.cluster else self.nats.start()
        admin_url = self.postgres.start()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # Ten service processes hold ~20 connections each (two pools, leadership).
            conn.execute("ALTER SYSTEM SET max_connections = 600")
        self.postgres.stop()
        admin_url = self.postgres.start()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute('CREATE DATABASE "ssj_chaos"')
        self.infra = Infra(
            database_url=with_database(admin_url, "ssj_chaos"),
            nats_url=nats_url,
            namespace="chaos",
            admin_url=admin_url,
        )
        for name in self.names:
            self.procs[name] = [ServiceProcess(self.infra, name) for _ in range(self.replicas)]
        for procs in self.procs.values():
            for proc in procs:
                # Peers are asked through the first replica (a dead one is a 503 to retry).
                for peer in ("registry", "draw"):
                    if peer in self.procs:
                        proc._env[f"SSJ_{peer.upper()}_URL"] = self.procs[peer][0].url
                proc._env["SSJ_LOG_LEVEL"] = "warning"
                if self.cluster:
                    proc._env["SSJ_STREAM_REPLICAS"] = "3"
        for procs in self.procs.values():  # one after the other: the first creates tables
            procs[0].start()
        for procs in self.procs.values():
            for proc in procs[1:]:
                proc.start(wait=False)
        for procs in self.procs.values():
            for proc in procs[1:]:
                proc.wait_ready()
        return self.infra

    def stop(self) -> None:
        for procs in self.procs.values():
            for proc in procs:
                proc.stop()
        if self.cluster:
            self.cluster.stop()
        else:
            self.nats.stop()
        self.postgres.stop()

    def urls(self) -> dict[str, list[str]]:
        """Every replica's base URL, by service."""
        return {name: [p.url for p in procs] for name, procs in self.procs.items()}

    def settings(self, service: str = "chaos") -> CommonSettings:
        assert self.infra is not None
        return self.infra.settings(service)

    # -- faults --------------------------------------------------------------------------

    def kill_service(self, name: str, index: int) -> None:
        """SIGKILL one process of a service: no handler runs, nothing is flushed."""
        proc = self.procs[name][index]
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait()

    def restart_service(self, name: str, index: int, wait: bool = True) -> None:
        self.procs[name][index].start(wait=wait)

    def kill_nats(self) -> str:
        """SIGKILL the NATS server (JetStream syncs every write: nothing acknowledged is
        lost with it), or one node of the cluster, each in turn; return which."""
        if self.cluster:
            node = self.cluster.nodes[self._next_node % len(self.cluster.nodes)]
            self._next_node += 1
            node.kill()
            return node.name
        assert self.nats.proc is not None
        self.nats.proc.send_signal(signal.SIGKILL)
        self.nats.proc.wait()
        return "nats"

    def restart_nats(self, which: str = "nats") -> None:
        if self.cluster:
            node = self.cluster.node(which)
            node.start()
            node.wait_healthy()
            return
        port = self.nats.port
        self.nats = EmbeddedNats(self.root / "nats", preferred_port=port)
        for _ in range(50):  # the old listening socket may linger a moment
            try:
                self.nats.start()
                break
            except (OSError, RuntimeError, TimeoutError):
                time.sleep(0.2)
        if self.nats.port != port:
            raise RuntimeError(f"NATS came back on port {self.nats.port}, not {port}")

    def restart_postgres(self) -> float:
        """Stop PostgreSQL (fast: open connections are cut) and start it again; return
        the seconds it was away."""
        assert self.infra is not None
        began = self._postmaster_started()
        started = time.monotonic()
        self.postgres.stop()
        url = self.postgres.start()  # same data directory, same address
        if url != self.infra.admin_url:
            raise RuntimeError(f"PostgreSQL came back at {url}, not {self.infra.admin_url}")
        if self._postmaster_started() == began:
            raise RuntimeError("PostgreSQL was not restarted (the same postmaster answers)")
        return time.monotonic() - started

    def _postmaster_started(self) -> object:
        assert self.infra is not None
        with psycopg.connect(self.infra.admin_url) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()

    # -- convergence ---------------------------------------------------------------------

    def lags(self, auditor: str) -> dict[str, int]:
        """Relay and consumer lag of every live replica (a replica not answering: -1)."""
        out: dict[str, int] = {}
        for name, procs in self.procs.items():
            for i, proc in enumerate(procs):
                try:
                    answer = httpx.get(
                        f"{proc.url}/readyz", headers={"Authorization": auditor}, timeout=2
                    )
                    checks = answer.json().get("checks", {})
                except (httpx.HTTPError, ValueError):
                    out[f"{name}#{i}"] = -1
                    continue
                total = 0 if answer.status_code == 200 else 1
                relay = checks.get("relay_lag", 0)
                total += relay if isinstance(relay, int) and relay > 0 else 0
                for lag in (checks.get("consumer_lag") or {}).values():
                    total += lag if isinstance(lag, int) and lag > 0 else 0
                out[f"{name}#{i}"] = total
        return out
