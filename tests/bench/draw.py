"""``make bench-draw``: the draw at the scale of a province (the draw issue's figures).

Generates ROWS realistic subjects of Hubei (湖北省: valid USCCs, its 103 real county codes,
supervising units, risk classes about A 60 % / B 30 % / C 8 % / D 2 %) and a roster of three
departments (市场监管, 税务, 生态环境) with province, city and county jurisdictions. Then:

1. **Selection core**: the canonical pool (``pool_line`` + ``sort_pool``), then
   ``subjects.select`` alone with ratios A 1 %, B 3 %, C 10 %, D 20 % (target ≤ 1 s at 1M),
   and the inspector groups of that selection with ``GroupDrawer``, timed apart.
2. **Verifier**: a complete draw (one inspector and one subject replacement), its public
   proof (the leaves the draw used, opened against the strata's Merkle roots: what anyone
   downloads) and its full proof (the whole pool: the office's and auditors'), each written
   to a file and checked by ``python -S -m services.draw.protocol.proof verify`` as a
   subprocess: wall time, JSON parsing included (targets at 1M: public ≤ 3 s; full ≤ 6 s,
   since it also rebuilds the trees the public announcement commits to). ``blind_s`` is
   what announcing adds for those trees, ``blind_hash_floor_s`` the least it could be in
   CPython (one SHA-256 per leaf and per inner node, nothing else).
3. **API**: the draw service as a process; its projection tables are seeded directly with
   COPY (the speed of the registry import and its events is what ``make bench-import``
   measures), then ``POST /v1/draws`` + ``POST /v1/draws/{id}/execute`` over HTTP (target
   ≤ 10 s at 1M), then ``GET /v1/draws/{id}/proof`` checked by the standalone verifier.
4. **cryptorandom**: its SHA-256 PRNG sampler (``random_sample``, default method
   ``sample_by_index``: exact uniform draws by rejection, without replacement) on the same
   strata sizes and sample sizes, against the sampler the service draws with,
   ``services.draw.sampling.sample`` (target: theirs ≥ 10× slower; both best of 5). It
   gives the draws of the protocol's pure-Python reference ``stream.sample``, which the
   verifier uses: the bench checks they agree and prints the reference's time too. The
   ratio against ``select`` is printed for context only: ``select`` also sorts a million
   pool lines into strata, which cryptorandom is never asked to do.

``ROWS=N`` for a smaller run (default 1,000,000). Uses DATABASE_URL / NATS_URL when set,
else embedded servers; a fresh database and NATS namespace per run, dropped at the end.
Figures are printed with their targets; the last line printed is one JSON object with every
figure.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from services.draw import sampling as vectorised
from services.draw.domain.announce import FrozenPool, RosterEntry, blind, build_announcement
from services.draw.domain.draw import draw_id
from services.draw.protocol import subjects as selection
from services.draw.protocol.canonical import (
    announcement_hash,
    canonical_json,
    commitment,
    derive_seed_v3,
    pool_hash,
    pool_line,
    sort_pool,
    split_line,
)
from services.draw.protocol.entropy import SHAPES, canonical_text, numbers_bytes, parse_numbers
from services.draw.protocol.forms import proofs
from services.draw.protocol.groups import Target
from services.draw.protocol.proof import drawer_for
from services.draw.protocol.stream import Stream, sample
from services.registry.domain.regions import Region, regions
from tests.builders import (
    INDUSTRIES,
    entropy_choice,
    make_uscc,
    register_entropy_source,
    wait_for_entropy,
)
from tests.support import Infra, ServiceProcess, start_infra, stop_infra, token

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
PROVINCE = "420000"  # 湖北省
# department → the name its units end with
DEPARTMENTS = {"SAMR": "市场监督管理局", "TAX": "税务局", "EPB": "生态环境局"}
ITEMS = [
    {
        "code": "SAMR-2026-01",
        "department": "SAMR",
        "name": "企业公示信息抽查",
        "category": "general",
        "ratio": 0.03,
    },
    {
        "code": "TAX-2026-01",
        "department": "TAX",
        "name": "发票使用情况检查",
        "category": "general",
        "ratio": 0.03,
    },
    {
        "code": "EPB-2026-01",
        "department": "EPB",
        "name": "排污许可证执行情况检查",
        "category": "key",
        "ratio": 0.2,
    },
]
RISK_WEIGHTS = {"A": 60, "B": 30, "C": 8, "D": 2}
RATIOS = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
UNITS_PER_COUNTY = 3  # 市场监管所 per county
# A source of the shape of 双色球 with no fixed schedule, so the benchmark names a drawing a
# few seconds ahead (the wait is not part of any figure).
BENCH_SOURCE = {
    "code": "bench-ssq",
    "name": "双色球型现场摇号 (bench)",
    "publisher": "ssj bench",
    "groups": SHAPES["ssq"].as_json()["groups"],
    "schedule": None,
}
BLINDING_KEY = hashlib.sha256(b"ssj bench-draw blinding key").digest()
ENTROPY = "03 07 12 19 25 31 + 09"  # as typed; the proof carries its canonical form
HTTP_TIMEOUT = 180.0  # seconds one request may take before the API figure is a FAIL
PROJECTION_NOTE = (
    "draw projection seeded directly by COPY, then VACUUM ANALYZE as autovacuum would leave "
    "it (registry import speed: make bench-import)"
)
# figure → (comparison, target)
TARGETS: dict[str, tuple[str, float]] = {
    "select_s": ("<=", 1.0),
    "verify_s": ("<=", 3.0),
    "audit_verify_s": ("<=", 6.0),
    "api_announce_execute_s": ("<=", 10.0),
    "cryptorandom_vs_sample_ratio": (">=", 10.0),
}


@dataclass(frozen=True)
class Subject:
    """One row of ``draw.pool_subjects`` (operating)."""

    subject_id: uuid.UUID
    identifier: str
    name: str
    region_code: str
    industry: str
    risk_class: str
    unit: str


@dataclass(frozen=True)
class Inspector:
    """One row of ``draw.pool_inspectors`` (active)."""

    inspector_id: uuid.UUID
    name: str
    department: str
    jurisdiction: str
    unit: str
    categories: tuple[str, ...]


@dataclass
class Data:
    """Everything the benchmark draws from."""

    subjects: list[Subject]
    roster: list[Inspector]
    conflicts: list[tuple[uuid.UUID, uuid.UUID]]  # (inspector, subject)
    spec: dict[str, Any]  # the batch as the planner's PlanCreated carries it
    batch: dict[str, Any]  # the batch as the draw service reads it (spec + plan columns)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _province() -> tuple[list[Region], list[Region]]:
    """The cities and the county-level units of the province, by code."""
    prefix = PROVINCE[:2]
    inside = sorted(
        (r for r in regions().values() if r.code.startswith(prefix)), key=lambda r: r.code
    )
    return [r for r in inside if r.level == "city"], [r for r in inside if r.level == "county"]


def county_units(county: Region) -> list[str]:
    """The 市场监管所 of a county (日常监管单位 of its subjects)."""
    return [f"{county.name}市场监督管理局第{k}市场监管所" for k in range(1, UNITS_PER_COUNTY + 1)]


def generate_subjects(rows: int, rng: random.Random) -> list[Subject]:
    """``rows`` operating subjects spread over the province's counties."""
    _, counties = _province()
    units = {c.code: county_units(c) for c in counties}
    classes, weights = list(RISK_WEIGHTS), list(RISK_WEIGHTS.values())
    seen: set[str] = set()
    out: list[Subject] = []
    while len(out) < rows:
        chunk = min(rows - len(out), 10_000)
        for county, risk in zip(
            rng.choices(counties, k=chunk), rng.choices(classes, weights, k=chunk), strict=True
        ):
            identifier = make_uscc(rng, county.code)
            if identifier in seen:
                continue
            seen.add(identifier)
            out.append(
                Subject(
                    _uuid(rng),
                    identifier,
                    f"{county.name}某某{len(out) + 1:07d}有限公司",
                    county.code,
                    rng.choice(INDUSTRIES),
                    risk,
                    rng.choice(units[county.code]),
                )
            )
    return out


