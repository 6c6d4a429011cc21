"""The relay loop or the consumer loop of the crash-proof tests, as a process of its own.

``python -m tests.integration.crash_worker relay|consume`` builds the test application
(:class:`~tests.integration.common_app.CrashTestApp`) or the counting consumer from the
environment (``DATABASE_URL``, ``NATS_URL``, ``SSJ_NAMESPACE``, ``SSJ_RELAY_BATCH``,
``SSJ_CONSUMER_BATCH``), runs the real background loop until nothing is left to do, prints
one JSON line of counters and exits 0. With ``SSJ_CRASH_AT`` set it dies at that crash
point instead, with :data:`libs.common.faults.CRASH_EXIT_CODE`, leaving whatever state
the kill leaves. It exits 1 if it does not finish within ``DEADLINE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

from libs.common.bus import connect
from libs.common.consumer import Consumer
from libs.common.relay import Relay
from libs.common.service import migrate, open_pool
from libs.common.settings import CommonSettings
from tests.integration.common_app import (
    CRASH_CONSUMER,
    CRASH_READ_SCHEMA,
    READ_MODEL_DDL,
    CrashTestApp,
    counting_handler,
)

DEADLINE_SECONDS = 45.0


class DeadlineMissed(Exception):
    """The loop did not catch up in time."""


async def _until_caught_up(lag: Callable[[], Awaitable[int]]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while await lag():
        if time.monotonic() > deadline:
            raise DeadlineMissed(f"still {await lag()} behind after {DEADLINE_SECONDS}s")
        await asyncio.sleep(0.05)


async def relay(settings: CommonSettings) -> dict[str, int]:
    app = await asyncio.to_thread(CrashTestApp, settings)
    pool = await open_pool(settings, max_size=2)
    nc = await connect(settings, "crash-worker-relay")
    r = Relay(app, nc.jetstream(), pool)
    try:
        await r.setup()
        r.start()
        await _until_caught_up(r.lag)
        await r.stop()
        return {"published": r.published_total, "position": await r.position()}
    finally:
        await nc.close()
        await pool.close()
        app.close()


async def consume(settings: CommonSettings) -> dict[str, int]:
    pool = await open_pool(settings, max_size=2)
    await migrate(pool, CRASH_READ_SCHEMA, [READ_MODEL_DDL])
    nc = await connect(settings, "crash-worker-consumer")
    consumer = Consumer(
        settings=settings,
        schema=CRASH_READ_SCHEMA,
        name=CRASH_CONSUMER,
        source=CrashTestApp.service,
        handler=counting_handler(CRASH_READ_SCHEMA, CRASH_CONSUMER),
        js=nc.jetstream(),
        pool=pool,
    )
    try:
        await consumer.setup()
        consumer.start()
        await _until_caught_up(consumer.lag)
        await consumer.stop()
        return {"handled": consumer.handled_total, "duplicates": consumer.duplicates_total}
    finally:
        await nc.close()
        await pool.close()


def main() -> int:
    settings = CommonSettings().model_copy(update={"service": CrashTestApp.service})
    roles = {"relay": relay, "consume": consume}
    if len(sys.argv) != 2 or sys.argv[1] not in roles:
        print(f"usage: python -m tests.integration.crash_worker {'|'.join(roles)}")
        return 2
    try:
        counters = asyncio.run(roles[sys.argv[1]](settings))
    except DeadlineMissed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(counters), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
