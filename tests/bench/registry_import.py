"""``make bench-import``: the registry at the scale of a province (issue 3's figures).

Generates ROWS realistic subjects (valid USCCs, real county codes, risk classes about
A 60 % / B 30 % / C 8 % / D 2 %), then in one run:
- COPYs them into a plain table (the floor);
- imports them through the operators' path (validation, events, one transaction);
- relays the events and updates the registry's read model;
- re-imports the unchanged file (events written must be 0);
- counts a filter per risk class over the read model.
``ROWS=N`` for a smaller run (default 1,000,000). Uses DATABASE_URL / NATS_URL when set,
else embedded servers. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import resource
import time
from pathlib import Path
from typing import Any

import psycopg

from libs.common.bus import connect
from libs.common.consumer import Consumer
from libs.common.relay import Relay
from libs.common.service import migrate, open_pool
from services.registry.application import RegistryApplication
from services.registry.domain.regions import regions
from services.registry.imports.importer import Importer
from services.registry.projections import views
from tests.builders import INDUSTRIES, make_uscc
from tests.support import Infra, start_infra, stop_infra

DATA = Path(__file__).resolve().parents[2] / "bench-data"
HEADER = ["identifier", "kind", "name", "region_code", "industry", "risk_class", "address"]


def generate(rows: int) -> Path:
    """The CSV an operator would upload (kept in bench-data/, which git ignores)."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"subjects-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(2260)
    counties = [r.code for r in regions().values() if r.level == "county"]
    seen: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        while len(seen) < rows:
            region = rng.choice(counties)
            uscc = make_uscc(rng, region)
            if uscc in seen:
                continue
            seen.add(uscc)
            risk = rng.choices("ABCD", weights=(60, 30, 8, 2))[0]
            writer.writerow(
                [
                    uscc,
                    "for_profit",
                    f"某某{len(seen):07d}有限公司",
                    region,
                    rng.choice(INDUSTRIES),
                    risk,
                    f"某某路{rng.randrange(1, 999)}号",
                ]
            )
    return path


def copy_floor(infra: Infra, path: Path) -> float:
    """Seconds to COPY the same rows into a plain table."""
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_copy (identifier text, kind text, name text, "
            "region_code text, industry text, risk_class text, address text)"
        )
        conn.execute("TRUNCATE bench_copy")
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as f,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - started


async def relay_and_project(infra: Infra, app: RegistryApplication) -> float:
    """Seconds until every stored event is in JetStream and in the registry's read model."""
    settings = app.settings
    pool = await open_pool(settings)
    await migrate(pool, "registry", views.DDL)
    nc = await connect(settings, "bench-import")
    js = nc.jetstream()
    relay = Relay(app, js, pool)
    await relay.setup()
    consumer = Consumer(
        settings=settings,
        schema="registry",
        name="views",
        source="registry",
        batch_handler=views.apply_batch,
        js=js,
        pool=pool,
    )
    await consumer.setup()
    started = time.perf_counter()
    relay.start()
    consumer.start()
    while await relay.lag() or await consumer.lag():
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await relay.stop()
    await nc.close()
    await pool.close()
    return elapsed


def count_filter(infra: Infra) -> float:
    """Milliseconds to count one filter per risk class over the read model (best of 5)."""
    timings = []
    with psycopg.connect(infra.database_url) as conn:
        for _ in range(5):
            started = time.perf_counter()
            conn.execute(
                "SELECT risk_class, count(*) FROM registry.subjects_view "
                "WHERE region_code LIKE '42%' AND status = 'operating' GROUP BY risk_class"
            ).fetchall()
            timings.append(time.perf_counter() - started)
    return min(timings) * 1000


def measure(infra: Infra, rows: int) -> dict[str, Any]:
    """Every figure of the issue, for ``rows`` subjects."""
    path = generate(rows)
    data = path.read_bytes()
    floor = copy_floor(infra, path)
    app = RegistryApplication(infra.settings("registry"))
    started = time.perf_counter()
    first = Importer(app).run("subjects", data, path.name)
    imported = time.perf_counter() - started
    projected = asyncio.run(relay_and_project(infra, app))
    started = time.perf_counter()
    again = Importer(app).run("subjects", data, path.name)
    reimported = time.perf_counter() - started
    app.close()
    total = imported + projected
    return {
        "rows": rows,
        "copy_floor_s": round(floor, 2),
        "import_s": round(imported, 2),
        "relay_and_read_model_s": round(projected, 2),
        "total_s": round(total, 2),
        "ratio_to_copy": round(total / floor, 1),
        "events_written": first.events_written,
        "errors": len(first.errors),
        "reimport_s": round(reimported, 2),
        "reimport_events_written": again.events_written,
        "count_filter_ms": round(count_filter(infra), 1),
        # The importer's own peak plus the largest peak of the process that reads and
        # checks the file beside it (an upper bound of the two together).
        "peak_memory_mb": round(
            (
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            )
            / 1024
        ),
    }


def main() -> None:
    rows = int(os.environ.get("ROWS", "1000000"))
    infra = start_infra()
    try:
        figures = measure(infra, rows)
    finally:
        stop_infra(infra)
    for key, value in figures.items():
        print(f"{key:>26}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