def generate_roster(rng: random.Random) -> list[Inspector]:
    """Per department: 2 at province level, 3 per city, 1 per county (2 for counties the
    province administers directly); province and city inspectors hold both categories,
    a fifth of county inspectors only ``general``."""
    cities, counties = _province()
    province = regions()[PROVINCE]
    roster: list[Inspector] = []
    for department, suffix in DEPARTMENTS.items():
        posts: list[tuple[str, str, bool]] = [(PROVINCE, f"{province.name}{suffix}", True)] * 2
        for city in cities:
            posts += [(city.code, f"{city.name}{suffix}", True)] * 3
        for county in counties:
            for _ in range(2 if county.parent == PROVINCE else 1):
                unit = (
                    rng.choice(county_units(county))
                    if department == "SAMR"
                    else f"{county.name}{suffix}"
                )
                posts.append((county.code, unit, rng.random() >= 0.2))
        for n, (jurisdiction, unit, key) in enumerate(posts, start=1):
            roster.append(
                Inspector(
                    _uuid(rng),
                    f"检查员{department}{n:03d}",
                    department,
                    jurisdiction,
                    unit,
                    ("general", "key") if key else ("general",),
                )
            )
    return roster


def make_batch(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, batch): a province-wide joint batch, as the planner describes it and as the
    draw service reads it back (``_load_batch``)."""
    year = date.today().year
    spec: dict[str, Any] = {
        "batch_id": str(_uuid(rng)),
        "name": f"{year}年度湖北省跨部门联合双随机抽查第一批次（bench）",
        "pool": {
            "region_prefixes": [PROVINCE[:2]],
            "kinds": [],
            "industries": [],
            "risk_classes": [],
            "tags": [],
            "statuses": [],
            "flags": [],
        },
        "ratios": dict(RATIOS),
        "counts": {},
        "full_list": [],
        "directed": False,
        "complaint_referral": False,
        "cross_jurisdiction": False,
        "avoid_previous_inspectors": True,
        "min_group_size": 2,
        "starts_on": f"{year}-01-01",
        "ends_on": f"{year}-12-31",
    }
    batch = {
        **spec,
        "plan_id": str(_uuid(rng)),
        "year": year,
        "initiating_department": "SAMR",
        "participating_departments": ["TAX", "EPB"],
        "items": ITEMS,
        "published": True,
    }
    return spec, batch


def generate(rows: int) -> Data:
    """The same data for every part of the benchmark."""
    rng = random.Random(2260)
    subjects = generate_subjects(rows, rng)
    roster = generate_roster(rng)
    # 回避: about one declared relation per thousand subjects.
    conflicts = [
        (rng.choice(roster).inspector_id, rng.choice(subjects).subject_id)
        for _ in range(max(1, rows // 1000))
    ]
    spec, batch = make_batch(rng)
    return Data(subjects, roster, sorted(set(conflicts)), spec, batch)


def best_of(runs: int, fn: Callable[[], T]) -> tuple[float, T]:
    """The shortest of ``runs`` timings of ``fn`` and its last value."""
    best = float("inf")
    value: T | None = None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - started)
    assert value is not None
    return best, value


def verify_file(path: Path) -> tuple[float, str]:
    """Wall seconds of the standalone verifier on a proof file; fails unless it exits 0."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-S", "-m", "services.draw.protocol.proof", "verify", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"verifier exited {done.returncode} on {path}:\n{done.stdout[-3000:]}"
            f"{done.stderr[-3000:]}"
        )
    return elapsed, done.stdout.strip()


