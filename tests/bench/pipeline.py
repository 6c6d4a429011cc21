"""Throughput of the shared event pipeline: store → relay → JetStream → consumer → read model.

``make bench-pipeline`` (``EVENTS=N`` to change the size, default 20 000). Uses
DATABASE_URL / NATS_URL when set, else embedded servers. The last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from libs.common.bus import connect
from libs.common.consumer import Consumer
from libs.common.relay import Relay
from libs.common.service import open_pool
from tests.integration.ledger import (
    APPLIED_DDL,
    Entry,
    LedgerApp,
    count_applications,
    count_applications_in_batches,
)
from tests.support import Infra, start_infra, stop_infra


async def consume(js: Any, pool: Any, settings: Any, **handler: Any) -> float:
    """Seconds for a fresh consumer to apply the whole stream."""
    consumer = Consumer(
        settings=settings,
        schema="ledger",
        name="bench-" + "-".join(handler),
        source="ledger",
        js=js,
        pool=pool,
        **handler,
    )
    await consumer.setup()
    started = time.perf_counter()
    consumer.start()
    while await consumer.lag():
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return elapsed


async def measure(infra: Infra, events: int) -> dict[str, float]:
    """Time each stage on a fresh database and NATS namespace."""
    settings = infra.settings("ledger")
    app = LedgerApp(settings)
    started = time.perf_counter()
    chunk = 1000
    for i in range(0, events, chunk):
        app.save(*[Entry(n) for n in range(i, min(events, i + chunk))])
    stored = time.perf_counter() - started

    pool = await open_pool(settings)
    await pool.execute(APPLIED_DDL)
    nc = await connect(settings, "bench")
    js = nc.jetstream()
    relay = Relay(app, js, pool)
    await relay.setup()
    started = time.perf_counter()
    while await relay.publish_pending():
        pass
    relayed = time.perf_counter() - started

    consumed = await consume(js, pool, settings, handler=count_applications)
    consumed_batch = await consume(js, pool, settings, batch_handler=count_applications_in_batches)
    await nc.close()
    await pool.close()
    app.close()
    return {
        "events": events,
        "store_s": round(stored, 2),
        "relay_s": round(relayed, 2),
        "relay_events_per_s": round(events / relayed),
        "consume_s": round(consumed, 2),
        "consume_events_per_s": round(events / consumed),
        "consume_batch_handler_s": round(consumed_batch, 2),
        "consume_batch_handler_events_per_s": round(events / consumed_batch),
    }


def main() -> None:
    infra = start_infra()
    try:
        figures = asyncio.run(measure(infra, int(os.environ.get("EVENTS", "20000"))))
    finally:
        stop_infra(infra)
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
