"""``make bench-disclosure``: the public record at a province's scale (the disclosure
issue's figures).

A fresh database (DATABASE_URL / NATS_URL when set, else embedded servers) and the
disclosure service as a process. The read model is filled directly with
``BENCH_DISCLOSURE_N`` (default 1,000,000) disclosed results, written as the results
projection writes them (its name keys and character pairs come from the same domain
functions), for 20 departments and their plans: publishing a million results through the
whole pipeline would measure the results service, not the public record. Then:

1. ``uscc_*``: ``GET /v1/public/results?identifier=`` of random disclosed subjects,
   ``BENCH_DISCLOSURE_CLIENTS`` (default 200) keep-alive clients at once: requests/s,
   p50/p99 (target p99 ≤ 20 ms);
2. ``name_search_*``: ``GET /v1/public/results?name=&limit=20`` with 2–4 characters taken
   from random names, the same way (target p99 ≤ 100 ms); each kind of look-up is
   measured after ``WARM`` of its own kind (other picks): a fresh database's first
   searches read their pages from disk;
3. ``export_s``: ``POST /v1/exports`` of the whole year as XLSX, until the last byte is in
   (target ≤ 60 s); ``export_csv_s`` the same as CSV;
4. the floors, for machines that differ: ``GET /healthz`` at the same concurrency;
   ``floor_row_*``, ``floor_uscc_*``, ``floor_name_*``: the mandated stack (FastAPI,
   uvicorn, asyncpg) with nothing of ours (:mod:`tests.bench.disclosure_floor`) answering
   the cheapest indexed look-up, one row by USCC, then the service's own USCC and name
   queries, with the same clients; and ``xlsx_floor_s``, the export's XLSX writer alone
   writing as many rows of the same cells (no database).

``BENCH_DISCLOSURE_REPLICAS`` (default 2, as production runs every service): disclosure
processes sharing the clients (the /healthz floor is measured across them too).

The last line printed is one JSON object with every figure and a ``pass`` object.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg

from libs.common.infra import die_with_parent, free_port, stop_process
from services.disclosure.domain.national import bigrams, normalise_name
from tests.bench.results import Connection, concurrently, cpu_seconds, last_line, percentile
from tests.builders import make_uscc
from tests.support import (
    ROOT,
    Infra,
    ServiceProcess,
    start_infra,
    stop_infra,
    token,
    wait_until,
)

TARGETS: dict[str, tuple[str, float]] = {
    "uscc_p99_ms": ("<=", 20.0),
    "name_search_p99_ms": ("<=", 100.0),
    "export_s": ("<=", 60.0),
}
YEAR = date.today().year
DEPARTMENTS = [(f"D{n:02d}", f"湖北省第{n}监管局", f"42{n % 17 + 1:02d}00") for n in range(20)]
# Characters of the distinctive part of a name (字号), and the rest of a name.
FIRMS = "华兴达盛隆鑫源泰丰恒瑞祥福安康宏伟嘉禾顺利天成金银长江楚荆鄂汉东南西北中新"
CITIES = ["武汉", "黄石", "十堰", "宜昌", "襄阳", "鄂州", "荆门", "孝感", "荆州", "黄冈"]
TRADES = ["商贸", "食品", "餐饮", "建材", "药房", "物流", "科技", "服装", "农业", "酒店"]
OUTCOMES = [
    ("no_problem", "未发现问题", 70),
    ("problem_corrected", "发现问题已责令改正", 12),
    ("problem_pending", "发现问题待后续处理", 5),
    ("unreachable", "通过登记的住所（经营场所）无法联系", 6),
    ("refused", "不配合检查情节严重", 2),
    ("no_activity", "未发现开展本次抽查涉及的经营活动", 5),
]
COLUMNS = (
    "record_id, draw_id, plan_id, subject_identifier, subject_name, department, "
    "inspection_type, inspected_on, outcome, outcome_text, findings, corrections, disclosed_at, "
    "batch_id, pending_kind, non_cooperation_case, decided_on, published_on, publication_due, "
    "publication_due_provisional, late, name_key, editions"
)

PAIRS_COPY = "COPY disclosure.result_name_pairs (pair, record_id) FROM STDIN"
# Look-ups of each kind sent before measuring it (picks of their own): a fresh database's
# first searches read their pages from disk, which is not the steady state measured.
WARM = 2000


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def name_of(rng: random.Random) -> str:
    firm = "".join(rng.choice(FIRMS) for _ in range(rng.choice((2, 2, 3, 4))))
    return f"{rng.choice(CITIES)}{firm}{rng.choice(TRADES)}有限公司"


def fill(database_url: str, n: int) -> tuple[list[str], list[str]]:
    """The departments, plans and ``n`` results; a sample of identifiers and names."""
    rng = random.Random(20261205)
    plans: dict[str, tuple[str, list[str]]] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for code, name, region in DEPARTMENTS:
            conn.execute(
                "INSERT INTO disclosure.departments_view (code, department_id, active, version, "
                "region_code, name) VALUES (%s, %s, true, 1, %s, %s)",
                (code, uuid.uuid4(), region, name),
            )
            plan_id, batches = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]
            plans[code] = (plan_id, batches)
            conn.execute(
                "INSERT INTO disclosure.plans (plan_id, year, title, mode, initiating_department, "
                "participating_departments, items, batches, number, published_at, edition) "
                "VALUES (%s, %s, %s, 'comprehensive', %s, '[]', '[]', %s, %s, now(), 1)",
                (
                    plan_id,
                    YEAR,
                    f"{name}{YEAR}年双随机抽查计划",
                    code,
                    json.dumps(
                        [
                            {
                                "batch_id": b,
                                "task_number": f"{region}-{YEAR}-{k + 1:02d}",
                                "name": f"第{k + 1}批抽查",
                                "directed": False,
                            }
                            for k, b in enumerate(batches)
                        ]
                    ),
                    f"{region}-{YEAR}-{code}",
                ),
            )
        weights = [w for *_, w in OUTCOMES]
        identifiers, names = [], []
        first = date(YEAR, 1, 2)
        with (
            psycopg.connect(database_url, autocommit=True) as other,
            conn.cursor() as cur,
            other.cursor() as pairs_cur,
            cur.copy(f"COPY disclosure.results ({COLUMNS}) FROM STDIN") as copy,
            pairs_cur.copy(PAIRS_COPY) as pairs,
        ):
            for i in range(n):
                code = DEPARTMENTS[i % len(DEPARTMENTS)][0]
                plan_id, batches = plans[code]
                outcome, text, _ = rng.choices(OUTCOMES, weights)[0]
                name = name_of(rng)
                identifier = make_uscc(rng, DEPARTMENTS[i % len(DEPARTMENTS)][2])
                inspected = first + timedelta(days=rng.randrange(300))
                published = inspected + timedelta(days=rng.randrange(1, 40))
                due = inspected + timedelta(days=28)
                problem = outcome.startswith("problem")
                record_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                for pair in bigrams(name):
                    pairs.write_row((pair, record_id))
                copy.write_row(
                    (
                        record_id,
                        uuid.uuid4(),
                        plan_id,
                        identifier,
                        name,
                        code,
                        "不定向抽查",
                        inspected,
                        outcome,
                        text,
                        json.dumps(
                            [
                                {
                                    "item_code": f"{code}-1",
                                    "outcome": "problem" if problem else "no_problem",
                                    "outcome_text": "发现问题" if problem else "未发现问题",
                                }
                            ]
                        ),
                        0,
                        datetime.combine(published, datetime.min.time(), UTC),
                        rng.choice(batches),
                        "correction_ordered" if outcome == "problem_pending" else None,
                        "denied_entry" if outcome == "refused" else None,
                        published if problem else None,
                        published,
                        due,
                        False,
                        published > due,
                        normalise_name(name),
                        json.dumps(
                            [
                                {
                                    "edition": 1,
                                    "published_on": published.isoformat(),
                                    "outcome": outcome,
                                    "outcome_text": text,
                                }
                            ]
                        ),
                    )
                )
                if i % 997 == 0:
                    identifiers.append(identifier)
                    names.append(name)
                if i and i % 100_000 == 0:
                    say(f"  {i:,} results written")
        # As autovacuum does after a load: statistics, and the pairs' pages marked all-visible
        # (their look-ups are index-only).
        conn.execute("VACUUM ANALYZE disclosure.results")
        conn.execute("VACUUM ANALYZE disclosure.result_name_pairs")
    return identifiers, names


async def load(urls: list[str], paths: list[str], clients: int) -> tuple[float, list[float], int]:
    """GET each path, ``clients`` at a time: requests/s, latencies, answers with rows."""
    took: list[float] = []
    queue = iter(paths)
    found = 0

    async def work(connection: Connection) -> None:
        nonlocal found
        for path in queue:
            status, answer, seconds = await connection.request("GET", path)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {answer[:500]!r}")
            took.append(seconds)
            found += b'"record_id"' in answer

    wall = await concurrently(urls, clients, work)
    return len(paths) / wall, took, found


def fragments(rng: random.Random, names: list[str], count: int) -> list[str]:
    """2–4 characters of the distinctive part of random names (what people type)."""
    out = []
    for _ in range(count):
        name = rng.choice(names)
        body = name[2:-6]  # past the city, before the trade and 有限公司
        size = min(len(body), rng.choice((2, 3, 4)))
        start = rng.randrange(len(body) - size + 1)
        out.append(body[start : start + size])
    return out


def export(url: str, office: str, fmt: str) -> tuple[float, int]:
    """Seconds until the whole year's file is in, and its size."""
    body = {"period_from": f"{YEAR}-01-01", "period_to": f"{YEAR}-12-31", "format": fmt}
    started = time.perf_counter()
    size = 0
    headers = {"Authorization": f"Bearer {office}"}
    with httpx.stream("POST", f"{url}/v1/exports", json=body, headers=headers, timeout=900) as r:
        if r.status_code != 200:
            raise RuntimeError(f"export {fmt}: {r.status_code} {r.read()[:500]!r}")
        for chunk in r.iter_bytes():
            size += len(chunk)
    return time.perf_counter() - started, size