# -- 1. selection core -------------------------------------------------------------------


@dataclass
class Local:
    """The draw computed in process: pool, announcement, seed, selection."""

    lines: list[str]
    announcement: dict[str, Any]
    secret: bytes
    seed: bytes
    picked: list[selection.Picked]
    summary: dict[str, dict[str, int]]
    select_s: float  # best of 3, unrounded
    sample_s: float  # the sampling part of select_s alone


def measure_core(data: Data) -> tuple[dict[str, Any], Local]:
    """Pool, selection and groups, each timed alone."""
    started = time.perf_counter()
    lines = sort_pool(
        pool_line(s.identifier, s.risk_class, s.region_code, s.unit) for s in data.subjects
    )
    built = time.perf_counter() - started
    secret = hashlib.sha256(b"ssj bench-draw secret").digest()
    announced_at = datetime.now(UTC) - timedelta(hours=2)  # the proof's drawing is past
    identifier_of = {str(s.subject_id): s.identifier for s in data.subjects}
    announcement = build_announcement(
        draw_id=str(draw_id(data.batch["batch_id"])),
        batch=data.batch,
        pool_hash=pool_hash(lines),
        pool_size=len(lines),
        roster=[
            RosterEntry(
                str(i.inspector_id), i.name, i.department, i.jurisdiction, i.unit, i.categories
            )
            for i in data.roster
        ],
        conflicts=[(str(i), identifier_of[str(s)]) for i, s in data.conflicts],
        previous=[],
        commitment=commitment(secret),
        entropy={
            "source": BENCH_SOURCE["code"],
            "name": BENCH_SOURCE["name"],
            "issue": "1",
            "scheduled_at": (announced_at + timedelta(hours=1)).isoformat(),
            "format": SHAPES["ssq"].as_json(),
        },
        announced_at=announced_at.isoformat(),
        # The members per stratum, as freezing counts them (the replacement cap follows).
        strata_sizes=Counter(line.split("\t", 2)[1] for line in lines),
    )
    # What announcing adds in v3 (§3a): the strata's salted Merkle trees, the public
    # announcement; its hash is what the seed binds.
    started = time.perf_counter()
    public, _ = blind(announcement, FrozenPool.of(lines), BLINDING_KEY)
    blind_s = time.perf_counter() - started
    # The floor of that work in CPython: one SHA-256 per leaf and one per inner node (as
    # many as leaves), of inputs of the leaves' and nodes' sizes, nothing else.
    leaf_input, node_input = bytes(120), bytes(65)
    started = time.perf_counter()
    for _ in range(len(lines)):
        hashlib.sha256(leaf_input).digest()
        hashlib.sha256(node_input).digest()
    hash_floor_s = time.perf_counter() - started
    numbers = parse_numbers(SHAPES["ssq"], ENTROPY)
    seed = derive_seed_v3(announcement_hash(public), secret, numbers_bytes(numbers))
    strata = announcement["strata"]
    assert strata == {k: {"ratio": repr(v)} for k, v in RATIOS.items()}, strata
    select_s, (picked, summary) = best_of(
        3, lambda: selection.select(seed, lines, strata, vectorised.sample)
    )

    def sample_only(sampler: selection.Sampler) -> Callable[[], list[list[int]]]:
        def go() -> list[list[int]]:
            return [
                sampler(Stream(seed, f"subjects/{k}"), v["pool"], v["count"])
                for k, v in summary.items()
                if k in RATIOS
            ]

        return go

    sample_s, ours = best_of(5, sample_only(vectorised.sample))
    reference_s, theirs = best_of(5, sample_only(sample))
    assert ours == theirs, "the service's sampler and the protocol's reference disagree"

    def groups() -> list[list[dict[str, str]]]:
        drawer = drawer_for(announcement)
        stream = Stream(seed, "inspectors")
        out = []
        for p in picked:
            _, _, region, unit = split_line(lines[p.position])
            out.append(drawer.group(stream, Target(p.identifier, region, unit)))
        return out

    groups_s, drawn = best_of(3, groups)
    seats = sum(len(g) for g in drawn)
    figures = {
        "pool_build_s": round(built, 2),
        "blind_s": round(blind_s, 2),
        "blind_hash_floor_s": round(hash_floor_s, 2),
        "select_s": round(select_s, 4),
        "select_sampling_only_s": round(sample_s, 5),
        "reference_sampling_only_s": round(reference_s, 5),
        "selected": len(picked),
        "strata": {k: f"{v['count']}/{v['pool']}" for k, v in summary.items() if v["pool"]},
        "roster_size": len(data.roster),
        "groups_s": round(groups_s, 4),
        "group_seats": seats,
    }
    local = Local(lines, announcement, secret, seed, picked, summary, select_s, sample_s)
    return figures, local


