"""``make bench-plans``: planning at the scale of a province (the plans issue's figures).

A fresh database and NATS namespace; the registry and the planner as processes. The
registry's subject directory is seeded directly by COPY with ROWS realistic subjects of
Hubei (湖北省: its county codes, GB/T 4754 divisions weighted towards retail, manufacturing,
catering and IT, risk classes about A 60 % / B 30 % / C 8 % / D 2 %, a few tags and
flags): the speed of the import and its events is what ``make bench-import`` measures.
Forty departments of the province register and publish an item each through the API, then
file 200 proposals for next year (a city or county scope, one to three sections or
divisions, one or two methods), and:

1. ``merge_suggestions_s``: the first ``GET /v1/merge-suggestions`` for the year after the
   subjects were loaded (target ≤ 5 s at 1M): the overlaps of the proposals' scopes, each
   counted by the registry, which groups its subjects afresh (``merge_suggestions_warm_s``:
   the best of two more asks, the groups reused while the subjects stay as they are);
2. ``publish_20_batches_s``: ``POST /v1/plans/{id}/publish`` of a plan with 20 batches
   (target ≤ 2 s): the share of each item's subjects it inspects, counted by the registry
   (its groups warm: nothing changed the subjects since), the floors checked, the plan
   published; ``registry_cold_s``: the registry's time for a count with its groups built
   afresh, measured after a subject changed.

Floors measured in the same run, for machines that differ: ``count_scan_s``, one plain
``SELECT count(*)`` of the registry's subjects (no count of them can take less), and
``registry_counts_s`` / ``groups``, the registry's own time for a request and the number of
groups it counted over. ``ROWS=N`` for a smaller run (default 1,000,000). The last line
printed is one JSON object with every figure and a ``pass`` object.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx

from services.planner.domain.coverage import region_prefix
from services.registry.domain.industries import SECTIONS
from services.registry.domain.regions import regions
from tests.builders import department_payload, item_payload, make_uscc, subject_payload
from tests.support import Infra, start_infra, start_stack, stop_infra, token, wait_until

PROVINCE = "42"
YEAR = time.localtime().tm_year + 1
TARGETS = {"merge_suggestions_s": 5.0, "publish_20_batches_s": 2.0}
RISK = {"A": 60, "B": 30, "C": 8, "D": 2}
HEAVY = {"F": 6, "C": 4, "H": 3, "I": 2, "E": 2, "L": 2, "M": 1, "O": 2}  # weights of sections
TAGS = ("food", "cold_chain", "special_equipment", "hazardous", "kids")
METHODS = ("on_site", "documentary", "online", "sampling")
DEPARTMENTS = 40
PROPOSALS = 200
BATCHES = 20


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _divisions() -> tuple[list[str], list[int]]:
    codes, weights = [], []
    for section, (first, last) in SECTIONS.items():
        for division in range(first, last + 1):
            codes.append(f"{section}{division:02d}")
            weights.append(HEAVY.get(section, 1))
    return codes, weights


def subjects(rows: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Rows of registry.subjects_view."""
    counties = sorted(
        r.code for r in regions().values() if r.code.startswith(PROVINCE) and r.level == "county"
    )
    divisions, weights = _divisions()
    classes, class_weights = list(RISK), list(RISK.values())
    for n in range(rows):
        county = rng.choice(counties)
        tags = [t for t in TAGS if rng.random() < 0.04]
        yield (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            f"{make_uscc(rng, county)[:-8]}{n:08d}",  # unique; check digit not verified here
            "for_profit" if rng.random() < 0.9 else "non_profit",
            f"湖北某某{n:07d}有限公司",
            "有限责任公司",
            county,
            rng.choices(divisions, weights)[0] + f"{rng.randrange(10, 99)}",
            "湖北省",
            "张某",
            "operating" if rng.random() < 0.97 else "deregistered",
            json.dumps(["SAMR"]),
            json.dumps(tags),
            rng.choices(classes, class_weights)[0],
            rng.random() < 0.03,
            rng.random() < 0.005,
            1,
        )


