"""The load of a chaos run: the real cycle (items, subjects, inspectors, a joint plan, a
draw, results through review to publication: tests/e2e/scenario.py) over and over, bulk
imports of subjects, and the public reading the disclosure service, all through
:class:`~tests.chaos.client.ResilientClient` while faults hit the services.

A round that cannot finish (a command whose answer was lost with its process, then
refused on retry as already done) is counted and the next one starts: the load is there
to keep every part of the system busy; what must hold is the checker's business.
"""

from __future__ import annotations

import csv
import io
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from libs.common.auth import issue_token
from libs.common.settings import CommonSettings
from tests.builders import subject_payload
from tests.chaos.client import ResilientClient, Tally
from tests.e2e.scenario import Endpoints, Scenario

IMPORT_ROWS = 20
IMPORT_EVERY_S = 1.5
READ_EVERY_S = 0.2
HEADER = [
    "identifier", "kind", "name", "region_code", "industry", "risk_class", "address",
    "departments",
]  # fmt: skip


@dataclass
class Completed:
    """What a finished round left to look for."""

    draw_id: str
    recorded: dict[str, tuple[str, str]]  # subject identifier → (task id, outcome)


@dataclass
class LoadReport:
    """What the load did."""

    rounds_started: int = 0
    rounds: list[Completed] = field(default_factory=list)
    round_errors: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # identifiers of acknowledged imports
    imports_refused: list[str] = field(default_factory=list)
    public_reads: int = 0
    public_errors: int = 0
    forbidden_tried: int = 0
    # A forbidden call that was answered 2xx under faults (the access matrix must hold
    # while leaders move and processes die): each is a defect.
    forbidden_allowed: list[str] = field(default_factory=list)


# How long a round's settle waits before it looks whether the load is stopping.
SETTLE_SLICE_S = 2.0


class RoundStopped(Exception):
    """The load stopped in the middle of a round."""


