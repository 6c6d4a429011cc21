"""Throughput of the shared event pipeline: store → relay → JetStream → consumer → read model.

``make bench-pipeline`` (``EVENTS=N`` to change the size, default 20 000). Uses
DATABASE_URL / NATS_URL when set, else embedded servers. The last line printed is one JSON
object with every figure:

- ``store``, ``relay``: the ledger test application's events into its store, then JetStream;
- ``consume``: a fresh consumer applies that stream with a per-event handler, then with a
  batch handler (one ``executemany`` per fetched batch);
- ``registry``: the province-scale import's path: EVENTS ``SubjectRegistered`` CloudEvents
  put on the registry's stream as the relay writes them (``Nats-Msg-Id``,
  ``Nats-Expected-Last-Sequence``, ``Nats-Expected-Stream`` and ``traceparent`` headers),
  then applied by the registry's own consumer into ``registry.subjects_view``
  (``views.apply_batch``): JetStream to committed read model. ``cpu_share`` is the part of
  that time this process was on a CPU (near 1: the consumer's Python is the bottleneck);
  ``cpu_us_per_event`` is less sensitive than events/s to other work on the machine.

Tracing is set up as in every service process (spans recorded, not exported), and
``SSJ_CONSUMER_BATCH`` is read as a service reads it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from opentelemetry.trace import SpanKind

from libs.common.bus import connect, ensure_stream
from libs.common.consumer import Consumer
from libs.common.envelope import to_cloudevent
from libs.common.relay import Relay
from libs.common.service import migrate, open_pool
from libs.common.tracing import inject_headers, setup_tracing, tracer
from services.registry.domain.subjects import Subject
from services.registry.projections import views
from tests.integration.ledger import (
    APPLIED_DDL,
    Entry,
    LedgerApp,
    count_applications,
    count_applications_in_batches,
)
from tests.support import Infra, start_infra, stop_infra


async def consume(
    js: Any,
    pool: Any,
    settings: Any,
    schema: str = "ledger",
    source: str = "ledger",
    **handler: Any,
) -> tuple[float, float]:
    """Seconds for a fresh consumer to apply the whole stream, and the share of that time
    this process was on a CPU (1.0: Python is the bottleneck)."""
    if "SSJ_CONSUMER_BATCH" in os.environ:  # as a service process would read it
        settings = settings.model_copy(
            update={"consumer_batch": int(os.environ["SSJ_CONSUMER_BATCH"])}
        )
    consumer = Consumer(
        settings=settings,
        schema=schema,
        name="bench-" + "-".join(handler),
        source=source,
        js=js,
        pool=pool,
        **handler,
    )
    await consumer.setup()
    started, cpu = time.perf_counter(), time.process_time()
    consumer.start()
    while await consumer.lag():
        await asyncio.sleep(0.05)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await consumer.stop()
    return elapsed, cpu / elapsed


def subject_registrations(events: int, prefix: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """(subject, body, headers) of ``events`` SubjectRegistered messages, as the relay
    publishes them: stored metadata, a publish span's traceparent in body and header, the
    message id and the expected last sequence (the stream starts empty)."""
    out = []
    publish = tracer("ssj.bench")
    meta = {
        "actor": {"sub": "op-import", "dept": "SAMR", "roles": ["operator"]},
        "correlation_id": "bench-import",
    }
    for n in range(1, events + 1):
        subject = Subject(
            identifier=f"BENCH-{n:09d}",
            kind="non_market",
            name=f"某某{n:07d}有限公司",
            legal_form="",
            region_code="420202",
            industry="F5299",
            address=f"某某路{n % 999 + 1}号",
            legal_representative="",
            status="operating",
            departments=["SAMR"],
            tags=[],
            risk_class="ABCD"[n % 4],
            abnormal_operation=False,
            serious_violation=False,
            supervising_unit="",
        )
        (event,) = subject.collect_events()
        object.__setattr__(event, "meta", dict(meta))
        with publish.start_as_current_span(
            "publish registry.SubjectRegistered", kind=SpanKind.PRODUCER
        ):
            headers = inject_headers({})
            out_event = to_cloudevent(
                "registry", prefix, n, event, traceparent=headers.get("traceparent")
            )
        headers["Nats-Msg-Id"] = out_event.msg_id
        headers["Nats-Expected-Last-Sequence"] = str(n - 1)
        out.append((out_event.subject, out_event.body, headers))
    return out


async def registry_import(infra: Infra, events: int) -> dict[str, float]:
    """Seconds for the registry's consumer to apply ``events`` registrations."""
    settings = infra.settings("registry")
    messages = subject_registrations(events, settings.subject_prefix("registry"))
    pool = await open_pool(settings)
    await migrate(pool, "registry", views.DDL)
    nc = await connect(settings, "bench-registry")
    js = nc.jetstream()
    await ensure_stream(js, settings, "registry")
    stream = settings.stream_name("registry")
    window = 2000  # pipelined like the relay: sent in order, each expecting its predecessor
    for i in range(0, len(messages), window):
        await asyncio.gather(
            *(
                js.publish(subject, body, headers=headers, stream=stream)
                for subject, body, headers in messages[i : i + window]
            )
        )
    del messages
    consumed, cpu = await consume(
        js, pool, settings, schema="registry", source="registry", batch_handler=views.apply_batch
    )
    rows = await pool.fetchval("SELECT count(*) FROM registry.subjects_view")
    assert rows == events, f"{rows} rows in the read model for {events} events"
    await nc.close()
    await pool.close()
    return {
        "registry_consume_s": round(consumed, 2),
        "registry_consume_events_per_s": round(events / consumed),
        "registry_consume_cpu_share": round(cpu, 2),
        "registry_consume_cpu_us_per_event": round(cpu * consumed / events * 1e6, 1),
    }


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

    consumed, _ = await consume(js, pool, settings, handler=count_applications)
    consumed_batch, _ = await consume(
        js, pool, settings, batch_handler=count_applications_in_batches
    )
    await nc.close()
    await pool.close()
    app.close()
    registry = await registry_import(infra, events)
    return {
        "events": events,
        "store_s": round(stored, 2),
        "relay_s": round(relayed, 2),
        "relay_events_per_s": round(events / relayed),
        "consume_s": round(consumed, 2),
        "consume_events_per_s": round(events / consumed),
        "consume_batch_handler_s": round(consumed_batch, 2),
        "consume_batch_handler_events_per_s": round(events / consumed_batch),
        **registry,
    }


def main() -> None:
    setup_tracing("bench")  # spans recorded (not exported), as in every service process
    infra = start_infra()
    try:
        figures = asyncio.run(measure(infra, int(os.environ.get("EVENTS", "20000"))))
    finally:
        stop_infra(infra)
    for key, value in figures.items():
        print(f"{key:>34}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
