"""``make run``: embedded NATS and PostgreSQL when not configured, then the five services
as child processes; Ctrl-C stops everything.

A normal stop (Ctrl-C, SIGTERM, SIGHUP, a service crashing) stops the services first, then
NATS and PostgreSQL. If this process dies without stopping (SIGKILL, a crash of Python
itself), nothing it started stays behind, on Linux: the kernel sends SIGTERM to each
service and to nats-server (``PR_SET_PDEATHSIG``, :func:`~libs.common.infra.die_with_parent`),
and PostgreSQL's keeper sees its pipe from us close and stops the server
(:class:`~libs.common.infra.EmbeddedPostgres`). Both rest on the kernel, not on a handler of
ours that SIGKILL would skip; the death signal is tied to the forking thread, so every
process is started from the main thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from libs.common.infra import EmbeddedNats, EmbeddedPostgres, die_with_parent, port_is_free
from libs.common.settings import SERVICE_PORTS, CommonSettings

DATA_DIR = Path(os.environ.get("SSJ_DATA_DIR", ".data"))


def _wait_healthy(urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 90
    pending = dict(urls)
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {procs[name].returncode} during start")
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        raise TimeoutError(f"not ready after 90 s: {', '.join(pending)}")


def _stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


def run(services: list[str] | None = None) -> int:
    """Start infrastructure (if needed) and services; block until Ctrl-C or a crash."""
    names = services or list(SERVICE_PORTS)
    busy = [f"{n}:{SERVICE_PORTS[n]}" for n in names if not port_is_free(SERVICE_PORTS[n])]
    if busy:
        print(f"ports already in use: {', '.join(busy)} (is ssj already running?)", file=sys.stderr)
        return 1
    env = dict(os.environ)
    # A development stack: the development keys are allowed unless told otherwise.
    env.setdefault("SSJ_ENV", "development")
    if env["SSJ_ENV"] == "development":
        print(
            "development mode (SSJ_ENV=development): the public development keys are "
            "accepted; a service outside development refuses them (开发模式，勿对外提供服务)"
        )
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None
    if not env.get("NATS_URL"):
        nats = EmbeddedNats(DATA_DIR / "nats", sync_interval=CommonSettings().stream_sync)
        env["NATS_URL"] = nats.start()
        print(f"embedded NATS (JetStream)  {env['NATS_URL']}   data in {DATA_DIR / 'nats'}")
    if not env.get("DATABASE_URL"):
        postgres = EmbeddedPostgres((DATA_DIR / "postgres").resolve())
        env["DATABASE_URL"] = postgres.start()
        print(f"embedded PostgreSQL        {env['DATABASE_URL']}")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: terminal closed
        signal.signal(signum, on_signal)
    code = 0
    try:
        for name in names:
            port = SERVICE_PORTS[name]
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}.main"],
                env={**env, "SSJ_SERVICE": name, "SSJ_PORT": str(port)},
                # Own session: Ctrl-C reaches only this supervisor, which stops the
                # services before the infrastructure they depend on.
                start_new_session=True,
                preexec_fn=die_with_parent(),  # SIGTERM from the kernel if we die first
            )
            urls[name] = f"http://127.0.0.1:{port}"
        _wait_healthy(urls, procs)
        print("\nssj is running:")
        for name, url in urls.items():
            print(f"  {name:<11} {url}   OpenAPI: {url}/docs")
        if "disclosure" in urls:
            print(f"\nThe public portal (公示门户): {urls['disclosure']}/")
        print("\nTry `make demo` in another terminal. Ctrl-C stops everything.\n", flush=True)
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping", file=sys.stderr)
                    stopping, code = True, 1
            time.sleep(0.3)
    except (RuntimeError, TimeoutError) as exc:
        print(f"start failed: {exc}", file=sys.stderr)
        code = 1
    finally:
        print("stopping services…", flush=True)
        _stop(procs)
        if nats:
            nats.stop()
        if postgres:
            postgres.stop()
        print("stopped.")
    return code
