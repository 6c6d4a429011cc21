"""A set read from the database at most once every :data:`REFRESH_SECONDS`: the token
deny-list and the active departments are checked on every request, and one query a second
serves them all (a request meanwhile sees the copy; a change reaches it within a second)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

REFRESH_SECONDS = 1.0


class Snapshot:
    """``load()``'s answer, loaded again when it is :data:`REFRESH_SECONDS` old; one load
    at a time (requests that find it stale together wait for the same load)."""

    def __init__(self, load: Callable[[], Awaitable[frozenset[str]]]) -> None:
        self._load = load
        self._value: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> frozenset[str]:
        """The set, reloaded first if it is stale (``load``'s errors propagate)."""
        if time.monotonic() - self._loaded_at >= REFRESH_SECONDS:
            async with self._lock:
                # Another request may have reloaded it while this one waited.
                if time.monotonic() - self._loaded_at >= REFRESH_SECONDS:
                    self._value = await self._load()
                    self._loaded_at = time.monotonic()
        return self._value
