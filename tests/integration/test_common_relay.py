"""The relay of libs/common on real PostgreSQL and NATS JetStream: order, message ids,
duplicates, and when the position is written."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy
from nats.js.errors import BadRequestError

from libs.common.bus import ensure_stream, stream_config
from libs.common.envelope import InboundEvent, parse_cloudevent
from libs.common.relay import Relay
from libs.common.service import open_pool
from tests.integration.common_app import AccountsApp, open_accounts, poll, relay_app_class
from tests.support import Infra

WRONG_LAST_SEQUENCE = 10071  # JetStream's error code for a failed expected-sequence check


@dataclass(frozen=True)
class Published:
    """One message as JetStream holds it."""

    seq: int
    nats_subject: str
    msg_id: str
    event: InboundEvent


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(infra.settings("relaytest"), max_size=4)
    yield p
    await p.close()


@pytest.fixture
async def nc(infra: Infra) -> AsyncIterator[NATS]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.close()


async def stream_messages(js: JetStreamContext, stream: str) -> list[Published]:
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        assert msg.data is not None and msg.headers is not None
        out.append(
            Published(
                seq, msg.subject or "", msg.headers["Nats-Msg-Id"], parse_cloudevent(msg.data)
            )
        )
    return out


async def make_relay(
    infra: Infra, service: str, js: JetStreamContext, pool: asyncpg.Pool, batch: int = 5
) -> tuple[AccountsApp, Relay]:
    settings = infra.settings(service).model_copy(update={"relay_batch": batch})
    app = await asyncio.to_thread(relay_app_class(service), settings)
    relay = Relay(app, js, pool)
    await relay.setup()
    return app, relay


async def publish_all(relay: Relay) -> list[int]:
    passes = []
    while published := await relay.publish_pending():
        passes.append(published)
    return passes


async def test_events_reach_jetstream_in_notification_order_with_their_message_ids(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayorder", js, pool, batch=5)
    try:
        total = await asyncio.to_thread(open_accounts, app, 3, 3)  # 12 events
        assert await relay.lag() == total
        assert await publish_all(relay) == [5, 5, 2]

        messages = await stream_messages(js, relay.stream)
        notifications = await asyncio.to_thread(app.notifications_after, 0, 100)
        assert [m.seq for m in messages] == list(range(1, total + 1))
        assert [m.msg_id for m in messages] == [f"relayorder:{n}" for n in range(1, total + 1)]
        assert [m.event.id for m in messages] == [m.msg_id for m in messages]
        for message, notification in zip(messages, notifications, strict=True):
            name = notification.topic.rpartition(".")[2]
            assert message.event.type == f"ssj.relayorder.{name}.v1"
            assert message.nats_subject == f"{relay.subject_prefix}.account.{name}"
            assert message.event.subject == str(notification.originator_id)
            assert message.event.aggregate_version == notification.originator_version
        assert await relay.position() == total
        assert await relay.lag() == 0
    finally:
        app.close()


async def test_reset_position_does_not_publish_the_batch_twice(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayreset", js, pool, batch=4)
    try:
        total = await asyncio.to_thread(open_accounts, app, 2, 3)  # 8 events
        await publish_all(relay)
        await pool.execute("DELETE FROM relayreset.relay_position")
        assert await relay.position() == 0

        assert await relay.publish_pending() == 0
        state = (await js.stream_info(relay.stream)).state
        assert (state.messages, state.last_seq) == (total, total)
        assert await relay.position() == total  # recovered from the stream head

        more = await asyncio.to_thread(open_accounts, app, 1, 1)  # then new events follow on
        assert await publish_all(relay) == [more]
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [
            f"relayreset:{n}" for n in range(1, total + more + 1)
        ]
    finally:
        app.close()


async def test_republished_events_are_not_stored_twice(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relaydupes", js, pool, batch=100)
    try:
        total = await asyncio.to_thread(open_accounts, app, 2, 2)  # 6 events
        await publish_all(relay)
        notifications = await asyncio.to_thread(app.notifications_after, 0, 100)

        # The whole batch once more, as a relay that missed the stream head would send it.
        # NATS 2.9 acknowledges each as a duplicate; later servers check the expected last
        # sequence first and refuse them. Either way, nothing is stored twice.
        outcomes = await asyncio.gather(
            *(relay._publish(n, expected_last_seq=i) for i, n in enumerate(notifications)),
            return_exceptions=True,
        )
        for outcome in outcomes:
            assert outcome is None or (
                isinstance(outcome, BadRequestError) and outcome.err_code == WRONG_LAST_SEQUENCE
            ), outcome
        # Within the duplicate window the message id alone suffices, whatever the server.
        await relay._publish(notifications[0], expected_last_seq=total)

        state = (await js.stream_info(relay.stream)).state
        assert (state.messages, state.last_seq) == (total, total)
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relaydupes:{n}" for n in range(1, total + 1)]
    finally:
        app.close()


async def test_two_relays_publishing_the_same_batch_store_it_once_in_order(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    app, first = await make_relay(infra, "relaytwice", nc.jetstream(), pool, batch=100)
    other = await nats.connect(infra.nats_url)
    try:
        second = Relay(app, other.jetstream(), pool)  # e.g. a leader that lost its lock late
        total = await asyncio.to_thread(open_accounts, app, 5, 3)  # 20 events
        await asyncio.gather(first.publish_pending(), second.publish_pending())
        await publish_all(first)
        await publish_all(second)

        state = (await nc.jetstream().stream_info(first.stream)).state
        assert (state.messages, state.last_seq) == (total, total)
        messages = await stream_messages(nc.jetstream(), first.stream)
        assert [m.msg_id for m in messages] == [f"relaytwice:{n}" for n in range(1, total + 1)]
        assert await first.position() == total
    finally:
        await other.close()
        app.close()


async def test_position_is_written_only_for_events_jetstream_acknowledged(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relayfull", js, pool, batch=10)
    try:
        settings = relay.settings
        full = stream_config(settings, "relayfull")
        full.max_msgs = 3
        full.discard = DiscardPolicy.NEW  # the stream refuses the 4th message
        await js.update_stream(full)
        total = await asyncio.to_thread(open_accounts, app, 1, 4)  # 5 events

        assert await relay.publish_pending() == 3
        assert await relay.position() == 3
        assert (await js.stream_info(relay.stream)).state.messages == 3

        await ensure_stream(js, settings, "relayfull")  # room again
        assert await publish_all(relay) == [total - 3]
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relayfull:{n}" for n in range(1, total + 1)]
        assert await relay.position() == total
    finally:
        app.close()


async def test_running_relay_publishes_what_is_saved_while_it_runs(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    app, relay = await make_relay(infra, "relaylive", js, pool)
    relay.start()
    try:
        total = 0
        for _ in range(3):
            total += await asyncio.to_thread(open_accounts, app, 2, 1)

            async def caught_up(expected: int = total) -> bool:
                return (await js.stream_info(relay.stream)).state.messages == expected

            await poll(caught_up, timeout=10)

        async def no_lag() -> bool:
            return await relay.lag() == 0

        await poll(no_lag, timeout=10)
        messages = await stream_messages(js, relay.stream)
        assert [m.msg_id for m in messages] == [f"relaylive:{n}" for n in range(1, total + 1)]
    finally:
        await relay.stop()
        app.close()


async def test_stop_ends_the_relay_loop_even_when_it_races_the_idle_timeout(
    infra: Infra, nc: NATS, pool: asyncpg.Pool
) -> None:
    # Python 3.11's asyncio.wait_for, inside every nats-py request, loses a cancellation
    # that arrives together with the reply; a relay cancelled once would then run on and
    # its service never shut down. A 2 ms idle wait keeps the loop requesting all the time.
    js = nc.jetstream()
    app, _ = await make_relay(infra, "relaystop", js, pool)
    settings = app.settings.model_copy(update={"relay_idle_seconds": 0.002})
    app.settings = settings
    pauses = random.Random(11)
    try:
        for _ in range(40):
            relay = Relay(app, js, pool)
            relay.start()
            await asyncio.sleep(pauses.uniform(0.0, 0.03))
            stopping = asyncio.ensure_future(relay.stop())
            # Not wait_for: cancelling stop() on timeout would cancel the loop once more
            # and hide the hang.
            done, _ = await asyncio.wait({stopping}, timeout=5)
            if not done:
                while relay._task and not relay._task.done():
                    relay._task.cancel()
                    await asyncio.sleep(0.01)
                await stopping
            assert done, "stop() returned only after the loop was cancelled a second time"
    finally:
        app.close()
