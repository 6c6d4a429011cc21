"""A running service's read models as rows, and whether its consumers have caught up, for
the rebuild tests (tests/integration/test_rebuild_*.py)."""

from __future__ import annotations

import asyncio

import nats
import psycopg

from libs.common.service import ServiceSpec
from tests.support import Infra


def caught_up(infra: Infra, spec: ServiceSpec) -> bool:
    """Whether every consumer of the service has applied all its stream holds."""
    settings = infra.settings()

    async def lags() -> list[int]:
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            out = []
            with psycopg.connect(infra.database_url, autocommit=True) as conn:
                for consumer in spec.consumers:
                    stream = settings.stream_name(consumer.source)
                    row = conn.execute(
                        f"SELECT stream_seq FROM {spec.name}.consumer_position "
                        "WHERE consumer = %s AND stream = %s",
                        (f"{spec.name}-{consumer.name}", stream),
                    ).fetchone()
                    last = (await js.stream_info(stream)).state.last_seq
                    out.append(last - (row[0] if row else 0))
            return out
        finally:
            await nc.close()

    return not any(asyncio.run(lags()))


def snapshot(infra: Infra, spec: ServiceSpec) -> dict[str, list[str]]:
    """Every row of every table the service's consumers declare, and their positions."""
    tables = sorted({t for c in spec.consumers for t in c.tables})
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        out = {}
        for table in tables:
            rows = conn.execute(f"SELECT to_jsonb(t)::text FROM {spec.name}.{table} t ORDER BY 1")
            out[table] = [r[0] for r in rows]
        out["positions"] = [
            repr(r)
            for r in conn.execute(
                "SELECT consumer, stream, stream_seq, event_id, event_hash, high_water, "
                f"high_water_hash FROM {spec.name}.consumer_position ORDER BY 1, 2"
            )
        ]
    return out
