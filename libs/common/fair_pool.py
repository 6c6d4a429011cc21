"""An asyncpg pool that hands connections out in the order they were asked for.

asyncpg keeps its free connections in an ``asyncio.Queue``, and ``Queue.get`` is not fair:
a connection put back wakes the longest waiter, but a request arriving before that waiter
runs takes the connection, and the waiter queues again at the back. Under load (a hundred
public look-ups in flight on ten connections) some requests lost that race again and
again: the USCC look-up's p90 was 8x its median (380 ms against 40 ms) with most of the
slowest at no particular moment.

Here a request first takes a turn of an ``asyncio.Semaphore`` sized to the pool, which
since Python 3.11 hands a released turn to its longest waiter and makes newcomers wait
behind; with a turn held, a free connection is always there. A turn comes back when its
connection is released, so every acquire must be released (``async with``, as everywhere
here): asyncpg alone takes back a never-released connection the server closed, FairPool
would keep its turn.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg


class FairPool(asyncpg.Pool):
    """:class:`asyncpg.Pool` with first-come, first-served ``acquire``."""

    __slots__ = ("_lent", "_turns")

    def __init__(self, *args: Any, max_size: int, **kwargs: Any) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._turns = asyncio.Semaphore(max_size)
        # Each lent connection (a proxy per acquire) holds a turn until it is released:
        # by its identity, not by its state, because a connection the server closed while
        # lent is detached by asyncpg before its borrower releases it.
        self._lent: dict[int, Any] = {}

    async def _acquire(self, timeout: float | None) -> Any:
        if timeout is None:
            await self._turns.acquire()
        else:  # acquire(timeout=) bounds the wait for a turn and for the connection alike
            started = time.monotonic()
            await asyncio.wait_for(self._turns.acquire(), timeout)
            timeout = max(0.0, timeout - (time.monotonic() - started))
        try:
            proxy = await super()._acquire(timeout)
        except BaseException:
            self._turns.release()
            raise
        self._lent[id(proxy)] = proxy
        return proxy

    async def release(self, connection: Any, *, timeout: float | None = None) -> Any:
        # Only a connection this pool lent and not yet taken back returns a turn (asyncpg
        # ignores a second release of the same connection).
        lent = self._lent.pop(id(connection), None) is connection
        try:
            return await super().release(connection, timeout=timeout)
        finally:
            if lent:
                self._turns.release()
