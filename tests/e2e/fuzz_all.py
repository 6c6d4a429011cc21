"""`make fuzz`: schemathesis against all five services as every role, on a stack holding a
demo cycle's records; afterwards the stack settles with no alarm and the demo cycle still
passes. The last line of the output is the JSON of the figures, with a verdict per service
(``pass``: no 5xx, every answer declared and matching its schema, at least
:data:`MIN_CASES` cases). Exit status 0 when every verdict holds and the stack came through.

``SSJ_FUZZ_EXAMPLES`` sets the cases per operation and phase (`make fuzz`: 80).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from libs.common.settings import SERVICE_PORTS
from tests.e2e.fuzz import SERVICES, examples, fuzz_service, settled
from tests.e2e.fuzz_cast import cast, known_records
from tests.e2e.scenario import Endpoints, Scenario
from tests.support import Infra, ServiceProcess, start_infra, start_stack, stop_infra

MIN_CASES = 1000


def main() -> int:
    """Run it all; print progress, then the figures as one JSON line."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ssj-fuzz-"))
    size = examples()
    infra = start_infra()
    stack: dict[str, ServiceProcess] = {}
    summary: dict[str, Any] = {"examples": size, "reports": str(workdir)}
    try:
        stack = start_stack(infra, SERVICE_PORTS)
        urls = {name: proc.url for name, proc in stack.items()}
        scenario = Scenario(Endpoints(urls), infra.settings(), out=io.StringIO())
        cycle = scenario.run_cycle()
        tokens = cast(infra, cycle)
        config = known_records(cycle)
        office = {"Authorization": f"Bearer {tokens['office']}"}
        settled(urls, office)
        services = {}
        for service in SERVICES:
            done = fuzz_service(service, urls[service], tokens, workdir, size, config, full=True)
            services[service] = done
            print(
                f"{service}: {done.cases} cases, {done.server_errors} 5xx, "
                f"{done.nonconforming} nonconforming, {done.seconds:.0f} s",
                flush=True,
            )
            for run in done.runs:
                if run.returncode != 0:
                    print(run.failure(), flush=True)
        summary["services"] = {name: done.summary() for name, done in services.items()}
        summary["pass"] = {name: done.passed(MIN_CASES) for name, done in services.items()}
        summary["settled"] = _settles(urls, office)
        summary["cycle_after"] = _cycle_passes(urls, infra)
        summary["settled_after_cycle"] = _settles(urls, office)
    finally:
        for proc in stack.values():
            proc.stop()
        stop_infra(infra)
    verdicts = [
        *summary["pass"].values(),
        summary["settled"],
        summary["cycle_after"],
        summary["settled_after_cycle"],
    ]
    if all(verdicts):
        # schemathesis's reports (~150 MB) are kept only to read what failed.
        shutil.rmtree(workdir, ignore_errors=True)
        summary["reports"] = None
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0 if all(verdicts) else 1


def _cycle_passes(urls: dict[str, str], infra: Infra) -> bool:
    """Whether the demo's whole cycle still passes on the fuzzed stack."""
    try:
        cycle = Scenario(Endpoints(urls), infra.settings(), out=io.StringIO()).run_cycle()
    except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        print(f"the demo cycle failed after the fuzzing: {exc}", flush=True)
        return False
    return bool(cycle["recorded"]) and cycle["missing"] == []


def _settles(urls: dict[str, str], headers: dict[str, str]) -> bool:
    try:
        settled(urls, headers)
    except AssertionError as exc:
        print(exc, flush=True)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
