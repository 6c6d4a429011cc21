"""Test infrastructure: real PostgreSQL and NATS (from the environment, else embedded), a
fresh database and NATS namespace per test session, and service processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from libs.common.auth import issue_token
from libs.common.infra import (
    EmbeddedNats,
    EmbeddedPostgres,
    die_with_parent,
    free_port,
    stop_process,
)
from libs.common.settings import CommonSettings

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@dataclass
class Infra:
    """Where this test session's PostgreSQL database and NATS namespace are."""

    database_url: str
    nats_url: str
    namespace: str
    admin_url: str
    _embedded: list[object] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a service process of this session."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "NATS_URL": self.nats_url,
            "SSJ_NAMESPACE": self.namespace,
            "SSJ_ENV": "development",  # the development keys (libs.common.keys)
            **extra,
        }

    def settings(self, service: str = "test") -> CommonSettings:
        """Settings object for in-process use."""
        return CommonSettings.model_validate(
            {
                "SSJ_SERVICE": service,
                "DATABASE_URL": self.database_url,
                "NATS_URL": self.nats_url,
                "SSJ_NAMESPACE": self.namespace,
                "SSJ_ENV": "development",
            }
        )


def start_infra() -> Infra:
    """Use DATABASE_URL / NATS_URL when set, else start embedded servers in a temp dir."""
    tmp = Path(tempfile.mkdtemp(prefix="ssj-test-"))
    embedded: list[object] = []
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        nats = EmbeddedNats(tmp / "nats", preferred_port=0)
        nats_url = nats.start()
        embedded.append(nats)
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        pg = EmbeddedPostgres(tmp / "postgres")
        admin_url = pg.start()
        embedded.append(pg)
    run_id = uuid.uuid4().hex[:10]
    dbname = f"ssj_test_{run_id}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    return Infra(
        database_url=with_database(admin_url, dbname),
        nats_url=nats_url,
        namespace=f"t{run_id}",
        admin_url=admin_url,
        _embedded=embedded,
    )


def isolated_infra(infra: Infra) -> Infra:
    """A database and NATS namespace of their own on the same servers.

    For a test module that puts events of its own making on another service's stream (a
    draw for the results service, a department for the register): in the session's
    namespace, that service's relay would later find a stream it did not write and rightly
    refuse to publish (``stream_database_mismatch``). Drop it with :func:`stop_infra`.
    """
    run_id = uuid.uuid4().hex[:10]
    dbname = f"ssj_test_{run_id}"
    with psycopg.connect(infra.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    return Infra(
        database_url=with_database(infra.admin_url, dbname),
        nats_url=infra.nats_url,
        namespace=f"t{run_id}",
        admin_url=infra.admin_url,
    )


def stop_infra(infra: Infra) -> None:
    """Drop the session database and streams, stop embedded servers."""
    import asyncio

    import nats

    async def drop_streams() -> None:
        nc = await nats.connect(infra.nats_url)
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(infra.namespace.upper() + "_"):
                await js.delete_stream(info.config.name)
        await nc.close()

    asyncio.run(drop_streams())
    dbname = urlsplit(infra.database_url).path.lstrip("/")
    with psycopg.connect(infra.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    for server in reversed(infra._embedded):
        server.stop()  # type: ignore[attr-defined]


class ServiceProcess:
    """One service as a real process on a free port."""

    def __init__(self, infra: Infra, name: str, **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.gettempdir()) / f"ssj-{infra.namespace}-{name}.log"
        self._env = infra.env(SSJ_SERVICE=name, SSJ_PORT=str(self.port), **env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> ServiceProcess:
        """Start the process (and wait until /readyz answers 200)."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}.main"],
            env=self._env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),  # never outlives the test run, even killed -9
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until /readyz is 200; fail with the service log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready:\n{self.log()}")

    def log(self) -> str:
        """The tail of the service's output."""
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        stop_process(self.proc)


def service_stack(infra: Infra, names: Iterable[str], **env: str) -> dict[str, ServiceProcess]:
    """These services as processes, not started yet, each told where the others answer
    (the planner asks the registry to count subjects and the draw service whether a batch
    has been drawn: ``SSJ_REGISTRY_URL``, ``SSJ_DRAW_URL``)."""
    procs = {name: ServiceProcess(infra, name, **env) for name in names}
    for peer in ("registry", "draw"):
        if peer in procs:
            for proc in procs.values():
                proc._env[f"SSJ_{peer.upper()}_URL"] = procs[peer].url
    return procs


def start_stack(infra: Infra, names: Iterable[str], **env: str) -> dict[str, ServiceProcess]:
    """:func:`service_stack`, started together and ready."""
    procs = service_stack(infra, names, **env)
    for proc in procs.values():
        proc.start(wait=False)
    for proc in procs.values():
        proc.wait_ready()
    return procs


def token(infra: Infra, sub: str, dept: str, *roles: str) -> str:
    """A bearer token signed with the default development secret."""
    return issue_token(infra.settings(), sub=sub, dept=dept, roles=roles)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