class ChaosScenario(Scenario):
    """The demo's cycle with a resilient client and data of its own round."""

    def __init__(
        self,
        urls: dict[str, list[str]],
        settings: CommonSettings,
        tally: Tally,
        n: int,
        stop: threading.Event,
    ) -> None:
        first = {name: replicas[0] for name, replicas in urls.items()}
        super().__init__(Endpoints(first), settings, out=io.StringIO())
        self.http.close()
        self.http = ResilientClient(urls, tally)
        self.stop = stop
        self.rng = random.Random(1000 + n)
        self.run = f"{(int(time.time()) + n) % 90000 + 10000:05d}"

    def call(self, method: str, service: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        """As the demo's; once the load is stopping, the round ends at its next call."""
        if self.stop.is_set():
            raise RoundStopped
        return super().call(method, service, path, who, **kw)

    def settle(self, timeout: float = 120.0) -> None:
        """As the demo's, with time for a process coming back; once the load is stopping,
        the round ends instead of waiting (the run's own convergence check then measures
        the system, not a round's wait)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.stop.is_set():
                raise RoundStopped
            try:
                super().settle(min(SETTLE_SLICE_S, max(deadline - time.monotonic(), 0.0)))
                return
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise


class Load:
    """Threads driving the system until :meth:`stop`."""

    def __init__(self, urls: dict[str, list[str]], settings: CommonSettings) -> None:
        self.urls = urls
        self.settings = settings
        self.tally = Tally()
        self.report = LoadReport()
        self._stop = threading.Event()
        self.stopped_in: dict[str, float] = {}
        self._threads = [
            threading.Thread(target=self._rounds, name="chaos-rounds", daemon=True),
            threading.Thread(target=self._imports, name="chaos-imports", daemon=True),
            threading.Thread(target=self._reads, name="chaos-reads", daemon=True),
            threading.Thread(target=self._forbidden, name="chaos-access", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 180.0) -> None:
        """Stop starting work; wait for what is under way (a round finishes its step).
        ``stopped_in`` then says how long each thread took to end (seconds)."""
        self._stop.set()
        started = time.monotonic()
        for thread in self._threads:
            thread.join(timeout)
            self.stopped_in[thread.name] = round(time.monotonic() - started, 1)

    def _token(self, sub: str, dept: str, *roles: str) -> dict[str, str]:
        token = issue_token(self.settings, sub=sub, dept=dept, roles=roles, ttl_seconds=6 * 3600)
        return {"Authorization": f"Bearer {token}"}

    def _rounds(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            self.report.rounds_started += 1
            scenario = ChaosScenario(self.urls, self.settings, self.tally, n, self._stop)
            try:
                outcome = scenario.run_cycle()
            except RoundStopped:
                self.report.rounds_started -= 1  # not a round that failed
                return
            except Exception as exc:  # a round may fail; the checker judges
                self.report.round_errors.append(f"round {n}: {type(exc).__name__}: {exc}"[:500])
                continue
            finally:
                scenario.http.close()
            self.report.rounds.append(Completed(outcome["draw"]["id"], outcome["recorded"]))

    def _imports(self) -> None:
        operator = self._token("chaos-import", "SAMR", "operator")
        rng = random.Random(77)
        client = ResilientClient(self.urls, self.tally)
        url = self.urls["registry"][0]
        try:
            while not self._stop.wait(IMPORT_EVERY_S):
                regions = [f"42020{rng.randrange(2, 6)}" for _ in range(IMPORT_ROWS)]
                rows = [subject_payload(rng, rng.choice("ABCD"), region_code=r) for r in regions]
                out = io.StringIO()
                writer = csv.writer(out)
                writer.writerow(HEADER)
                for n, row in enumerate(rows):
                    row = {**row, "departments": "SAMR", "address": f"黄石市下陆区某路{n}号"}
                    writer.writerow([row[h] for h in HEADER])
                try:
                    answer = client.post(
                        f"{url}/v1/imports/subjects",
                        params={"filename": "chaos.csv"},
                        content=out.getvalue().encode(),
                        headers=operator,
                    )
                except Exception as exc:  # no replica within the deadline
                    self.report.imports_refused.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                if answer.status_code == 200:
                    self.report.imported.extend(r["identifier"] for r in rows)
                else:
                    self.report.imports_refused.append(f"{answer.status_code}: {answer.text[:300]}")
        finally:
            client.close()

    def _reads(self) -> None:
        client = ResilientClient(self.urls, self.tally)
        url = self.urls["disclosure"][0]
        paths = ["/v1/public/results?limit=20", "/v1/public/draws?limit=20", "/", "/draws"]
        try:
            for path in _cycle(paths):
                if self._stop.wait(READ_EVERY_S):
                    return
                try:
                    answer = client.get(f"{url}{path}")
                    self.report.public_reads += 1
                    if answer.status_code != 200:
                        self.report.public_errors += 1
                except Exception:  # no replica answered within the deadline
                    self.report.public_errors += 1
        finally:
            client.close()

    def _forbidden(self) -> None:
        """Calls the access matrix refuses, over and over, while the faults go on."""
        rng = random.Random(5)
        tax = self._token("chaos-tax", "TAX", "operator")
        inspector = self._token("chaos-insp", "SAMR", "inspector")
        platform = self._token("chaos-platform", "PLATFORM", "platform")
        enterprise = self._token("91420200MA4K000000", "SUBJECT", "subject")
        calls: list[tuple[str, str, str, dict[str, str], Any]] = [
            ("anonymous writes an item", "registry", "/v1/items", {}, {"code": "X"}),
            ("TAX registers a SAMR subject", "registry", "/v1/subjects", tax, None),
            ("an inspector registers a subject", "registry", "/v1/subjects", inspector, None),
            ("a platform registers a subject", "registry", "/v1/subjects", platform, None),
            ("an enterprise reads the register", "registry", "/v1/subjects", enterprise, None),
            ("TAX publishes a plan", "planner", "/v1/plans/compile", tax, {}),
        ]
        client = ResilientClient(self.urls, self.tally)
        try:
            for what, service, path, who, body in _cycle(calls):
                if self._stop.wait(0.5):
                    return
                url = f"{self.urls[service][0]}{path}"
                if path == "/v1/subjects" and body is None and who is not enterprise:
                    body = subject_payload(rng, "A")  # a SAMR subject
                try:
                    if who is enterprise:
                        answer = client.get(url, headers=who)
                    else:
                        answer = client.post(url, json=body, headers=who)
                except Exception:  # no replica answered within the deadline
                    continue
                self.report.forbidden_tried += 1
                if answer.status_code < 300:
                    self.report.forbidden_allowed.append(f"{what}: {answer.status_code}")
        finally:
            client.close()


def _cycle(items: list[Any]) -> Any:
    while True:
        yield from items
