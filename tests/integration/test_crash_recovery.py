"""Crash proof: a relay killed between publish and position write, and a consumer killed
between commit and ack, lose nothing and duplicate nothing after a restart."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator

import nats
import psycopg
import pytest

from libs.common.consumer import Consumer
from libs.common.envelope import parse_cloudevent
from libs.common.faults import CRASH_EXIT_CODE
from libs.common.service import open_pool
from tests.integration.ledger import (
    APPLIED_DDL,
    Entry,
    LedgerApp,
    count_applications,
    count_applications_in_batches,
)
from tests.support import ROOT, Infra

EVENTS = 50
BATCH = "7"


def run_worker(
    infra: Infra, role: str, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = infra.env(SSJ_SERVICE="ledger", SSJ_RELAY_BATCH=BATCH, SSJ_CONSUMER_BATCH=BATCH)
    env.pop("SSJ_CRASH_AT", None)
    if crash_at:
        env["SSJ_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "tests.integration.crashable", role],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def stream_messages(infra: Infra) -> list[tuple[str, str]]:
    """(Nats-Msg-Id header, CloudEvent id) of every message in the ledger stream."""
    settings = infra.settings("ledger")
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    info = await js.stream_info(settings.stream_name("ledger"))
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(settings.stream_name("ledger"), seq)
        out.append((msg.headers["Nats-Msg-Id"], parse_cloudevent(msg.data).id))
    await nc.close()
    return out


@pytest.fixture(scope="module")
def ledger(infra: Infra) -> Iterator[LedgerApp]:
    app = LedgerApp(infra.settings("ledger"))
    for n in range(EVENTS):
        app.save(Entry(n))
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute(APPLIED_DDL)
    yield app
    app.close()


def test_relay_killed_between_publish_and_position_write_publishes_each_event_once(
    infra: Infra, ledger: LedgerApp
) -> None:
    crashed = run_worker(infra, "relay", crash_at="relay.after_publish@3")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr
    # Three batches reached JetStream, but only two positions were recorded.
    assert len(asyncio.run(stream_messages(infra))) == 3 * int(BATCH)

    restarted = run_worker(infra, "relay")
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout.splitlines()[-1])["position"] == EVENTS

    messages = asyncio.run(stream_messages(infra))
    expected = [f"ledger:{n}" for n in range(1, EVENTS + 1)]
    assert [header for header, _ in messages] == expected
    assert [event_id for _, event_id in messages] == expected


def test_consumer_killed_between_commit_and_ack_applies_each_event_once(
    infra: Infra, ledger: LedgerApp
) -> None:
    # Needs the stream filled by the relay test above (same module, same order).
    crashed = run_worker(infra, "consume", crash_at="consumer.after_commit@3")
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr

    restarted = run_worker(infra, "consume")
    assert restarted.returncode == 0, restarted.stderr
    counters = json.loads(restarted.stdout.splitlines()[-1])
    # The third batch was committed but never acked (and later messages may have been
    # delivered but never handled): the restart resumes after the committed position,
    # neither re-applying the third batch nor waiting for redeliveries out of order.
    assert counters["handled"] == EVENTS - 3 * int(BATCH)

    with psycopg.connect(infra.database_url) as conn:
        rows = conn.execute(
            "SELECT stream_seq, times FROM ledger.applied ORDER BY stream_seq"
        ).fetchall()
    assert [seq for seq, _ in rows] == list(range(1, EVENTS + 1))
    assert {times for _, times in rows} == {1}


async def test_redelivered_message_is_acknowledged_without_applying_it_again(
    infra: Infra, ledger: LedgerApp
) -> None:
    settings = infra.settings("ledger")
    pool = await open_pool(settings)
    nc = await nats.connect(infra.nats_url)
    consumer = Consumer(
        settings=settings,
        schema="ledger",
        name="redelivery",
        source="ledger",
        handler=count_applications,
        js=nc.jetstream(),
        pool=pool,
    )
    try:
        await consumer.setup()
        msg = await nc.jetstream().get_msg(settings.stream_name("ledger"), 1)
        applied = [await consumer.handle(msg.data, msg.headers, 1) for _ in range(2)]
        assert applied == [True, False]
        assert consumer.duplicates_total == 1
    finally:
        await nc.close()
        await pool.close()


async def test_batch_handler_applies_the_stream_once_and_in_order(
    infra: Infra, ledger: LedgerApp
) -> None:
    settings = infra.settings("ledger").model_copy(update={"consumer_batch": 7})
    pool = await open_pool(settings)
    nc = await nats.connect(infra.nats_url)
    consumer = Consumer(
        settings=settings,
        schema="ledger",
        name="batches",
        source="ledger",
        batch_handler=count_applications_in_batches,
        js=nc.jetstream(),
        pool=pool,
    )
    try:
        await consumer.setup()
        consumer.start()
        deadline = asyncio.get_running_loop().time() + 30
        while await consumer.lag() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await consumer.stop()
        rows = await pool.fetch(
            "SELECT stream_seq, times FROM ledger.applied_in_batches ORDER BY stream_seq"
        )
        assert [r["stream_seq"] for r in rows] == list(range(1, EVENTS + 1))
        assert {r["times"] for r in rows} == {1}
    finally:
        await nc.close()
        await pool.close()


def test_a_consumer_takes_exactly_one_kind_of_handler(infra: Infra) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Consumer(
            settings=infra.settings("ledger"),
            schema="ledger",
            name="both",
            source="ledger",
            handler=count_applications,
            batch_handler=count_applications_in_batches,
            js=None,  # type: ignore[arg-type]
            pool=None,  # type: ignore[arg-type]
        )
