"""``ssj backup`` of a stack that ran the whole cycle, ``ssj restore`` on a fresh stack (new
PostgreSQL and NATS servers): the same read models, the same verdicts (``ssj audit
verify``, the draw's proof, the hash chains), and a stack that goes on working."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from libs.common.audit import verify
from libs.common.backup import backup, restore
from libs.common.infra import EmbeddedNats, EmbeddedPostgres
from libs.common.settings import SERVICE_PORTS
from services.draw.protocol.canonical import canonical_json
from tests.builders import subject_payload
from tests.e2e.scenario import Endpoints, Scenario
from tests.support import (
    Infra,
    ServiceProcess,
    isolated_infra,
    start_stack,
    stop_infra,
    token,
    with_database,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# Bookkeeping that is not a read model: who leads, what keys were seen, when.
NOT_READ_MODELS = ("idempotency_keys", "leader", "lease", "alarm")


def read_models(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the five services' schemas but the events tables and
    the bookkeeping above, sorted: what the read side holds."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(database_url) as conn:
        events = {
            (s, t)
            for s, t in conn.execute(
                "SELECT event_object_schema, event_object_table FROM information_schema.triggers"
                " WHERE trigger_name = 'ssj_events_append_only'"
            ).fetchall()
        }
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            (list(SERVICE_PORTS),),
        ).fetchall()
        for schema, table in tables:
            if (schema, table) in events or any(word in table for word in NOT_READ_MODELS):
                continue
            rows = conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            out[f"{schema}.{table}"] = sorted(rows, key=repr)
    return out


def verdicts(infra: Infra, draw_url: str, draw_id: str, tmp: Path) -> dict[str, Any]:
    """What the checks say of the record: the audit per table, the draw's proof offline,
    the draw's hash chain."""
    audits = {
        r.table: (r.events, r.streams, r.chained, r.messages_compared, len(r.breaks))
        for name in SERVICE_PORTS
        for r in verify(infra.settings("audit"), name)
    }
    proof = httpx.get(f"{draw_url}/v1/draws/{draw_id}/proof", timeout=30).json()
    path = tmp / f"proof-{draw_url.rsplit(':', 1)[1]}.json"
    path.write_bytes(canonical_json(proof))  # as served
    done = subprocess.run(
        [sys.executable, "-S", "-m", "services.draw.protocol.proof", "verify", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    auditor = {"Authorization": f"Bearer {token(infra, 'aud', 'AUDIT', 'auditor')}"}
    chain = httpx.get(f"{draw_url}/v1/draws/{draw_id}/chain", headers=auditor, timeout=30).json()
    return {"audit": audits, "proof": (done.returncode, done.stdout), "chain": chain}


@pytest.fixture
def fresh(tmp_path: Path, infra: Infra) -> Iterator[Infra]:
    """New PostgreSQL and NATS servers, empty, in the source's namespace."""
    nats_server = EmbeddedNats(tmp_path / "nats2", preferred_port=0)
    postgres = EmbeddedPostgres(tmp_path / "pg2")
    nats_url = nats_server.start()
    try:
        admin = postgres.start()
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute('CREATE DATABASE "ssj_restored"')
            yield Infra(with_database(admin, "ssj_restored"), nats_url, "", admin)
        finally:
            postgres.stop()
    finally:
        nats_server.stop()


def test_a_backup_restored_on_a_fresh_stack_is_the_same_record(
    infra: Infra, fresh: Infra, tmp_path: Path
) -> None:
    source = isolated_infra(infra)
    target = Infra(fresh.database_url, fresh.nats_url, source.namespace, fresh.admin_url)
    procs: dict[str, ServiceProcess] = {}
    try:
        procs = start_stack(source, SERVICE_PORTS)
        urls = {name: proc.url for name, proc in procs.items()}
        cycle = Scenario(Endpoints(urls), source.settings(), out=io.StringIO()).run_cycle()
        draw_id = cycle["draw"]["id"]
        before = verdicts(source, urls["draw"], draw_id, tmp_path)
        for proc in procs.values():  # backups are taken with the services stopped
            proc.stop()
        models = read_models(source.database_url)
        backup(source.settings(), tmp_path / "backup", say=lambda _: None)

        restore(target.settings(), tmp_path / "backup", say=lambda _: None)
        assert read_models(target.database_url) == models  # the dump, restored
        procs = start_stack(target, SERVICE_PORTS)
        urls = {name: proc.url for name, proc in procs.items()}
        scenario = Scenario(Endpoints(urls), target.settings(), out=io.StringIO())
        scenario.settle()
        # Started on the restored record, the services applied nothing twice, lost nothing.
        assert read_models(target.database_url) == models
        after = verdicts(target, urls["draw"], draw_id, tmp_path)
        assert after == before
        assert before["proof"][0] == 0 and before["chain"]["intact"] is True
        assert all(broken == 0 for *_, broken in before["audit"].values())
        public = httpx.get(
            f"{urls['disclosure']}/v1/public/results",
            params={"draw_id": draw_id, "limit": 1000},
            timeout=30,
        ).json()["items"]
        assert {r["subject_identifier"] for r in public} == set(cycle["recorded"])
        # And it goes on: a new subject reaches the registry's read side and the relay.
        import random

        office = {"Authorization": f"Bearer {token(target, 'op', 'OFFICE', 'office')}"}
        body = subject_payload(random.Random(99), "B")
        answer = httpx.post(f"{urls['registry']}/v1/subjects", json=body, headers=office)
        assert answer.status_code == 201, answer.text
        scenario.settle()
        (report,) = verify(target.settings("audit"), "registry")
        assert report.breaks == [] and report.not_yet_published == 0
    finally:
        for proc in procs.values():
            proc.stop()
        stop_infra(source)
