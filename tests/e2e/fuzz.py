"""Fuzzing a running service's OpenAPI with schemathesis, as every role, and waiting for the
stack to settle.

Used by ``tests/e2e/test_registry_fuzz.py`` (a small run inside ``make test``) and by
``tests/e2e/fuzz_all.py`` (``make fuzz``, ``SSJ_FUZZ_EXAMPLES`` cases per operation).
schemathesis runs as its own command (its CLI is the supported interface and keeps its
Hypothesis settings out of ours); :mod:`tests.e2e.fuzz_hooks` puts a role's token on each
case and logs every answer with its role; the ndjson report it writes is read back for the
checks that failed.

Each service is fuzzed twice: as the office (the strongest writer, every phase, the coverage
phase's boundary and negative cases included) and as the seven other roles sharing the cases
(each case goes to one of them). Both know the records of a demo cycle run beforehand
(:mod:`tests.e2e.fuzz_cast`). The stateful phase follows the links schemathesis infers
between operations (from the resources the responses declare and from ``Location``
headers); few are followed, since most creating calls with generated bodies are refused by
the domain's rules and half the success answers declare no schema to find ids in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.fuzz_cast import OFFICE, OTHER_ROLES

ROOT = Path(__file__).resolve().parents[2]
# Cases per operation in `make test`; `make fuzz` sets SSJ_FUZZ_EXAMPLES higher.
DEFAULT_EXAMPLES = 10
# 5xx answers are defects; answers must match the declared statuses, media types, headers
# and schemas, and an OPTIONS refused names the path's methods. Not checked: whether the
# schema alone predicts acceptance (positive_data_acceptance, negative_data_rejection: the
# domain's rules, a USCC's check digit or a text's control characters, are stricter than a
# JSON Schema says, and their refusal is a declared 422), and unsupported_method: a literal
# segment beside a path parameter (GET /v1/plans/compile) is that parameter's value to the
# router (a plan id that is no UUID: 422), not a method the path lacks (405).
CONFORMANCE = frozenset(
    {
        "status_code_conformance",
        "response_schema_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "allow_header_conformance",
    }
)
CHECKS = ",".join(["not_a_server_error", *sorted(CONFORMANCE)])
SERVICES = ("registry", "planner", "draw", "results", "disclosure")


@dataclass
class FuzzRun:
    """What one schemathesis run did."""

    label: str
    returncode: int
    output: str
    seconds: float
    # Role → status → answers (``anonymous``: the token removed or spoiled on purpose).
    by_role: dict[str, Counter[int]] = field(default_factory=dict)
    nonconforming: int = 0

    @property
    def statuses(self) -> Counter[int]:
        """Answers of each status, whoever asked."""
        total: Counter[int] = Counter()
        for statuses in self.by_role.values():
            total.update(statuses)
        return total

    @property
    def cases(self) -> int:
        """Requests sent."""
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """Answers with status ≥ 500 (defects)."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def failure(self) -> str:
        """The end of schemathesis's output, which names what failed."""
        return f"{self.label}: exit {self.returncode}\n{self.output[-8000:]}"


