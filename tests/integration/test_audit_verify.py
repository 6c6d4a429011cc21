"""``ssj audit verify`` (libs/common/audit.py) finds what a database superuser changed
behind the append-only trigger, and names the stream and the position.

Real PostgreSQL and JetStream: events are saved, relayed by the real relay, then edited or
deleted with the trigger bypassed (``session_replication_role = replica``, superuser only).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from libs.common.audit import TableReport, verify
from libs.common.relay import Relay
from libs.common.service import open_pool
from libs.common.settings import CommonSettings
from tests.integration.common_app import AccountsApp, open_accounts
from tests.support import Infra

SRC = str(Path(__file__).resolve().parents[2])


@pytest.fixture
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


async def saved_and_relayed(
    infra: Infra, nc: NATS, service: str, chained: bool, accounts: int = 3, deposits: int = 3
) -> tuple[CommonSettings, asyncpg.Pool, AccountsApp]:
    """A fresh schema and stream with ``accounts`` streams of 1 + ``deposits`` events, all
    published by the relay."""
    settings = infra.settings(service)
    cls = type(
        f"{service.capitalize()}App", (AccountsApp,), {"service": service, "hash_chained": chained}
    )
    app = await asyncio.to_thread(cls, settings)
    pool = await open_pool(settings, max_size=2)
    relay = Relay(app, nc.jetstream(), pool)
    await relay.setup()
    await asyncio.to_thread(open_accounts, app, accounts, deposits)
    while await relay.publish_pending():
        pass
    return settings, pool, app


async def tamper(pool: asyncpg.Pool, app: AccountsApp, statement: str, *args: Any) -> str:
    """Run ``statement`` ({table} filled in) with the append-only trigger bypassed."""
    table = f'"{app.schema}"."{app.events_table}"'
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        return str(await conn.execute(statement.format(table=table), *args))


async def audit_cli(infra: Infra, schema: str) -> subprocess.CompletedProcess[str]:
    """``ssj audit verify --schema SCHEMA`` as an operator runs it."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "libs.common.cli", "audit", "verify", "--schema", schema],
        env=infra.env(SSJ_SERVICE="audit"),
        cwd=SRC,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def audit(settings: CommonSettings, schema: str) -> TableReport:
    (report,) = await asyncio.to_thread(verify, settings, schema)
    return report


async def nth_stream(pool: asyncpg.Pool, app: AccountsApp, n: int = 0) -> uuid.UUID:
    table = f'"{app.schema}"."{app.events_table}"'
    rows = await pool.fetch(f"SELECT DISTINCT originator_id FROM {table} ORDER BY 1")
    return uuid.UUID(str(rows[n]["originator_id"]))


async def test_an_intact_record_passes_and_the_command_says_so(infra: Infra, nc: NATS) -> None:
    settings, pool, app = await saved_and_relayed(infra, nc, "auditok", chained=True)
    try:
        # Stored but not yet relayed: the relay's work to come, not a break.
        await asyncio.to_thread(open_accounts, app, 1, 0)
        report = await audit(settings, app.schema)
        assert report.breaks == []
        assert (report.events, report.streams, report.chained) == (13, 4, True)
        assert (report.messages_compared, report.not_yet_published) == (12, 1)
        done = await audit_cli(infra, "auditok")
        assert done.returncode == 0, done.stderr
        assert "auditok." in done.stdout and "intact" in done.stdout
        assert done.stdout.strip().splitlines()[-1].endswith('"breaks": 0, "intact": true}')
    finally:
        app.close()
        await pool.close()


async def test_an_edited_event_is_named_by_stream_and_version(infra: Infra, nc: NATS) -> None:
    settings, pool, app = await saved_and_relayed(infra, nc, "auditedit", chained=True)
    try:
        victim = await nth_stream(pool, app, 1)
        # A deposit's amount changed in place: same length, valid JSON, chain link kept.
        changed = await tamper(
            pool,
            app,
            "UPDATE {table} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            '\'"_data_":"2"\', \'"_data_":"9"\'), \'UTF8\') '
            "WHERE originator_id = $1 AND originator_version = 3",
            victim,
        )
        assert changed == "UPDATE 1"
        report = await audit(settings, app.schema)
        found = {
            (b.stream, b.position.split(" (")[0], b.problem.split(" ")[0]) for b in report.breaks
        }
        assert found == {
            (str(victim), "version 3", "stored"),  # differs from its message in JetStream
            (str(victim), "version 4", "prev_hash"),  # the next link no longer holds
        }, report.breaks
        done = await audit_cli(infra, "auditedit")
        assert done.returncode == 1
        assert f"BREAK auditedit.{app.events_table} stream {victim} version 4: prev_hash" in (
            done.stdout
        )
        assert '"breaks": 2, "intact": false' in done.stdout.strip().splitlines()[-1]
    finally:
        app.close()
        await pool.close()


async def test_a_deleted_event_shows_where_nothing_is_chained(infra: Infra, nc: NATS) -> None:
    settings, pool, app = await saved_and_relayed(infra, nc, "auditdel", chained=False)
    try:
        victim = await nth_stream(pool, app, 2)
        nid = await pool.fetchval(
            f'SELECT notification_id FROM "{app.schema}"."{app.events_table}" '
            "WHERE originator_id = $1 AND originator_version = 2",
            victim,
        )
        deleted = await tamper(
            pool, app, "DELETE FROM {table} WHERE originator_id = $1 AND originator_version = 2",
            victim,
        )  # fmt: skip
        assert deleted == "DELETE 1"
        report = await audit(settings, app.schema)
        assert not report.chained
        assert {(b.stream, b.position, b.problem.split(" (")[0]) for b in report.breaks} == {
            (str(victim), "version 3", "version 2 missing"),
            (settings.stream_name("auditdel"), f"notification {nid}",
             f"{settings.stream_name('auditdel')} holds it, the table does not"),
        }, report.breaks  # fmt: skip
    finally:
        app.close()
        await pool.close()


async def test_messages_lost_from_the_stream_are_named(infra: Infra, nc: NATS) -> None:
    """A message gone from JetStream (in the middle, or the last one the relay recorded)."""
    settings, pool, app = await saved_and_relayed(infra, nc, "auditlost", chained=False)
    try:
        js, stream = nc.jetstream(), settings.stream_name("auditlost")
        last = int((await js.stream_info(stream)).state.last_seq)
        table = f'"{app.schema}"."{app.events_table}"'
        lost = [
            await pool.fetchrow(
                f"SELECT originator_id, originator_version FROM {table} "
                "WHERE notification_id = $1", nid,
            )
            for nid in (5, last)
        ]  # fmt: skip
        for seq in (5, last):  # notification n is the stream's message n here
            await js.delete_msg(stream, seq)
        report = await audit(settings, app.schema)
        assert [(b.stream, b.position, b.problem.split(" ")[0]) for b in report.breaks] == [
            (str(lost[0][0]), f"version {lost[0][1]}", "stored"),
            (str(lost[1][0]), f"version {lost[1][1]}", "published"),
        ], report.breaks
        assert report.not_yet_published == 0
    finally:
        app.close()
        await pool.close()
