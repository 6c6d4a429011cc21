"""A task command whose save meets a concurrent write of the same task (the deadline
watch's recount, the dispatcher) is run again on the task as it now stands; a conflict that
persists is still answered (services/results/task_api.py). The event store's own part, that
a conflicting save stores nothing, is tests/integration/test_eventstore_append.py's."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from services.results import task_api


class _Who:
    actor = object()


def _patch(monkeypatch: pytest.MonkeyPatch, conflicts: int) -> list[int]:
    """run_command fails with a version conflict ``conflicts`` times, then succeeds."""
    calls: list[int] = []

    async def assignment(db: Any, task: Any) -> str:
        return "assignment"

    async def run_command(*args: Any, **kwargs: Any) -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= conflicts:
            raise IntegrityError("the task's version moved")
        return "task"

    monkeypatch.setattr(task_api, "task_assignment", assignment)
    monkeypatch.setattr(task_api, "run_command", run_command)
    monkeypatch.setattr(task_api, "task_view", lambda found: {"found": found})
    return calls


async def test_a_command_that_met_a_concurrent_write_is_run_again() -> None:
    with pytest.MonkeyPatch.context() as mp:
        calls = _patch(mp, conflicts=task_api.CONFLICT_ATTEMPTS - 1)
        answer = await task_api.task_command(None, _Who(), None, None, uuid4())  # type: ignore[arg-type]
    assert answer == {"found": "task"}
    assert calls == list(range(1, task_api.CONFLICT_ATTEMPTS + 1))


async def test_a_conflict_that_persists_is_answered() -> None:
    with pytest.MonkeyPatch.context() as mp:
        calls = _patch(mp, conflicts=task_api.CONFLICT_ATTEMPTS)
        with pytest.raises(IntegrityError):
            await task_api.task_command(None, _Who(), None, None, uuid4())  # type: ignore[arg-type]
    assert len(calls) == task_api.CONFLICT_ATTEMPTS
