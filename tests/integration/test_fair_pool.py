"""Connections of the service pool go to those who asked first (libs/common/fair_pool.py):
asyncpg's own pool lets a request that arrives as a connection is put back take it from
the waiter that was woken for it, again and again."""

from __future__ import annotations

import asyncio
import itertools

import asyncpg
import pytest

from libs.common.service import open_pool
from tests.support import Infra


async def test_connections_are_handed_out_in_the_order_they_were_asked_for(
    infra: Infra,
) -> None:
    """Thirty requests at once on three connections, each asking again as soon as it is
    served, as a busy service's requests do: the order in which they are served is the
    order in which they asked (asyncpg's own pool served 485 of the 1,200 after one that
    asked later, in this test)."""
    pool = await open_pool(infra.settings("fairness"), max_size=3)
    asked = itertools.count()
    served: list[int] = []

    async def requests() -> None:
        for _ in range(40):
            ticket = next(asked)
            async with pool.acquire() as conn:
                served.append(ticket)
                await conn.execute("SELECT 1")

    try:
        # Its three connections open first: one opening slower than the next would put
        # two requests served at once out of order without anyone waiting.
        for conn in [await pool.acquire() for _ in range(3)]:
            await pool.release(conn)
        await asyncio.gather(*(requests() for _ in range(30)))
    finally:
        await pool.close()
    assert len(served) == 1200
    overtaken = sum(1 for a, b in itertools.pairwise(served) if b < a)
    assert overtaken == 0


async def test_turns_come_back_whatever_happens_to_a_request(infra: Infra) -> None:
    pool = await open_pool(infra.settings("fairness"), max_size=2)
    try:
        conn = await pool.acquire()
        await pool.release(conn)
        await pool.release(conn)  # a second release returns no second turn
        cancelled = asyncio.create_task(pool.fetchval("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        cancelled.cancel()
        with pytest.raises(asyncpg.DivisionByZeroError):
            await pool.fetchval("SELECT 1/0")
        held = [await asyncio.wait_for(pool.acquire(), 5) for _ in range(2)]
        assert pool._turns.locked()  # both turns are out, none was lost or made up
        for each in held:
            await pool.release(each)
        assert not pool._turns.locked()
    finally:
        await pool.close()


async def test_a_connection_the_server_closed_while_lent_gives_its_turn_back(
    infra: Infra,
) -> None:
    """A PostgreSQL restart ends connections in use; asyncpg takes them back before their
    borrowers release them. More such ends than the pool has connections, and the pool
    still lends."""
    pool = await open_pool(infra.settings("fairness"), max_size=2)
    try:
        for _ in range(5):
            async with pool.acquire() as conn:
                pid = conn.get_server_pid()
                await pool.execute("SELECT pg_terminate_backend($1)", pid)
                await asyncio.sleep(0.1)  # the socket closes under it
                with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)):
                    await conn.execute("SELECT 1")
        assert await asyncio.wait_for(pool.fetchval("SELECT 1"), 10) == 1
        assert not pool._turns.locked() and pool._lent == {}
    finally:
        await pool.close()


async def test_a_timeout_bounds_the_wait_for_a_turn(infra: Infra) -> None:
    pool = await open_pool(infra.settings("fairness"), max_size=1)
    try:
        async with pool.acquire():
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.acquire(timeout=0.2), 5)
        assert not pool._turns.locked()
        async with pool.acquire(timeout=1) as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
