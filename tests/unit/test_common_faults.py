"""Crash points of libs/common.faults: the process dies exactly where and when asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from libs.common.faults import CRASH_EXIT_CODE, crash_point
from tests.support import ROOT

LOOP = """
from libs.common.faults import crash_point
for i in range(5):
    crash_point("relay.other")
    print(i, flush=True)
    crash_point("relay.after_publish")
print("done", flush=True)
"""


def _run(crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SSJ_CRASH_AT"}
    if crash_at is not None:
        env["SSJ_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-c", LOOP],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_crash_point_with_a_count_dies_on_that_pass() -> None:
    done = _run("relay.after_publish@3")
    assert done.returncode == CRASH_EXIT_CODE
    assert done.stdout.split() == ["0", "1", "2"]


def test_crash_point_without_a_count_dies_on_the_first_pass() -> None:
    done = _run("relay.after_publish")
    assert done.returncode == CRASH_EXIT_CODE
    assert done.stdout.split() == ["0"]


@pytest.mark.parametrize("crash_at", [None, "", "consumer.after_commit", "relay.after_publish@9"])
def test_process_runs_through_when_no_crash_point_matches(crash_at: str | None) -> None:
    done = _run(crash_at)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "2", "3", "4", "done"]


def test_unrelated_crash_point_returns_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSJ_CRASH_AT", "consumer.after_commit")
    for _ in range(3):
        crash_point("relay.after_publish")