async def seed_registry(infra: Infra, rows: int) -> tuple[float, float]:
    """COPY the subjects into the registry's read model; seconds taken, and the seconds of
    one plain count of them afterwards (the floor of any count)."""
    conn = await asyncpg.connect(infra.database_url)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "subjects_view",
            schema_name="registry",
            columns=[
                "id",
                "identifier",
                "kind",
                "name",
                "legal_form",
                "region_code",
                "industry",
                "address",
                "legal_representative",
                "status",
                "departments",
                "tags",
                "risk_class",
                "abnormal_operation",
                "serious_violation",
                "version",
            ],
            records=subjects(rows, random.Random(20261205)),
        )
        await conn.execute("VACUUM ANALYZE registry.subjects_view")
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        await conn.fetchval("SELECT count(*) FROM registry.subjects_view")
        return seeded, time.perf_counter() - started
    finally:
        await conn.close()


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


def _scope(rng: random.Random, cities: list[str], counties: list[str]) -> dict[str, Any]:
    divisions, weights = _divisions()
    region = rng.choice(cities) if rng.random() < 0.6 else rng.choice(counties)
    picks = rng.choices(divisions, weights, k=rng.randint(1, 3))
    industries = sorted({p[0] if rng.random() < 0.3 else p for p in picks})
    pool: dict[str, Any] = {"region_prefixes": [region_prefix(region)], "industries": industries}
    if rng.random() < 0.2:
        pool["tags"] = [rng.choice(TAGS)]
    return pool


