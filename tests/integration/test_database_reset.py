"""A service started on a reset database under the streams of the old one (real
PostgreSQL, NATS and the registry as a process): it publishes nothing and its own read
models take nothing of the old stream, both say so on /readyz, and the documented
recovery (`ssj streams reset`, restart) leaves only the new database's events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from libs.common import cli
from tests.builders import register_departments
from tests.support import Infra, ServiceProcess, isolated_infra, stop_infra, token, wait_until


@pytest.fixture
def own(infra: Infra) -> Iterator[Infra]:
    """A database and namespace this test drops and recreates."""
    isolated = isolated_infra(infra)
    yield isolated
    stop_infra(isolated)


def _recreate_database(infra: Infra) -> None:
    dbname = urlsplit(infra.database_url).path.lstrip("/")
    with psycopg.connect(infra.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def _get(url: str, path: str, bearer: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def _alarms(proc: ServiceProcess, office: str) -> dict[str, dict[str, Any]]:
    try:
        answer = _get(proc.url, "/readyz", office)
    except httpx.ConnectError:  # not listening yet
        return {}
    if answer.status_code != 503:
        return {}
    return {a["component"]: a for a in answer.json()["checks"]["alarms"]}


def _codes(proc: ServiceProcess, office: str) -> list[str]:
    answer = _get(proc.url, "/v1/departments", office)
    assert answer.status_code == 200, answer.text
    return [d["code"] for d in answer.json()]


def test_a_reset_database_under_old_streams_neither_publishes_nor_applies_them(
    own: Infra,
) -> None:
    office = token(own, "office-1", "OFFICE", "office")
    before = ServiceProcess(own, "registry").start()
    try:
        register_departments(before.url, office, ["SAMR", "TAX"])
        assert wait_until(lambda: _codes(before, office) == ["SAMR", "TAX"])
    finally:
        before.stop()

    _recreate_database(own)
    reset = ServiceProcess(own, "registry").start(wait=False)
    try:
        stream = f"{own.namespace.upper()}_SSJ_REGISTRY"
        components = {f"relay:{stream}", "consumer:registry-views", "consumer:registry-register"}
        alarms = wait_until(
            lambda: set(_alarms(reset, office)) == components and _alarms(reset, office)
        )
        for alarm in alarms.values():
            assert alarm["reason"] == "stream_database_mismatch"
            assert alarm["details"]["database_max_id"] == 0
            assert alarm["details"]["reason"] == "the stream is ahead of the database"
        # The old database's departments are not in the new one's read model.
        assert _codes(reset, office) == []
    finally:
        reset.stop()

    argv = ["streams", "reset", "--namespace", own.namespace, "--yes"]
    assert asyncio.run(asyncio.to_thread(cli.main, argv)) == 0
    after = ServiceProcess(own, "registry").start()  # /readyz 200: no alarm stands
    try:
        assert _codes(after, office) == []
        register_departments(after.url, office, ["HEALTH"])
        assert wait_until(lambda: _codes(after, office) == ["HEALTH"])
        assert _alarms(after, office) == {}
    finally:
        after.stop()
