"""One leader per relay or consumer name, with takeover when the leader goes away."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.leader import Leadership
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
