"""One leader per relay or consumer name, with takeover when the leader goes away, within
its lease when it goes silent, and a check that tells a cut-off leader it lost."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from libs.common.leader import Leadership, LeadershipLost
from tests.integration.lock_proxy import LockProxy
from tests.support import Infra


async def test_second_process_stands_by_until_the_leader_lets_go(infra: Infra) -> None:
    first = Leadership(infra.database_url, "relay:TEST", retry_seconds=0.05)
    second = Leadership(infra.database_url, "relay:TEST", retry_seconds=0.05)
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting), 0.5)
    assert first.held and not second.held

    await first.release()  # as when the leader's process or connection dies
    await asyncio.wait_for(waiting, 5)
    assert second.held
    await second.release()


async def test_different_names_lead_independently(infra: Infra) -> None:
    a = Leadership(infra.database_url, "consumer:a")
    b = Leadership(infra.database_url, "consumer:b")
    await asyncio.wait_for(asyncio.gather(a.acquire(), b.acquire()), 5)
    assert a.held and b.held
    await a.release()
    await b.release()


async def admin_terminate(infra: Infra, pid: int) -> None:
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_verify_is_true_while_the_lock_is_held_and_false_once_its_session_is_gone(
    infra: Infra,
) -> None:
    leader = Leadership(infra.database_url, "consumer:verify", lease_seconds=6)
    await leader.acquire()
    assert await leader.verify()
    assert leader.pid is not None
    await admin_terminate(infra, leader.pid)  # as when the server drops the session
    assert not await leader.verify()
    assert not leader.held and leader.pid is None
    await leader.release()


async def test_leader_frozen_behind_a_partition_loses_the_lock_within_its_lease(
    infra: Infra,
) -> None:
    proxy = LockProxy(infra.database_url)
    leader = Leadership(await proxy.start(), "consumer:frozen", lease_seconds=4.5)
    standby = Leadership(infra.database_url, "consumer:frozen", retry_seconds=0.2)
    try:
        await leader.acquire()
        waiting = asyncio.create_task(standby.acquire())
        await asyncio.sleep(1.0)
        assert not waiting.done()  # the leader's lease is kept while it answers

        proxy.freeze()  # the leader's packets go nowhere; no socket is closed
        assert not await leader.verify()  # the leader learns within a third of its lease
        # PostgreSQL ends the silent session after the lease, not after TCP's two hours.
        await asyncio.wait_for(waiting, 20)
        assert standby.held and await standby.verify()
    finally:
        await standby.release()
        await leader.release()
        await proxy.close()


async def test_leader_whose_lock_connection_is_cut_knows_it_before_acting_again(
    infra: Infra,
) -> None:
    proxy = LockProxy(infra.database_url)
    leader = Leadership(await proxy.start(), "consumer:cut", lease_seconds=4.5)
    standby = Leadership(infra.database_url, "consumer:cut", retry_seconds=0.1)
    try:
        await leader.acquire()
        proxy.cut()  # the server releases the lock; the leader's socket stays open, silent
        await asyncio.wait_for(standby.acquire(), 10)
        assert leader.held  # its connection looks open ...
        assert not await leader.verify()  # ... but the check says the truth
        assert not leader.held
    finally:
        await standby.release()
        await leader.release()
        await proxy.close()


async def test_a_batch_transaction_commits_only_while_the_lock_is_held(infra: Infra) -> None:
    leader = Leadership(infra.database_url, "consumer:commit", lease_seconds=6)
    await leader.acquire()
    conn = await asyncpg.connect(infra.database_url)
    try:
        await leader.check_held_on(conn)
        assert leader.pid is not None
        await admin_terminate(infra, leader.pid)
        with pytest.raises(LeadershipLost):
            await leader.check_held_on(conn)
    finally:
        await conn.close()
        await leader.release()
