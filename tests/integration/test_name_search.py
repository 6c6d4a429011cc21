"""The public name search (企业名称模糊查询) on a real PostgreSQL read model: what it finds
is exactly the results whose normalised name contains the fragment, page after page in
``record_id`` order, whatever the pairs' frequencies; a database of the earlier shape (the
pairs in a GIN-indexed array) gets its pairs on the next start."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest

from libs.common.departments import register_ddl
from libs.common.service import migrate, open_pool
from services.disclosure.domain.national import normalise_name
from services.disclosure.name_search import PairFrequencies, index_name
from services.disclosure.projections import public
from services.disclosure.results_query import ResultFilter, find_results, find_results_json
from tests.support import Infra

pytestmark = pytest.mark.own_infra

DDL = [*public.DDL, *register_ddl()]
# Few characters, so that pairs repeat within names and across them, and some are common.
LETTERS = "华兴达盛黄石"
COMMON = "有限公司"


async def add_result(conn: asyncpg.Connection, name: str, department: str) -> uuid.UUID:
    record_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO disclosure.results (record_id, draw_id, plan_id, subject_identifier,
           subject_name, department, inspection_type, inspected_on, outcome, outcome_text,
           findings, disclosed_at, name_key)
           VALUES ($1, $2, $3, $4, $5, $6, '不定向抽查', $7, 'no_problem', '未发现问题', '[]',
                   $8, $9)""",
        record_id,
        uuid.uuid4(),
        uuid.uuid4(),
        f"9142{record_id.hex[:14].upper()}",
        name,
        department,
        date(2026, 3, 1),
        datetime(2026, 3, 20, tzinfo=UTC),
        normalise_name(name),
    )
    return record_id


@pytest.fixture
async def db(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(infra.settings("disclosure"), max_size=2)
    await migrate(pool, "disclosure", DDL)
    await pool.execute("TRUNCATE disclosure.results, disclosure.result_name_pairs")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def generic(infra: Infra, db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose statements run their generic plans (the service's look-up pool)."""
    pool = await open_pool(
        infra.settings("disclosure"), max_size=1, session={"plan_cache_mode": "force_generic_plan"}
    )
    try:
        yield pool
    finally:
        await pool.close()


async def fill(db: asyncpg.Pool, count: int) -> dict[uuid.UUID, tuple[str, str]]:
    rng = random.Random(20261206)
    names: dict[uuid.UUID, tuple[str, str]] = {}
    async with db.acquire() as conn:
        for n in range(count):
            firm = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 5)))
            # Full-width letters and spaces are searched as their normal forms.
            name = f"{firm}{'ＡＢ ' if n % 7 == 0 else ''}商贸{COMMON}"
            department = "SAMR" if n % 3 else "TAX"
            record_id = await add_result(conn, name, department)
            await index_name(conn, record_id, name)
            names[record_id] = (normalise_name(name), department)
    return names


async def all_pages(
    db: asyncpg.Pool, wanted: ResultFilter, limit: int
) -> tuple[list[uuid.UUID], int]:
    """Every page of a search, following ``after``; the ids and the number of pages."""
    found: list[uuid.UUID] = []
    after, pages = None, 0
    while True:
        page = await find_results(db, wanted, after=after, limit=limit)
        pages += 1
        found += [r["record_id"] for r in page]
        if len(page) < limit:
            return found, pages
        after = page[-1]["record_id"]


FRAGMENTS = [
    "华兴",
    "兴达盛",
    "黄石黄",
    "石石",
    "华华华",
    "ab",
    "Ａｂ",
    "商贸有限",
    "公司",
    "贸华",
    "有限公司华",
]


@pytest.mark.parametrize("frequencies", ["none", "analysed"])
async def test_a_search_finds_exactly_the_names_containing_the_fragment(
    db: asyncpg.Pool, generic: asyncpg.Pool, frequencies: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = await fill(db, 400)
    if frequencies == "analysed":
        await db.execute("ANALYZE disclosure.result_name_pairs")
    # A fresh copy of the statistics for this database (a process keeps one).
    monkeypatch.setattr("services.disclosure.results_query.FREQUENCIES", PairFrequencies())
    checked = 0
    for fragment in FRAGMENTS:
        key = normalise_name(fragment)
        expected = sorted(r for r, (name, _) in names.items() if key in name)
        found, pages = await all_pages(db, ResultFilter(name=fragment), limit=7)
        assert found == expected, fragment
        # The API's page, on generic plans as the service's look-up pool runs it.
        page = json.loads(
            await find_results_json(db, ResultFilter(name=fragment), limit=1000, lookups=generic)
        )
        assert [uuid.UUID(r["record_id"]) for r in page["items"]] == expected, fragment
        checked += len(expected) > 7 and pages > 1
        taxed = await find_results(db, ResultFilter(name=fragment, department="TAX"), limit=1000)
        assert [r["record_id"] for r in taxed] == [r for r in expected if names[r][1] == "TAX"], (
            fragment
        )
    assert checked >= 3  # several fragments ran over more than one page
    assert await find_results(db, ResultFilter(name="贸华"), limit=10) == []


async def test_the_rarest_pair_leads_once_statistics_exist(db: asyncpg.Pool) -> None:
    await fill(db, 400)
    await db.execute("ANALYZE disclosure.result_name_pairs")
    frequencies = PairFrequencies()
    # 公司 is in every name, 华兴 in some, 兴公 in none (not among the common values): the
    # search starts from 兴公, joins 华兴, and never reads 公司's 400 rows.
    assert await frequencies.rarest(db, "华兴公司") == ["兴公", "华兴", "公司"]
    assert await PairFrequencies().rarest(db, "公司华兴") == ["司华", "华兴", "公司"]
    # The next pair is probed once per entry of the rarest only when it is far commoner:
    # 公司 (every name) against 兴公 (none); not 公司 against 华兴 (one name in a few).
    assert await frequencies.far_commoner(db, "公司", "兴公")
    assert not await frequencies.far_commoner(db, "公司", "华兴")
    assert not await frequencies.far_commoner(db, "兴公", "公司")


async def test_a_database_of_the_earlier_shape_gets_its_pairs_on_start(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as conn:
        await conn.execute(
            "ALTER TABLE disclosure.results ADD COLUMN name_bigrams text[] NOT NULL DEFAULT '{}'"
        )
        await conn.execute(
            "CREATE INDEX results_name ON disclosure.results USING gin (name_bigrams)"
        )
        ids = [await add_result(conn, f"黄石市{n:03d}商贸有限公司", "SAMR") for n in range(30)]
    await migrate(db, "disclosure", DDL)
    columns = await db.fetchval(
        """SELECT count(*) FROM information_schema.columns
           WHERE table_schema = 'disclosure' AND table_name = 'results'
             AND column_name = 'name_bigrams'"""
    )
    assert columns == 0
    assert await db.fetchval("SELECT to_regclass('disclosure.results_name')") is None
    found = await find_results(db, ResultFilter(name="市00"), limit=100)
    assert sorted(r["record_id"] for r in found) == sorted(ids[:10])
    pairs = await db.fetchval("SELECT count(*) FROM disclosure.result_name_pairs")
    assert pairs == sum(len(set(_pairs(f"黄石市{n:03d}商贸有限公司"))) for n in range(30))
    # The next start adds nothing (the pairs are there).
    await migrate(db, "disclosure", DDL)
    assert await db.fetchval("SELECT count(*) FROM disclosure.result_name_pairs") == pairs


def _pairs(name: str) -> list[str]:
    return [name[i : i + 2] for i in range(len(name) - 1)]