@dataclass
class ServiceFuzz:
    """Every run against one service."""

    service: str
    runs: list[FuzzRun]

    @property
    def statuses(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for run in self.runs:
            total.update(run.statuses)
        return total

    @property
    def by_role(self) -> dict[str, Counter[int]]:
        roles: dict[str, Counter[int]] = {}
        for run in self.runs:
            for role, statuses in run.by_role.items():
                roles.setdefault(role, Counter()).update(statuses)
        return roles

    @property
    def cases(self) -> int:
        return sum(run.cases for run in self.runs)

    @property
    def server_errors(self) -> int:
        return sum(run.server_errors for run in self.runs)

    @property
    def nonconforming(self) -> int:
        return sum(run.nonconforming for run in self.runs)

    @property
    def seconds(self) -> float:
        return sum(run.seconds for run in self.runs)

    def passed(self, min_cases: int) -> bool:
        """No 5xx, every answer declared and matching its schema, schemathesis content,
        and at least ``min_cases`` requests."""
        return (
            self.server_errors == 0
            and self.nonconforming == 0
            and all(run.returncode == 0 for run in self.runs)
            and self.cases >= min_cases
        )

    def summary(self) -> dict[str, Any]:
        """The figures of the JSON line of `make fuzz`."""
        return {
            "cases": self.cases,
            "statuses": _plain(self.statuses),
            "server_errors": self.server_errors,
            "nonconforming": self.nonconforming,
            "seconds": round(self.seconds, 1),
            "roles": {
                role: {"cases": sum(statuses.values()), "statuses": _plain(statuses)}
                for role, statuses in sorted(self.by_role.items())
            },
        }


def examples() -> int:
    """Cases per operation for this run."""
    return int(os.environ.get("SSJ_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


def fuzz_service(
    service: str,
    base_url: str,
    tokens: dict[str, str],
    workdir: Path,
    max_examples: int,
    config: str,
    full: bool,
) -> ServiceFuzz:
    """Fuzz one service as the office, then as the seven other roles sharing the cases.
    ``full`` (`make fuzz`) gives the other roles the coverage phase as well."""
    office = fuzz(
        f"{service} as the office",
        base_url,
        {OFFICE: tokens[OFFICE]},
        workdir / f"{service}-office",
        max_examples,
        "examples,coverage,fuzzing,stateful",
        config,
    )
    others = fuzz(
        f"{service} as the other roles",
        base_url,
        {role: tokens[role] for role in OTHER_ROLES},
        workdir / f"{service}-roles",
        max_examples,
        "coverage,fuzzing,stateful" if full else "fuzzing,stateful",
        config,
    )
    return ServiceFuzz(service, [office, others])


def fuzz(
    label: str,
    base_url: str,
    tokens: dict[str, str],
    workdir: Path,
    max_examples: int,
    phases: str,
    config: str = "",
    seed: int = 2026,
) -> FuzzRun:
    """Fuzz every operation of the service at ``base_url``, each case with the token of one
    of ``tokens`` (role → token)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ndjson, calls, toml = workdir / "events.ndjson", workdir / "calls.jsonl", workdir / "st.toml"
    toml.write_text(config)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(toml),
        "run",
        f"{base_url}/openapi.json",
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
        phases,
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "60",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(ndjson),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "SSJ_FUZZ_TOKENS": json.dumps(tokens),
        "SSJ_FUZZ_LOG": str(calls),
    }
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, cwd=workdir, env=env
    )
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    (workdir / "output.txt").write_text(output)
    return FuzzRun(label, done.returncode, output, seconds, _by_role(calls), _nonconforming(ndjson))


def _by_role(calls: Path) -> dict[str, Counter[int]]:
    """Answers of each status per role, from the hooks' log."""
    roles: dict[str, Counter[int]] = {}
    if calls.exists():
        for line in calls.read_text().splitlines():
            call = json.loads(line)
            roles.setdefault(call["role"], Counter())[call["status"]] += 1
    return roles


def _nonconforming(ndjson: Path) -> int:
    """Cases whose answer failed a conformance check: an undeclared status, media type or
    header, a body not matching its schema, a 405 without the path's methods."""
    failed: set[str] = set()
    if ndjson.exists():
        for line in ndjson.read_text().splitlines():
            finished = json.loads(line).get("ScenarioFinished") or {}
            checks = (finished.get("recorder") or {}).get("checks") or {}
            for case_id, results in checks.items():
                if any(
                    r.get("name") in CONFORMANCE and r.get("status") == "failure" for r in results
                ):
                    failed.add(case_id)
    return len(failed)


def _plain(statuses: Counter[int]) -> dict[str, int]:
    return {str(status): n for status, n in sorted(statuses.items())}


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
