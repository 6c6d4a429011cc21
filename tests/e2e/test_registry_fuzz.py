"""Hostile requests, as every role, are refused at the door or applied everywhere, never
stuck in between, and every answer is one the OpenAPI document declares.

The five services run as processes on a stack holding a demo cycle's records. schemathesis
fuzzes each service's whole API as the office (every phase) and as the seven other roles
sharing the cases (tests/e2e/fuzz.py): no 5xx, every status declared, every body matching
its schema. Afterwards every relay and consumer of every service has caught up with no
alarm, and the demo's whole cycle still passes on the same database. This is the small run
of `make test` (``SSJ_FUZZ_EXAMPLES``, 10 cases per operation); `make fuzz` runs the same
with more (tests/e2e/fuzz_all.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from libs.common.settings import SERVICE_PORTS
from tests.e2e.fuzz import SERVICES, examples, fuzz_service, settled
from tests.e2e.fuzz_cast import cast, known_records
from tests.e2e.scenario import Endpoints, Scenario
from tests.support import Infra, ServiceProcess, service_stack

pytestmark = pytest.mark.e2e


@dataclass
class Seeded:
    """The running stack, the demo cycle's records it holds and a token of every role."""

    urls: dict[str, str]
    tokens: dict[str, str]
    config: str


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    procs = {n: p.start(wait=False) for n, p in service_stack(infra, SERVICE_PORTS).items()}
    try:
        for proc in procs.values():
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
def seeded(infra: Infra, stack: dict[str, ServiceProcess]) -> Seeded:
    urls = {name: proc.url for name, proc in stack.items()}
    cycle = Scenario(Endpoints(urls), infra.settings(), out=io.StringIO()).run_cycle()
    return Seeded(urls, cast(infra, cycle), known_records(cycle))


@pytest.mark.parametrize("service", SERVICES)
def test_no_role_gets_a_5xx_or_an_undeclared_answer(
    service: str, seeded: Seeded, tmp_path: Path
) -> None:
    """Every operation of the service, with hostile and with valid inputs naming existing
    records, as the office and as each other role: refused (401, 403, 404, 409, 422, …) or
    done, always as declared, never a 5xx."""
    done = fuzz_service(
        service,
        seeded.urls[service],
        seeded.tokens,
        tmp_path,
        examples(),
        seeded.config,
        full=False,
    )
    print(f"{service} fuzz: {done.summary()}")
    assert done.server_errors == 0, "\n".join(run.failure() for run in done.runs)
    assert done.nonconforming == 0, "\n".join(run.failure() for run in done.runs)
    for run in done.runs:
        assert run.returncode == 0, run.failure()
        assert run.cases >= 100, run.failure()
    # Every role was asked, and some requests got through to the operations' own rules.
    assert set(seeded.tokens) <= set(done.by_role), sorted(done.by_role)
    assert sum(n for status, n in done.statuses.items() if 200 <= status < 300) > 0


def test_after_the_fuzzing_the_stack_settles_and_the_demo_cycle_passes(
    infra: Infra, seeded: Seeded
) -> None:
    """Whatever the fuzzing wrote reached every read model, with no alarm, and left the
    stack able to run the whole cycle again."""
    office = {"Authorization": f"Bearer {seeded.tokens['office']}"}
    settled(seeded.urls, office)
    cycle = Scenario(Endpoints(seeded.urls), infra.settings(), out=io.StringIO()).run_cycle()
    assert cycle["recorded"] and cycle["missing"] == []
    settled(seeded.urls, office)
