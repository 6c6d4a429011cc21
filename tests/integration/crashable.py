"""A relay or consumer as its own process, so a test can kill it mid-flight.

``python -m tests.integration.crashable relay|consume`` runs until everything is published
(relay) or applied (consume), then prints a JSON line of counters and exits 0. With
``SSJ_CRASH_AT`` set it dies at that crash point instead (exit code 86).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from libs.common.bus import connect
from libs.common.consumer import Consumer
from libs.common.relay import Relay
from libs.common.service import open_pool
from libs.common.settings import CommonSettings
from tests.integration.ledger import LedgerApp, count_applications

DEADLINE_SECONDS = 60


async def relay(settings: CommonSettings) -> dict[str, int]:
    app = LedgerApp(settings)
    pool = await open_pool(settings)
    nc = await connect(settings, "crashable-relay")
    r = Relay(app, nc.jetstream(), pool)
    await r.setup()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while await r.publish_pending() and time.monotonic() < deadline:
        pass
    result = {"published": r.published_total, "position": await r.position()}
    await nc.close()
    await pool.close()
    return result


async def consume(settings: CommonSettings) -> dict[str, int]:
    pool = await open_pool(settings)
    nc = await connect(settings, "crashable-consumer")
    consumer = Consumer(
        settings=settings,
        schema="ledger",
        name="counter",
        source="ledger",
        handler=count_applications,
        js=nc.jetstream(),
        pool=pool,
    )
    await consumer.setup()
    consumer.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while await consumer.lag() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await consumer.stop()
    result = {"handled": consumer.handled_total, "duplicates": consumer.duplicates_total}
    await nc.close()
    await pool.close()
    return result


def main() -> None:
    settings = CommonSettings().model_copy(update={"service": "ledger"})
    run = {"relay": relay, "consume": consume}[sys.argv[1]]
    print(json.dumps(asyncio.run(run(settings))), flush=True)


if __name__ == "__main__":
    main()