# -- 2. verifier ---------------------------------------------------------------------------


def measure_verifier(local: Local) -> dict[str, Any]:
    """A complete draw with one replacement of each kind; its public proof (what anyone
    downloads) and its full proof (the office's and auditors') each verified as a
    subprocess."""
    inputs: dict[str, Any] = {
        "announcement": local.announcement,
        "pool": "\n".join(local.lines),
        "secret": local.secret.hex(),
        "entropy": canonical_text(SHAPES["ssq"], parse_numbers(SHAPES["ssq"], ENTROPY)),
        "executed_at": datetime.now(UTC).isoformat(),
        "replacements": [],
    }
    first = proofs(inputs, BLINDING_KEY)[0]["result"]["groups"]
    # ssj-draw-3: each on a registry fact recorded after the announcement.
    at = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    inputs["replacements"] = [
        {
            "kind": "inspector",
            "identifier": first[0]["identifier"],
            "inspector_id": first[0]["inspectors"][0]["inspector_id"],
            "reason_code": "recusal",
            "evidence": {"event": "registry:1", "fact": "conflict", "at": at},
            "skipped": [],
            "sequence": 1,
        },
        {
            "kind": "subject",
            "identifier": first[-1]["identifier"],
            "reason_code": "deregistered",
            "evidence": {"event": "registry:2", "fact": "deregistered", "at": at},
            "skipped": [],
            "sequence": 2,
        },
    ]
    started = time.perf_counter()
    public, full = proofs(inputs, BLINDING_KEY)
    run_s = time.perf_counter() - started
    figures: dict[str, Any] = {"proof_run_s": round(run_s, 2)}
    with tempfile.TemporaryDirectory(prefix="ssj-bench-draw-") as tmp:
        for name, document in (("", public), ("audit_", full)):
            path = Path(tmp) / f"{name}proof.json"
            path.write_bytes(canonical_json(document))  # as the service serves a proof
            figures[f"{name}proof_mb"] = round(path.stat().st_size / 2**20, 1)
            figures[f"{name}verify_s"] = round(verify_file(path)[0], 2)
    figures["proof_replacements"] = len(public["replacements"])
    return figures


