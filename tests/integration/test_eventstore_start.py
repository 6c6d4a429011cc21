"""Processes of one service start together on a new database (every replica of a
deployment): each gets its event store, none fails on another's DDL."""

from __future__ import annotations

import threading
import uuid

from tests.integration.common_app import Account, AccountsApp
from tests.support import Infra

STARTERS = 6
ROUNDS = 4


def _start_together(infra: Infra) -> tuple[list[AccountsApp], list[str]]:
    """``STARTERS`` event stores of one new schema, started at the same moment."""
    schema = f"start{uuid.uuid4().hex[:8]}"
    app_class = type("StartTestApp", (AccountsApp,), {"service": schema})
    settings = infra.settings(schema)
    ready = threading.Barrier(STARTERS)
    apps: list[AccountsApp] = []
    failures: list[str] = []

    def start() -> None:
        ready.wait()
        try:
            apps.append(app_class(settings))
        except Exception as exc:  # what a replica would die of
            failures.append(f"{type(exc).__name__}: {exc}")

    starters = [threading.Thread(target=start) for _ in range(STARTERS)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(60)
    return apps, failures


def test_replicas_starting_together_on_a_new_schema_all_start(infra: Infra) -> None:
    for _ in range(ROUNDS):
        apps, failures = _start_together(infra)
        try:
            assert not failures, failures
            account = Account(owner="o")
            apps[0].save(account)
            assert all(app.repository.get(account.id).owner == "o" for app in apps)
        finally:
            for app in apps:
                app.close()