def xlsx_floor(n: int) -> float:
    """Seconds the export's XLSX writer (rustpy-xlsxwriter) alone takes to write ``n`` rows
    of twelve cells like the export's, from a generator (no database, no service): the
    floor of ``export_s`` here."""
    from rustpy_xlsxwriter import write_worksheets

    from services.disclosure.domain.export import HEADERS

    row = ["420200-2026-D01", "湖北省第1监管局2026年双随机抽查计划", "420200-2026-01",
           "第1批抽查", "不定向抽查", "湖北省第1监管局", "91420200MA4KXXXX0X",
           "武汉华兴达商贸有限公司", "2026-03-01", "未发现问题", "", "2026-03-20"]  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = (dict(zip(HEADERS, row, strict=True)) for _ in range(n))
        write_worksheets([("floor", rows)], f"{tmp}/floor.xlsx", bold_headers=True)
    return time.perf_counter() - started


def floors(
    infra: Infra,
    replicas: int,
    clients: int,
    identifiers: list[str],
    names: list[str],
    count: int,
    rng: random.Random,
) -> dict[str, Any]:
    """The look-ups' floors (:mod:`tests.bench.disclosure_floor`): the bare stack serving
    one row by USCC, then the service's own USCC and name queries, with the same clients,
    as many processes as the service has, the service's processes idle beside them. Each
    is warmed up as the service's look-ups are, and measured on fresh picks of the same
    kind (not the service's own: their pages would be the ones in PostgreSQL's cache)."""
    ports = [free_port() for _ in range(replicas)]
    bare = [
        subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.bench.disclosure_floor:app",
             "--port", str(port), "--loop", "uvloop", "--http", "httptools",
             "--no-access-log", "--log-level", "warning"],
            env={**os.environ, "DATABASE_URL": infra.database_url},
            cwd=ROOT,
            preexec_fn=die_with_parent(),
        )
        for port in ports
    ]  # fmt: skip
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            wait_until(lambda url=url: _answers(f"{url}/row?identifier=x"), timeout=30)
        figures: dict[str, Any] = {}
        looks = [
            ("floor_row", "/row?identifier={}", lambda k: rng.choices(identifiers, k=k)),
            ("floor_uscc", "/results?identifier={}", lambda k: rng.choices(identifiers, k=k)),
            (
                "floor_name",
                "/results?limit=20&name={}",
                lambda k: [_quote(w) for w in fragments(rng, names, k)],
            ),
        ]
        for key, path, picks in looks:
            asyncio.run(load(urls, [path.format(p) for p in picks(WARM)], clients))
            paths = [path.format(p) for p in picks(count)]
            rps, took, _ = asyncio.run(load(urls, paths, clients))
            figures.update(
                {
                    f"{key}_rps": round(rps),
                    f"{key}_p50_ms": percentile(took, 0.5),
                    f"{key}_p99_ms": percentile(took, 0.99),
                }
            )
            say(
                f"floor, bare stack, {key[6:]}: {rps:.0f}/s, p50 {figures[f'{key}_p50_ms']} "
                f"p99 {figures[f'{key}_p99_ms']} ms"
            )
        return figures
    finally:
        for proc in bare:
            stop_process(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def measure(n: int, clients: int, requests: int, replicas: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "results": n,
        "clients": clients,
        "replicas": replicas,
        "cores": os.cpu_count(),
    }
    infra = start_infra()
    procs = [ServiceProcess(infra, "disclosure") for _ in range(replicas)]
    proc = procs[0]
    try:
        for each in procs:  # one after the other: the first creates the tables
            each.start()
        say(f"writing {n:,} disclosed results")
        started = time.perf_counter()
        identifiers, names = fill(infra.database_url, n)
        figures["load_s"] = round(time.perf_counter() - started, 1)
        rng = random.Random(7)
        url, urls = proc.url, [each.url for each in procs]
        asyncio.run(load(urls, ["/healthz"] * 2000, clients))  # warm up
        rps, took, _ = asyncio.run(load(urls, ["/healthz"] * requests, clients))
        figures.update(healthz_rps=round(rps), healthz_p99_ms=percentile(took, 0.99))
        say(f"floor: GET /healthz {rps:.0f}/s, p99 {figures['healthz_p99_ms']} ms")

        uscc = "/v1/public/results?identifier={}"
        warm = rng.choices(identifiers, k=WARM)
        asyncio.run(load(urls, [uscc.format(i) for i in warm], clients))
        paths = [uscc.format(rng.choice(identifiers)) for _ in range(requests)]
        pids = [each.proc.pid for each in procs if each.proc]
        cpu = sum(map(cpu_seconds, pids))
        rps, took, found = asyncio.run(load(urls, paths, clients))
        if found != requests:
            raise RuntimeError(f"{requests - found} USCC look-ups found nothing")
        figures.update(
            uscc_rps=round(rps),
            uscc_p50_ms=percentile(took, 0.5),
            uscc_p99_ms=percentile(took, 0.99),
        )
        say(f"USCC: {rps:.0f}/s, p50 {figures['uscc_p50_ms']} p99 {figures['uscc_p99_ms']} ms")
        by_name = "/v1/public/results?limit=20&name={}"
        warm = fragments(rng, names, WARM)
        asyncio.run(load(urls, [by_name.format(_quote(w)) for w in warm], clients))
        paths = [by_name.format(_quote(w)) for w in fragments(rng, names, requests)]
        rps, took, found = asyncio.run(load(urls, paths, clients))
        figures.update(
            name_search_rps=round(rps),
            name_search_p50_ms=percentile(took, 0.5),
            name_search_p99_ms=percentile(took, 0.99),
            name_search_found_share=round(found / requests, 3),
        )
        figures["service_cpu_s"] = round(sum(map(cpu_seconds, pids)) - cpu, 1)
        say(
            f"name: {rps:.0f}/s, p50 {figures['name_search_p50_ms']} "
            f"p99 {figures['name_search_p99_ms']} ms"
        )
        figures.update(floors(infra, replicas, clients, identifiers, names, requests, rng))
        office = token(infra, "office-bench", "OFFICE", "office")
        for fmt, key in (("xlsx", "export_s"), ("csv", "export_csv_s")):
            seconds, size = export(url, office, fmt)
            figures[key] = round(seconds, 1)
            figures[f"{key[:-2]}_mb"] = round(size / 1e6, 1)
            say(f"export {fmt}: {seconds:.1f} s, {size / 1e6:.1f} MB")
        figures["xlsx_floor_s"] = round(xlsx_floor(n), 1)
        say(f"floor: the XLSX writer alone writes {n:,} such rows in {figures['xlsx_floor_s']} s")
    except Exception:
        for each in procs:
            say(each.log())
        raise
    finally:
        for each in procs:
            each.stop()
        stop_infra(infra)
    return figures


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def main() -> None:
    n = int(os.environ.get("BENCH_DISCLOSURE_N", "1000000"))
    clients = int(os.environ.get("BENCH_DISCLOSURE_CLIENTS", "200"))
    requests = int(os.environ.get("BENCH_DISCLOSURE_REQUESTS", "20000"))
    replicas = int(os.environ.get("BENCH_DISCLOSURE_REPLICAS", "2"))
    print(last_line(measure(n, clients, requests, replicas), TARGETS))


if __name__ == "__main__":
    main()