# -- 3. API ---------------------------------------------------------------------------------


async def seed_projection(infra: Infra, data: Data) -> float:
    """COPY the subjects, roster, conflicts and the published batch into the draw
    service's own tables; seconds taken."""
    conn = await asyncpg.connect(infra.database_url)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "pool_subjects",
            schema_name="draw",
            columns=[
                "subject_id",
                "identifier",
                "name",
                "kind",
                "region_code",
                "industry",
                "risk_class",
                "status",
                "supervising_unit",
            ],
            records=(
                (
                    s.subject_id,
                    s.identifier,
                    s.name,
                    "for_profit",
                    s.region_code,
                    s.industry,
                    s.risk_class,
                    "operating",
                    s.unit,
                )
                for s in data.subjects
            ),
        )
        await conn.copy_records_to_table(
            "pool_inspectors",
            schema_name="draw",
            columns=[
                "inspector_id",
                "name",
                "department",
                "region_code",
                "categories",
                "status",
                "unit",
            ],
            records=[
                (
                    i.inspector_id,
                    i.name,
                    i.department,
                    i.jurisdiction,
                    json.dumps(list(i.categories)),
                    "active",
                    i.unit,
                )
                for i in data.roster
            ],
        )
        await conn.copy_records_to_table(
            "conflicts",
            schema_name="draw",
            columns=["inspector_id", "subject_id", "active"],
            records=[(i, s, True) for i, s in data.conflicts],
        )
        # The draw's copy of the department register (部门名录): writers must be in it.
        await conn.copy_records_to_table(
            "departments_view",
            schema_name="draw",
            columns=["code", "department_id", "active", "version"],
            records=[(d, uuid.uuid5(uuid.NAMESPACE_URL, d), True, 1) for d in DEPARTMENTS],
        )
        b = data.batch
        await conn.execute(
            """INSERT INTO draw.batches (batch_id, plan_id, year, name, initiating_department,
               participating_departments, items, pool, ratios, directed, starts_on, ends_on,
               published, spec)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10,
                       $11::text::date, $12::text::date, true, $13::jsonb)""",
            b["batch_id"],
            uuid.UUID(b["plan_id"]),
            b["year"],
            b["name"],
            b["initiating_department"],
            json.dumps(b["participating_departments"]),
            json.dumps(b["items"], ensure_ascii=False),
            json.dumps(b["pool"]),
            json.dumps(b["ratios"]),
            b["directed"],
            b["starts_on"],
            b["ends_on"],
            json.dumps(data.spec, ensure_ascii=False),
        )
        # A projection filled by events over months has been vacuumed by autovacuum (hint
        # bits set, visibility map current); one just COPYed has not, and its first reader
        # would pay for writing every page again.
        await conn.execute("VACUUM (ANALYZE) draw.pool_subjects")
        return time.perf_counter() - started
    finally:
        await conn.close()


