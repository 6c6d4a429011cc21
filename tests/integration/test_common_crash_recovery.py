"""Crash proof, on real processes, real PostgreSQL and real NATS JetStream.

A relay killed between publishing a batch and writing its position, and a consumer killed
between committing a batch and acking it, are restarted; afterwards every stored event is
in JetStream exactly once, in order, and the read model applied each event exactly once.
The kills are :func:`libs.common.faults.crash_point` exits (``os._exit``: no cleanup, no
flush, as a kill -9), in :mod:`tests.integration.crash_worker` processes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import nats
import psycopg
import pytest

from libs.common.envelope import parse_cloudevent
from libs.common.faults import CRASH_EXIT_CODE
from tests.integration.common_app import (
    CRASH_CONSUMER,
    CRASH_READ_SCHEMA,
    CrashTestApp,
    open_accounts,
)
from tests.support import ROOT, Infra

BATCH = 7
ACCOUNTS, DEPOSITS = 10, 4  # 10 x (1 + 4) = 50 events, 8 batches of at most 7


def run_worker(infra: Infra, role: str, crash_at: str | None = None) -> dict[str, Any]:
    """Run the worker to its end; return its counters (or {} after a crash)."""
    env = infra.env(SSJ_RELAY_BATCH=str(BATCH), SSJ_CONSUMER_BATCH=str(BATCH))
    env.pop("SSJ_CRASH_AT", None)
    if crash_at:
        env["SSJ_CRASH_AT"] = crash_at
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.crash_worker", role],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    expected = CRASH_EXIT_CODE if crash_at else 0
    assert done.returncode == expected, f"exit {done.returncode}:\n{done.stdout}{done.stderr}"
    return json.loads(done.stdout.splitlines()[-1]) if not crash_at else {}


@pytest.fixture(scope="module")
def stored(infra: Infra) -> Iterator[int]:
    """The crash-test application with its events saved; how many there are."""
    app = CrashTestApp(infra.settings(CrashTestApp.service))
    try:
        total = open_accounts(app, ACCOUNTS, DEPOSITS)
        table = f'"{app.schema}"."{app.events_table}"'
        with psycopg.connect(infra.database_url) as conn:
            (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[misc]
        assert count == total == app.max_notification_id() == 50
        yield total
    finally:
        app.close()


def stream_state(infra: Infra) -> list[tuple[int, str, str]]:
    """(stream seq, Nats-Msg-Id, CloudEvent id) of every message in the stream."""

    async def fetch() -> list[tuple[int, str, str]]:
        stream = infra.settings().stream_name(CrashTestApp.service)
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(stream, seq)
                assert msg.data is not None and msg.headers is not None
                out.append((seq, msg.headers["Nats-Msg-Id"], parse_cloudevent(msg.data).id))
            assert info.state.messages == len(out)
            return out
        finally:
            await nc.close()

    return asyncio.run(fetch())


def sql(infra: Infra, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(infra.database_url) as conn:
        return conn.execute(query, args).fetchall()


def relay_position(infra: Infra) -> int:
    rows = sql(infra, f"SELECT position FROM {CrashTestApp.service}.relay_position")
    return int(rows[0][0]) if rows else 0


def consumer_position(infra: Infra) -> int:
    rows = sql(
        infra,
        f"SELECT stream_seq FROM {CRASH_READ_SCHEMA}.consumer_position WHERE consumer = %s",
        f"{CRASH_READ_SCHEMA}-{CRASH_CONSUMER}",
    )
    return int(rows[0][0]) if rows else 0


def applied(infra: Infra) -> tuple[int, list[tuple[int, str]]]:
    """(counter, [(stream seq, event id)] in the order they were applied)."""
    counts = sql(infra, f"SELECT n FROM {CRASH_READ_SCHEMA}.counts")
    rows = sql(infra, f"SELECT stream_seq, event_id FROM {CRASH_READ_SCHEMA}.applied ORDER BY id")
    return (int(counts[0][0]) if counts else 0), [(int(s), str(e)) for s, e in rows]


def assert_exactly_once(ids: list[str], total: int) -> None:
    assert len(ids) == total
    assert [i for i, times in Counter(ids).items() if times > 1] == []
    assert ids == [f"{CrashTestApp.service}:{n}" for n in range(1, total + 1)]


def test_relay_killed_between_publish_and_position_write_publishes_each_event_once(
    infra: Infra, stored: int
) -> None:
    run_worker(infra, "relay", crash_at="relay.after_publish@3")
    # Three batches reached JetStream; the third one's position was never written.
    assert len(stream_state(infra)) == 3 * BATCH
    assert relay_position(infra) == 2 * BATCH

    run_worker(infra, "relay", crash_at="relay.after_publish@2")  # dies again, later on
    assert len(stream_state(infra)) == 5 * BATCH
    assert relay_position(infra) == 4 * BATCH

    counters = run_worker(infra, "relay")
    assert counters == {"published": stored - 5 * BATCH, "position": stored}

    messages = stream_state(infra)
    assert [seq for seq, _, _ in messages] == list(range(1, stored + 1))
    assert_exactly_once([msg_id for _, msg_id, _ in messages], stored)
    assert_exactly_once([event_id for _, _, event_id in messages], stored)


@pytest.fixture(scope="module")
def published(infra: Infra, stored: int) -> int:
    """Every stored event in the stream (a no-op after the relay test: nothing to publish)."""
    run_worker(infra, "relay")
    assert len(stream_state(infra)) == stored
    return stored


def test_consumer_killed_between_commit_and_ack_applies_each_event_once(
    infra: Infra, published: int
) -> None:
    run_worker(infra, "consume", crash_at="consumer.after_commit@3")
    # Three fetched batches were committed; the third was never acked.
    first_crash = consumer_position(infra)
    assert 3 <= first_crash <= 3 * BATCH
    count, rows = applied(infra)
    assert count == len(rows) == first_crash
    assert [seq for seq, _ in rows] == list(range(1, first_crash + 1))

    run_worker(infra, "consume", crash_at="consumer.after_commit@2")  # dies again, later on
    second_crash = consumer_position(infra)
    assert first_crash + 2 <= second_crash < published
    count, rows = applied(infra)
    assert count == len(rows) == second_crash

    counters = run_worker(infra, "consume")
    # Delivery resumed after the committed position: the committed-but-unacked batch was
    # neither applied again nor even redelivered.
    assert counters == {"handled": published - second_crash, "duplicates": 0}

    count, rows = applied(infra)
    assert count == published
    assert [seq for seq, _ in rows] == list(range(1, published + 1))
    assert_exactly_once([event_id for _, event_id in rows], published)
    assert consumer_position(infra) == published
