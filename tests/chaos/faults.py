"""The fault schedule: every process of every service killed with SIGKILL once (relays and
consumers die with it; leadership moves to the other replica) and started again; the NATS
server killed with SIGKILL and restarted; PostgreSQL restarted. One fault at a time, at a
steady pace, so each hits a system under load that has just recovered from the last."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.chaos.stack import ChaosStack

DOWN_S = 2.0  # how long a killed process stays dead


@dataclass
class Fault:
    """One fault as it happened."""

    kind: str  # kill_service, kill_nats, restart_postgres
    target: str
    at_s: float  # seconds since the schedule started
    down_s: float = 0.0


@dataclass
class Schedule:
    """The faults of one run, injected by a thread until done or stopped."""

    stack: ChaosStack
    every_s: float
    seed: int = 2026
    faults: list[Fault] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_healed: float = 0.0  # time.monotonic() when the last fault was repaired

    def plan(self) -> list[tuple[str, str, Callable[[], float]]]:
        """Every service process once, NATS twice, PostgreSQL once, shuffled (seeded)."""
        steps: list[tuple[str, str, Callable[[], float]]] = []
        for name, procs in self.stack.procs.items():
            for index in range(len(procs)):
                steps.append(("kill_service", f"{name}#{index}", self._service(name, index)))
        nats = "a cluster node" if self.stack.cluster else "nats"
        for _ in range(3 if self.stack.cluster else 2):  # each node once, or the server twice
            steps.append(("kill_nats", nats, self._nats))
        steps.append(("restart_postgres", "postgres", self.stack.restart_postgres))
        random.Random(self.seed).shuffle(steps)
        return steps

    def _service(self, name: str, index: int) -> Callable[[], float]:
        def fault() -> float:
            started = time.monotonic()
            self.stack.kill_service(name, index)
            time.sleep(DOWN_S)
            self.stack.restart_service(name, index)
            return time.monotonic() - started

        return fault

    def _nats(self) -> float:
        started = time.monotonic()
        which = self.stack.kill_nats()
        time.sleep(DOWN_S)
        self.stack.restart_nats(which)
        return time.monotonic() - started

    def run(self, stop: threading.Event) -> None:
        """Inject the plan's faults one every ``every_s`` seconds."""
        started = time.monotonic()
        for kind, target, fault in self.plan():
            if stop.wait(self.every_s):
                return
            at = time.monotonic() - started
            try:
                down = fault()
            except Exception as exc:  # reported: a fault that could not heal
                self.errors.append(f"{kind} {target}: {type(exc).__name__}: {exc}"[:500])
                down = time.monotonic() - started - at
            self.faults.append(Fault(kind, target, round(at, 1), round(down, 1)))
            self.last_healed = time.monotonic()
            print(f"  fault {len(self.faults)}: {kind} {target} at {at:.0f} s, "
                  f"back {down:.1f} s later", flush=True)  # fmt: skip