def _ok(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:2000]}"
        )
    return response.json()


def _through_http(
    http: httpx.Client,
    data: Data,
    local: Local,
    operator: Mapping[str, str],
    office: Mapping[str, str],
    out: dict[str, Any],
) -> None:
    """Announce, execute, download the proof and verify it, adding each figure to ``out`` as
    it comes (so a step that fails leaves the figures of the steps before it)."""
    started = time.perf_counter()
    choice = {**entropy_choice(), "source": BENCH_SOURCE["code"]}
    body = {"batch_id": data.batch["batch_id"], "entropy": choice}
    announced = _ok(http.post("/v1/draws", json=body, headers=operator), 201)
    out["api_announce_s"] = round(time.perf_counter() - started, 2)
    wait_for_entropy(announced)  # the drawing takes place: not part of any figure
    # The service froze exactly the pool computed here; its counts follow from it.
    assert announced["pool_size"] == len(local.lines), announced["pool_size"]
    # (The public sees the strata's roots; the draw's own readers get the pool's hash.)
    assert announced["pool_hash"] == pool_hash(local.lines), "pool hashes differ"
    started = time.perf_counter()
    url = f"/v1/draws/{announced['id']}"
    executed = _ok(http.post(f"{url}/execute", json={"entropy": ENTROPY}, headers=operator), 200)
    out["api_execute_s"] = round(time.perf_counter() - started, 2)
    out["api_announce_execute_s"] = round(out["api_announce_s"] + out["api_execute_s"], 2)
    out["api_selected"] = len(executed["subjects"])
    assert len(executed["subjects"]) == len(local.picked), len(executed["subjects"])
    started = time.perf_counter()
    response = http.get(f"{url}/proof")
    out["api_proof_get_s"] = round(time.perf_counter() - started, 2)
    if response.status_code != 200:
        raise RuntimeError(f"GET proof -> {response.status_code}: {response.text[:2000]}")
    out["api_proof_mb"] = round(len(response.content) / 2**20, 1)
    with tempfile.TemporaryDirectory(prefix="ssj-bench-draw-") as tmp:
        path = Path(tmp) / "api-proof.json"
        path.write_bytes(response.content)
        out["api_proof_verify_s"] = round(verify_file(path)[0], 2)
        started = time.perf_counter()
        response = http.get(f"{url}/proof/full", headers=office)
        out["api_full_proof_get_s"] = round(time.perf_counter() - started, 2)
        if response.status_code != 200:
            raise RuntimeError(f"GET full proof -> {response.status_code}: {response.text[:500]}")
        path.write_bytes(response.content)
        out["api_full_proof_verify_s"] = round(verify_file(path)[0], 2)


