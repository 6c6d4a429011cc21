"""Fuzzing a running service's OpenAPI with schemathesis, and waiting for the stack to settle.

Used by ``tests/e2e/test_registry_fuzz.py`` (a small run inside ``make test``) and by
``make fuzz`` (``SSJ_FUZZ_EXAMPLES`` cases per operation, more). schemathesis runs as its
own command (its CLI is the supported interface and keeps its Hypothesis settings out of
ours); the report it writes is read back for the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Cases per operation in `make test`; `make fuzz` sets SSJ_FUZZ_EXAMPLES higher.
DEFAULT_EXAMPLES = 25
# 5xx answers are defects; answers must match the declared statuses and schemas.
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


@dataclass
class FuzzRun:
    """What one schemathesis run did."""

    returncode: int
    output: str
    statuses: Counter[int]

    @property
    def cases(self) -> int:
        """Requests sent."""
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """Answers with status ≥ 500 (defects)."""
        return sum(n for status, n in self.statuses.items() if status >= 500)


def examples() -> int:
    """Cases per operation for this run."""
    return int(os.environ.get("SSJ_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


def fuzz(base_url: str, token: str, workdir: Path, max_examples: int, seed: int = 2026) -> FuzzRun:
    """Fuzz every operation of the service at ``base_url`` with ``token``."""
    ndjson = workdir / "events.ndjson"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        # One worker: with two threads, hypothesis' ast.parse of a lambda's source hits
        # CPython 3.11's "AST constructor recursion depth mismatch" SystemError now and
        # then (a race in the interpreter, not a finding), which ends the run.
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "60",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(ndjson),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=workdir)
    (workdir / "output.txt").write_text(done.stdout + done.stderr)
    return FuzzRun(done.returncode, done.stdout + done.stderr, _count(ndjson))


def _count(ndjson: Path) -> Counter[int]:
    """How many answers of each status schemathesis's event log records."""
    statuses: Counter[int] = Counter()
    if ndjson.exists():
        for line in ndjson.read_text().splitlines():
            statuses.update(_statuses(json.loads(line)))
    return statuses


def _statuses(value: Any) -> list[int]:
    """Every response status recorded anywhere in one event (its shape varies by kind)."""
    found: list[int] = []
    if isinstance(value, dict):
        response = value.get("response")
        if isinstance(response, dict) and isinstance(response.get("status_code"), int):
            found.append(response["status_code"])
        for key, item in value.items():
            if key != "response":
                found.extend(_statuses(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_statuses(item))
    return found


def settled(
    urls: dict[str, str], headers: dict[str, str], timeout: float = 120.0
) -> dict[str, Any]:
    """Wait until every service is ready with no relay or consumer lag and no alarm;
    return the last /readyz answers (raises with them if the stack never settles).
    ``headers`` carry an office or auditor token: /readyz shows its checks to them only."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = {}
        for name, url in urls.items():
            try:
                answer = httpx.get(f"{url}/readyz", headers=headers, timeout=10)
                last[name] = {**answer.json(), "http": answer.status_code}
            except httpx.HTTPError as exc:
                last[name] = {"http": 0, "error": repr(exc)}
        if all(_idle(a) for a in last.values()):
            return last
        time.sleep(0.5)
    raise AssertionError(f"the stack did not settle: {json.dumps(last, ensure_ascii=False)}")


def _idle(answer: dict[str, Any]) -> bool:
    checks = answer.get("checks") or {}
    return (
        answer.get("http") == 200
        and checks.get("relay_lag") == 0
        and all(lag == 0 for lag in (checks.get("consumer_lag") or {}).values())
        and not checks.get("alarms")
    )
