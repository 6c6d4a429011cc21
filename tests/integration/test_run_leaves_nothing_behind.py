"""``ssj run`` leaves no process behind however it stops: SIGTERM stops everything in order,
and SIGKILL of ``ssj run`` itself takes its services, nats-server and PostgreSQL with it.

Each case starts its own embedded NATS and PostgreSQL in a temporary data directory (the
machine's own servers are never touched) and the registry on its fixed port: if that port
is taken, ``ssj run`` refuses to start and the test fails saying so. Processes are told
apart by pid *and* start time, so a recycled pid is never mistaken for one of ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; the guarantee is Linux's"
)

Proc = tuple[int, int]  # pid, start time in clock ticks since boot


def _stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent pid and start time of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _pids() -> Iterator[int]:
    return (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())


def _alive(proc: Proc) -> bool:
    stat = _stat(proc[0])
    return stat is not None and stat[2] == proc[1] and stat[0] not in "ZX"


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160]
    except OSError:
        return "?"


def _using(data_dir: Path) -> set[Proc]:
    """Live processes whose command line names ``data_dir`` (nats-server, postmaster)."""
    found = set()
    for pid in _pids():
        stat = _stat(pid)
        if stat and stat[0] not in "ZX" and str(data_dir) in _name(pid):
            found.add((pid, stat[2]))
    return found


def _family(root: int, data_dir: Path) -> set[Proc]:
    """Every live descendant of ``root``, plus whatever uses ``data_dir`` and its own
    descendants: pg_ctl detaches the postmaster, so it is nobody's child of ours."""
    children: dict[int, list[Proc]] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat and stat[0] not in "ZX":
            children.setdefault(stat[1], []).append((pid, stat[2]))
    found: set[Proc] = set()
    todo = [root, *(pid for pid, _ in _using(data_dir))]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child[0])
    return found | _using(data_dir)


def _describe(procs: set[Proc]) -> str:
    return "\n".join(f"  {pid} {_name(pid)}" for pid, _ in sorted(procs))


def _wait_gone(procs: set[Proc], timeout: float) -> set[Proc]:
    deadline = time.monotonic() + timeout
    left = {p for p in procs if _alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = {p for p in left if _alive(p)}
    return left


class Stack:
    """``ssj run registry`` with embedded servers under ``tmp``; kills what it leaves."""

    def __init__(self, tmp: Path) -> None:
        self.data_dir = tmp / "data"
        self.log = tmp / "run.log"
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env.update(SSJ_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "libs.common.cli", "run", "registry"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.family: set[Proc] = set()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_running(self, timeout: float = 120.0) -> None:
        """Until it says the services are ready; then note every process it started."""
        deadline = time.monotonic() + timeout
        while "ssj is running" not in self.output():
            if self.proc.poll() is not None:
                pytest.fail(f"ssj run exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"ssj run not ready within {timeout} s:\n{self.output()}")
            time.sleep(0.2)
        self.family = _family(self.proc.pid, self.data_dir)
        names = _describe(self.family)
        for expected in ("nats-server", "postgres", "services.registry.main"):
            assert expected in names, f"no {expected} among ssj run's processes:\n{names}"

    def cleanup(self) -> None:
        """Kill only what this test started and is still there (after a failure)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pid, started in self.family | _using(self.data_dir):
            if _alive((pid, started)):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        running.cleanup()


def test_sigkill_of_ssj_run_leaves_no_server_or_service_running(stack: Stack) -> None:
    stack.wait_running()
    os.kill(stack.proc.pid, signal.SIGKILL)
    stack.proc.wait()

    left = _wait_gone(stack.family, timeout=20)
    assert not left, f"still running 20 s after SIGKILL of ssj run:\n{_describe(left)}"
    assert not _using(stack.data_dir), _describe(_using(stack.data_dir))


def test_sigterm_stops_services_then_servers_and_exits_cleanly(stack: Stack) -> None:
    stack.wait_running()
    stack.proc.send_signal(signal.SIGTERM)
    assert stack.proc.wait(60) == 0, stack.output()

    assert "stopped." in stack.output()
    left = _wait_gone(stack.family, timeout=5)
    assert not left, f"still running after ssj run stopped:\n{_describe(left)}"
    assert not _using(stack.data_dir), _describe(_using(stack.data_dir))