def measure(rows: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"rows": rows, "proposals": PROPOSALS, "batches": BATCHES}
    infra = start_infra()
    procs = start_stack(infra, ("registry", "planner"))
    rng = random.Random(7)
    try:
        seeded, scan = asyncio.run(seed_registry(infra, rows))
        figures.update(seed_s=round(seeded, 1), count_scan_s=round(scan, 3))
        say(f"seeded {rows} subjects in {seeded:.1f} s; a plain count takes {scan:.3f} s")
        office = {"Authorization": f"Bearer {token(infra, 'office', 'OFFICE', 'office')}"}
        registry = httpx.Client(base_url=procs["registry"].url, timeout=120)
        planner = httpx.Client(base_url=procs["planner"].url, timeout=120)
        codes = [f"HB{n:02d}" for n in range(DEPARTMENTS)]
        items = {}
        for code in codes:
            body = department_payload(code, name=f"湖北省第{code}厅", region_code="420000")
            if registry.post("/v1/departments", headers=office, json=body).status_code not in (
                201,
                409,
            ):
                raise RuntimeError(f"department {code}")
            op = {"Authorization": f"Bearer {token(infra, f'op-{code}', code, 'operator')}"}
            item = item_payload(f"{code}-{YEAR}-1", code, methods=list(METHODS))
            _ok(registry.post("/v1/items", headers=op, json=item))
            _ok(registry.post(f"/v1/items/{item['code']}/publish", headers=op))
            items[code] = (item["code"], op)
        wait_until(
            lambda: (
                len(_ok(planner.get("/v1/items", headers=office, params={"published": "true"})))
                >= DEPARTMENTS
            ),
            timeout=60,
        )
        cities = sorted(
            r.code for r in regions().values() if r.code.startswith(PROVINCE) and r.level == "city"
        )
        counties = sorted(
            r.code
            for r in regions().values()
            if r.code.startswith(PROVINCE) and r.level == "county"
        )
        for n in range(PROPOSALS):
            dept = codes[n % DEPARTMENTS]
            code, op = items[dept]
            body = {
                "year": YEAR,
                "department": dept,
                "title": f"拟发起抽查 {n}",
                "item_codes": [code],
                "pool": _scope(rng, cities, counties),
                "methods": sorted(rng.sample(METHODS, rng.randint(1, 2))),
                "starts_on": f"{YEAR}-03-01",
                "ends_on": f"{YEAR}-11-30",
            }
            _ok(planner.post("/v1/proposals", headers=op, json=body))

        def listed() -> bool:
            page = _ok(
                planner.get("/v1/proposals", headers=office, params={"year": YEAR, "limit": 1000})
            )
            return len(page["items"]) >= PROPOSALS

        wait_until(listed, timeout=60)
        # The first ask after the subjects were loaded builds the registry's groups (cold);
        # the next ones reuse them while the subjects stay as they are (warm).
        took = []
        for _ in range(3):
            started = time.perf_counter()
            found = _ok(planner.get("/v1/merge-suggestions", headers=office, params={"year": YEAR}))
            took.append(time.perf_counter() - started)
        figures["merge_suggestions_s"] = round(took[0], 3)
        figures["merge_suggestions_warm_s"] = round(min(took[1:]), 3)
        figures["suggestions"] = len(found["suggestions"])
        figures["proposals_in_suggestions"] = sum(len(s["proposals"]) for s in found["suggestions"])
        took, groups = figures["merge_suggestions_s"], figures["suggestions"]
        say(f"merge suggestions: {took} s, {groups} groups")

        dept = codes[0]
        code, op = items[dept]
        batches = [
            {
                "name": f"第{k + 1}批次",
                "pool": _scope(rng, cities, counties),
                "starts_on": f"{YEAR}-{(k % 10) + 2:02d}-01",
                "ends_on": f"{YEAR}-{(k % 10) + 2:02d}-28",
            }
            for k in range(BATCHES)
        ]
        plan = _ok(
            planner.post(
                "/v1/plans",
                headers=op,
                json={
                    "year": YEAR,
                    "title": "二十批次计划",
                    "mode": "comprehensive",
                    "initiating_department": dept,
                    "item_codes": [code],
                    "batches": batches,
                },
            )
        )
        started = time.perf_counter()
        published = _ok(
            planner.post(
                f"/v1/plans/{plan['id']}/publish",
                headers=office,
                json={"floor_overrides": [{"item_code": code, "reason": "基准测试"}]},
            )
        )
        figures["publish_20_batches_s"] = round(time.perf_counter() - started, 3)
        figures["published_share"] = published["coverage"]["items"][0]["share"]
        counted = _ok(
            registry.post(
                "/v1/subject-counts",
                headers=office,
                json={"queries": [{"all_of": [{"region_prefixes": ["42"]}]}]},
            )
        )
        figures.update(registry_counts_s=counted["seconds"], groups=counted["groups"])
        # One subject registered through the API: the registry's groups are built again.
        newcomer = subject_payload(rng, "B", region_code="420102", departments=[codes[0]])
        _ok(registry.post("/v1/subjects", headers=items[codes[0]][1], json=newcomer))
        position = counted["as_of"]

        def rebuilt() -> dict[str, Any] | None:
            again = _ok(
                registry.post(
                    "/v1/subject-counts",
                    headers=office,
                    json={"queries": [{"all_of": [{"region_prefixes": ["42"]}]}]},
                )
            )
            return again if again["as_of"] != position else None

        figures["registry_cold_s"] = wait_until(rebuilt, timeout=60)["seconds"]
        say(f"publish with {BATCHES} batches: {figures['publish_20_batches_s']} s")
    finally:
        for proc in procs.values():
            proc.stop()
        stop_infra(infra)
    return figures


def main() -> None:
    rows = int(os.environ.get("ROWS", "1000000"))
    figures = measure(rows)
    verdicts = {k: figures.get(k) is not None and figures[k] <= t for k, t in TARGETS.items()}
    print(json.dumps({**figures, "targets": TARGETS, "pass": verdicts}, ensure_ascii=False))


if __name__ == "__main__":
    main()
