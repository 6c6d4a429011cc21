"""Periodic background jobs of a service (a deadline watch, say), run by one process of its
replicas at a time: the same lease (libs/common/leader.py) as relays and consumers, so when
the leading process dies another takes over within the lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from libs.common.leader import Leadership
from libs.common.settings import CommonSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSpec:
    """A job: ``run(application, pool)`` is one pass (it returns how much it did);
    ``interval`` gives the seconds between passes (read when the service starts)."""

    name: str
    run: Callable[[Any, asyncpg.Pool], Awaitable[int]]
    interval: Callable[[], float]


class Worker:
    """Runs one :class:`WorkerSpec` while this process holds its lease."""

    def __init__(
        self,
        spec: WorkerSpec,
        settings: CommonSettings,
        schema: str,
        application: Any,
        pool: asyncpg.Pool,
    ) -> None:
        self.spec = spec
        self.application = application
        self.pool = pool
        self.interval = spec.interval()
        self.leadership = Leadership(
            settings.database_url,
            f"worker:{schema}-{spec.name}",
            lease_seconds=settings.leader_lease_seconds,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (it waits for the lease)."""
        self._task = asyncio.create_task(self._loop(), name=f"worker-{self.spec.name}")

    async def _loop(self) -> None:
        while True:
            await self.leadership.acquire()
            while await self.leadership.verify():
                try:
                    done = await self.spec.run(self.application, self.pool)
                    if done:
                        log.info("%s: %d done", self.spec.name, done)
                except Exception:  # a failed pass is retried at the next one, loudly
                    log.exception(
                        "%s: a pass failed; it runs again in %s s", self.spec.name, self.interval
                    )
                await asyncio.sleep(self.interval)
            self.leadership.abandon()

    async def stop(self) -> None:
        """Stop the loop and give up the lease."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.leadership.release()