def measure_api(data: Data, local: Local) -> dict[str, Any]:
    """Announce + execute through the draw service, then its proof through the verifier.

    A request that fails or takes longer than :data:`HTTP_TIMEOUT` is reported (FAIL, with
    the service log's tail on stderr) and the benchmark goes on."""
    infra = start_infra()
    service = ServiceProcess(infra, "draw")
    figures: dict[str, Any] = {"projection": PROJECTION_NOTE}
    try:
        service.start()
        figures["seed_projection_s"] = round(asyncio.run(seed_projection(infra, data)), 2)
        operator = {"Authorization": f"Bearer {token(infra, 'op-samr', 'SAMR', 'operator')}"}
        register_entropy_source(
            service.url, token(infra, "office", "OFFICE", "office"), BENCH_SOURCE
        )
        with httpx.Client(base_url=service.url, timeout=HTTP_TIMEOUT) as http:
            try:
                office = {"Authorization": f"Bearer {token(infra, 'office', 'OFFICE', 'office')}"}
                _through_http(http, data, local, operator, office, figures)
            except (httpx.HTTPError, RuntimeError, AssertionError) as exc:
                steps = {"announce": "api_announce_s", "execute": "api_execute_s"}
                step = next((s for s, k in steps.items() if k not in figures), "proof")
                text = str(exc) or "no answer"
                if isinstance(exc, httpx.TimeoutException):
                    text = f"no answer within {HTTP_TIMEOUT:g} s"
                figures["api_error"] = f"{step}: {type(exc).__name__}: {text}"
                print(
                    f"API {figures['api_error']}\n"
                    f"draw service log ({service.log_path}), tail:\n{service.log()[-3000:]}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        service.stop()
        stop_infra(infra)
    if "api_error" in figures:
        figures.setdefault("api_announce_execute_s", None)
    return figures


# -- 4. cryptorandom -----------------------------------------------------------------------


def measure_cryptorandom(local: Local) -> dict[str, Any]:
    """cryptorandom's SHA-256 sampler on the same strata: same population sizes, same
    sample sizes, seeded, without replacement. ``sample_by_index`` (its default) draws
    exactly uniform indices by rejection, as ours does; ``PIKK`` (hash every member, sort)
    is shown for context."""
    from cryptorandom.cryptorandom import SHA256
    from cryptorandom.sample import random_sample

    sizes = [(k, v["pool"], v["count"]) for k, v in local.summary.items() if k in RATIOS]

    def draw(method: str) -> Callable[[], list[Any]]:
        def go() -> list[Any]:
            return [
                random_sample(
                    n, k, method=method, prng=SHA256(f"{local.seed.hex()}/subjects/{stratum}")
                )
                for stratum, n, k in sizes
                if k
            ]

        return go

    by_index_s, drawn = best_of(5, draw("sample_by_index"))
    assert [len(d) for d in drawn] == [k for _, _, k in sizes if k]
    assert all(len(set(d.tolist())) == len(d) for d in drawn), "cryptorandom drew twice"
    pikk_s, _ = best_of(1, draw("PIKK"))
    return {
        "cryptorandom_sample_by_index_s": round(by_index_s, 4),
        "cryptorandom_pikk_s": round(pikk_s, 2),
        "cryptorandom_vs_select_ratio": round(by_index_s / local.select_s, 2),
        "cryptorandom_vs_sample_ratio": round(by_index_s / local.sample_s, 2),
    }


# -- report ---------------------------------------------------------------------------------


def verdicts(figures: Mapping[str, Any]) -> dict[str, bool]:
    """PASS (True) or FAIL of each figure that has a target."""
    out = {}
    for key, (op, target) in TARGETS.items():
        if key in figures:
            value = figures[key]
            out[key] = value is not None and (value <= target if op == "<=" else value >= target)
    return out


def show(figures: Mapping[str, Any]) -> None:
    """One line per figure, with its target and verdict where it has one."""
    passed = verdicts(figures)
    for key, value in figures.items():
        line = f"{key:>32}: {value}"
        if key in passed:
            op, target = TARGETS[key]
            sign = "≤" if op == "<=" else "≥"
            unit = "×" if key.endswith("_ratio") else " s"
            line += f"   (target {sign} {target:g}{unit}: {'PASS' if passed[key] else 'FAIL'})"
        print(line, flush=True)


def say(text: str) -> None:
    """Progress line."""
    print(text, flush=True)


def measure(rows: int) -> dict[str, Any]:
    """Every figure of the issue, for ``rows`` subjects, printed part by part."""
    started = time.perf_counter()
    data = generate(rows)
    figures: dict[str, Any] = {"rows": rows, "generate_s": round(time.perf_counter() - started, 1)}
    show(figures)
    local: Local | None = None

    def core() -> dict[str, Any]:
        nonlocal local
        out, local = measure_core(data)
        return out

    def after_core(fn: Callable[[Local], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            assert local is not None
            return fn(local)

        return go

    parts: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (f"1. selection core: pool of {rows} subjects, roster of {len(data.roster)}", core),
        ("2. standalone verifier on a complete proof", after_core(measure_verifier)),
        (
            "3. API announce + execute through HTTP",
            after_core(lambda lc: measure_api(data, lc)),
        ),
        ("4. cryptorandom SHA-256 sampler on the same strata", after_core(measure_cryptorandom)),
    ]
    for title, part in parts:
        say(title)
        found = part()
        show(found)
        figures.update(found)
    figures["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    show({"peak_memory_mb": figures["peak_memory_mb"]})
    return figures


def main() -> None:
    rows = int(os.environ.get("ROWS", "1000000"))
    figures = measure(rows)
    print(json.dumps({**figures, "pass": verdicts(figures)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
