"""A value read from the database at most once every few seconds: the token deny-list and
the active departments are checked on every request, and one query a second serves them
all (a request meanwhile sees the copy; a change reaches it within a second); the public
name search's pair frequencies are read every few minutes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

REFRESH_SECONDS = 1.0
T = TypeVar("T")


class Snapshot(Generic[T]):
    """``load()``'s answer, loaded again when it is ``refresh_seconds`` old; one load at a
    time (requests that find it stale together wait for the same load). ``empty`` is the
    value before the first load."""

    def __init__(
        self,
        load: Callable[[], Awaitable[T]],
        empty: T,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._load = load
        self._value = empty
        self._refresh = refresh_seconds
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> T:
        """The value, reloaded first if it is stale (``load``'s errors propagate)."""
        if time.monotonic() - self._loaded_at >= self._refresh:
            async with self._lock:
                # Another request may have reloaded it while this one waited.
                if time.monotonic() - self._loaded_at >= self._refresh:
                    self._value = await self._load()
                    self._loaded_at = time.monotonic()
        return self._value
