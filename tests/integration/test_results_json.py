"""The public results page as PostgreSQL writes it (results_json.py) equals, key for key
and in the same order, what the Python rows give through the ``ResultPage`` model: every
category, pending kind, non-cooperation case and follow-up step (worded or not), corrections,
lateness, missing plans, batches and department names, and text JSON must escape."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from libs.common.departments import register_ddl
from libs.common.service import migrate, open_pool
from services.disclosure.answers import ResultPage
from services.disclosure.domain.national import (
    FOLLOW_UP_TEXT,
    NON_COOPERATION_TEXT,
    PENDING_KIND_TEXT,
    normalise_name,
)
from services.disclosure.domain.public import OUTCOME_TEXT
from services.disclosure.name_search import PairFrequencies, index_name
from services.disclosure.projections import public
from services.disclosure.results_json import page_json
from services.disclosure.results_query import (
    ResultFilter,
    _page,
    find_results,
    find_results_json,
    generic_plan_suits,
)
from tests.support import Infra

pytestmark = pytest.mark.own_infra

DDL = [*public.DDL, *register_ddl()]
PLAN = uuid.UUID("00000000-0000-4000-8000-000000000001")
UNKNOWN_PLAN = uuid.UUID("00000000-0000-4000-8000-000000000002")
BATCHES = [
    {"batch_id": "b1", "task_number": "420100-2026-01", "name": "第一批", "directed": True},
    {"batch_id": "b2", "task_number": "420100-2026-02", "name": "第二批", "directed": False},
]
# Names JSON has to escape, and one it need not.
NAMES = [
    '武汉"华兴"商贸有限公司',
    "黄石\\达盛\t食品有限公司",
    "宜昌\u0001鑫源有限公司",
    "荆州😀恒瑞有限公司",
]
FINDINGS = [
    [],
    [{"item_code": "A01", "outcome": "problem"}, {"item_code": None, "outcome": "not_applicable"}],
    [{"item_code": "B02", "outcome": "unheard_of"}, {"outcome": "no_problem"}],
]
STEPS = [
    [],
    [("ordered", None)],
    [("ordered", None), ("reinspected", None), ("corrected", None)],
    [("ordered", None), ("transferred", "武汉市市场监管局")],
    [("case_filed", ""), ("referred", "武汉市公安局")],
    [("unheard_of_step", None)],
]


@pytest.fixture
async def lookups(infra: Infra, db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the service's look-ups use: every statement on its generic plan."""
    pool = await open_pool(
        infra.settings("disclosure"),
        max_size=1,
        session={"plan_cache_mode": "force_generic_plan"},
    )
    try:
        assert await pool.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def db(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(infra.settings("disclosure"), max_size=2)
    await migrate(pool, "disclosure", DDL)
    await pool.execute(
        "TRUNCATE disclosure.results, disclosure.result_name_pairs, disclosure.follow_ups, "
        "disclosure.plans, disclosure.departments_view"
    )
    try:
        yield pool
    finally:
        await pool.close()


async def fill(db: asyncpg.Pool, count: int) -> list[dict[str, Any]]:
    """``count`` results cycling through every value each column can take."""
    rng = random.Random(20261206)
    rows = []
    async with db.acquire() as conn:
        await conn.execute(
            """INSERT INTO disclosure.departments_view (code, department_id, active, version,
               region_code, name) VALUES ('D1', $1, true, 1, '420100', '武汉市市场监管局'),
               ('D2', $2, true, 1, '', '')""",
            uuid.uuid4(),
            uuid.uuid4(),
        )
        await conn.execute(
            """INSERT INTO disclosure.plans (plan_id, year, title, mode, initiating_department,
               participating_departments, items, batches, number)
               VALUES ($1, 2026, '2026年度“双随机”抽查计划', 'comprehensive', 'D1', '[]', '[]',
                       $2, '420100-2026-D1')""",
            PLAN,
            BATCHES,
        )
        outcomes = [*OUTCOME_TEXT, "unheard_of"]
        pending = [None, "", *PENDING_KIND_TEXT, "unheard_of"]
        cases = [None, "", *NON_COOPERATION_TEXT, "unheard_of"]
        for n in range(count):
            record_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            name = NAMES[n % len(NAMES)]
            micro = 0 if n % 3 == 0 else rng.randrange(1, 1_000_000)
            row = {
                "record_id": record_id,
                "plan_id": UNKNOWN_PLAN if n % 11 == 0 else PLAN,
                "batch_id": ["b1", "b2", "gone"][n % 3],
                "department": "D2" if n % 5 == 0 else "D1" if n % 7 else "D9",
                "subject_identifier": f"91420100MA{n:08d}",
                "subject_name": name,
                "outcome": outcomes[n % len(outcomes)],
                "pending_kind": pending[n % len(pending)],
                "non_cooperation_case": cases[n % len(cases)],
                "corrections": n % 4 % 3,
                "late": n % 2 == 1,
                "findings": FINDINGS[n % len(FINDINGS)],
                "editions": [
                    {
                        "edition": e + 1,
                        "published_on": f"2026-04-{e + 1:02d}",
                        "outcome": "no_problem",
                        "outcome_text": "未发现问题",
                        "internal": "never shown",
                    }
                    for e in range(n % 3)
                ],
                "disclosed_at": datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
                + timedelta(seconds=n * 37, microseconds=micro),
                "decided_on": None if n % 2 else date(2026, 3, 1 + n % 28),
                "publication_due": None if n % 6 == 5 else date(2026, 5, 1 + n % 28),
                "publication_due_provisional": n % 4 == 0,
            }
            await conn.execute(
                """INSERT INTO disclosure.results (record_id, draw_id, plan_id,
                   subject_identifier, subject_name, department, inspection_type, inspected_on,
                   outcome, outcome_text, findings, corrections, disclosed_at, batch_id,
                   pending_kind, non_cooperation_case, decided_on, published_on,
                   publication_due, publication_due_provisional, late, name_key, editions)
                   VALUES ($1, $2, $3, $4, $5, $6, '不定向抽查', '2026-03-01', $7, '', $8, $9,
                           $10, $11, $12, $13, $14, '2026-04-01', $15, $16, $17, $18, $19)""",
                record_id,
                uuid.uuid4(),
                row["plan_id"],
                row["subject_identifier"],
                name,
                row["department"],
                row["outcome"],
                row["findings"],
                row["corrections"],
                row["disclosed_at"],
                row["batch_id"],
                row["pending_kind"],
                row["non_cooperation_case"],
                row["decided_on"],
                row["publication_due"],
                row["publication_due_provisional"],
                row["late"],
                normalise_name(name),
                row["editions"],
            )
            await index_name(conn, record_id, name)
            # Steps for every result, of every category: only those that open a follow-up
            # may show them.
            for version, (step, receiving) in enumerate(STEPS[n % len(STEPS)], start=1):
                await conn.execute(
                    """INSERT INTO disclosure.follow_ups (task_id, version, step, "on",
                       receiving_department) VALUES ($1, $2, $3, $4, $5)""",
                    record_id,
                    version,
                    step,
                    date(2026, 4, version),
                    receiving,
                )
            rows.append(row)
    return rows


async def python_page(db: asyncpg.Pool, wanted: ResultFilter, after: Any, limit: int) -> str:
    """The page as the Python rows and the ResultPage model give it (the portal's path)."""
    shown = await find_results(db, wanted, after=after, limit=limit)
    following = str(shown[-1]["record_id"]) if len(shown) == limit else None
    return ResultPage.model_validate({"items": shown, "next": following}).model_dump_json()


def same(sql_page: bytes, python: str) -> dict[str, Any]:
    """Both pages parsed, compared key for key in order; the SQL one."""
    written, expected = json.loads(sql_page), json.loads(python)
    assert written == expected
    for ours, theirs in zip(written["items"], expected["items"], strict=True):
        assert list(ours) == list(theirs)
        for key in ("findings", "follow_up", "editions"):
            for a, b in zip(ours[key], theirs[key], strict=True):
                assert list(a) == list(b)
    return dict(written)


async def test_every_page_equals_the_python_answer(db: asyncpg.Pool) -> None:
    rows = await fill(db, 150)
    after, pages, seen = None, 0, 0
    while True:
        sql_page = await find_results_json(db, ResultFilter(), after=after, limit=40)
        page = same(sql_page, await python_page(db, ResultFilter(), after, 40))
        pages, seen = pages + 1, seen + len(page["items"])
        if page["next"] is None:
            break
        after = uuid.UUID(page["next"])
    assert (pages, seen) == (4, len(rows))
    # What the fill covers, so that the comparison above means something.
    shown = json.loads(await find_results_json(db, ResultFilter(), limit=1000))["items"]
    remarks = {r["remark"] for r in shown}
    assert any("后续处置：移交有管辖权的部门（武汉市市场监管局）" in r for r in remarks)
    assert any("已更正2次" in r for r in remarks) and "" in remarks
    assert {s["step"] for r in shown for s in r["follow_up"]} >= set(FOLLOW_UP_TEXT) - {
        "case_filed"
    }
    assert {r["inspecting_authority"] for r in shown} == {"武汉市市场监管局", "D2", "D9"}
    assert {r["plan_number"] for r in shown} == {"420100-2026-D1", None}
    assert {r["task_number"] for r in shown} == {b["task_number"] for b in BATCHES} | {None}
    assert all("internal" not in e for r in shown for e in r["editions"])
    assert {r["subject_name"] for r in shown} == set(NAMES)


@pytest.mark.parametrize(
    "wanted",
    [
        ResultFilter(name="华兴"),
        ResultFilter(name="恒瑞有限"),
        ResultFilter(department="D1", late=True),
        ResultFilter(identifier="91420100MA00000007"),
        ResultFilter(outcome="problem_pending", region="420000"),
        ResultFilter(name="无此名称"),
        ResultFilter(name="a\u0308"),  # one character once normalised: nothing to find
    ],
)
async def test_filtered_pages_equal_the_python_answer(
    db: asyncpg.Pool, lookups: asyncpg.Pool, wanted: ResultFilter
) -> None:
    await fill(db, 60)
    python = await python_page(db, wanted, None, 5)
    same(await find_results_json(db, wanted, limit=5), python)
    # The same on generic plans, where the look-up's shape allows them.
    same(await find_results_json(db, wanted, limit=5, lookups=lookups), python)


def test_only_name_or_uscc_alone_run_on_generic_plans() -> None:
    assert generic_plan_suits(ResultFilter(name="华兴"))
    assert generic_plan_suits(ResultFilter(identifier="91420100MA00000007"))
    assert not generic_plan_suits(ResultFilter())
    assert not generic_plan_suits(ResultFilter(name="华兴", department="D1"))
    assert not generic_plan_suits(ResultFilter(identifier="x", name="华兴"))
    assert not generic_plan_suits(ResultFilter(published_from=date(2026, 1, 1)))


async def test_a_row_not_holding_arrays_still_answers(db: asyncpg.Pool) -> None:
    rows = await fill(db, 3)
    await db.execute(
        "UPDATE disclosure.results SET findings = '{}', editions = '\"x\"' WHERE record_id = $1",
        rows[1]["record_id"],
    )
    page = json.loads(await find_results_json(db, ResultFilter(), limit=10))
    shown = {r["record_id"]: r for r in page["items"]}[str(rows[1]["record_id"])]
    assert (shown["findings"], shown["editions"]) == ([], [])


# 60,000 names of a city, a trade and a legal form: 有限 is in two thirds of them.
PROVINCE = """
INSERT INTO disclosure.results (record_id, draw_id, plan_id, subject_identifier, subject_name,
  department, inspection_type, inspected_on, outcome, outcome_text, findings, disclosed_at,
  name_key)
SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'X' || i, n, 'D1',
       '不定向抽查', '2026-03-01', 'no_problem', '', '[]', now(), n
  FROM generate_series(1, 60000) i,
  LATERAL (SELECT (ARRAY['武汉', '黄石', '宜昌', '荆州', '襄阳'])[1 + i % 5]
               || (ARRAY['商贸', '食品', '科技', '建材', '餐饮', '物流'])[1 + i / 5 % 6]
               || (ARRAY['有限公司', '有限责任公司', '经营部'])[1 + i % 3] AS n) x"""


async def generic_plan(conn: asyncpg.Connection, sql: str, args: list[Any]) -> str:
    """EXPLAIN of ``sql``'s generic plan (as a statement of the look-up pool runs it)."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    types = [t.name for t in (await conn.prepare(sql)).get_parameters()]
    await conn.execute(f"PREPARE q ({', '.join(types)}) AS {sql}")
    values = ", ".join("'" + str(a).replace("'", "''") + "'" for a in args)
    plan = await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE q ({values})")
    await conn.execute("DEALLOCATE q")
    await conn.execute("RESET plan_cache_mode")
    return "\n".join(r[0] for r in plan)


async def test_a_common_next_pair_is_probed_not_merged(
    db: asyncpg.Pool, lookups: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """葩有限: the rare 葩有 leads; 有限, in most names, is looked up once per row of 葩有
    on the generic plan too, never merged with all of 有限's entries."""
    await db.execute(PROVINCE)
    await db.execute(
        """INSERT INTO disclosure.result_name_pairs (pair, record_id)
           SELECT DISTINCT substr(r.name_key, i, 2), r.record_id
             FROM disclosure.results r, generate_series(1, length(r.name_key) - 1) i"""
    )
    async with db.acquire() as conn:
        for n in range(12):
            record_id = uuid.uuid4()
            await conn.execute(
                """INSERT INTO disclosure.results (record_id, draw_id, plan_id,
                   subject_identifier, subject_name, department, inspection_type, inspected_on,
                   outcome, outcome_text, findings, disclosed_at, name_key)
                   VALUES ($1, $2, $3, $4, '武汉奇葩有限公司', 'D1', '不定向抽查', '2026-03-01',
                           'no_problem', '', '[]', now(), '武汉奇葩有限公司')""",
                record_id,
                uuid.uuid4(),
                PLAN,
                f"91420100MB{n:08d}",
            )
            await index_name(conn, record_id, "武汉奇葩有限公司")
    await db.execute("VACUUM ANALYZE disclosure.results")
    await db.execute("VACUUM ANALYZE disclosure.result_name_pairs")
    # This database's statistics (a process keeps its copy for minutes).
    monkeypatch.setattr("services.disclosure.results_query.FREQUENCIES", PairFrequencies())
    wanted = ResultFilter(name="葩有限")
    sql, args = await _page(db, wanted, None, 20)
    assert args[:2] == ["有限", "葩有"]  # the next pair's argument comes first in the SQL
    async with db.acquire() as conn:
        plan = await generic_plan(conn, page_json(sql), args)
    assert "Merge Join" not in plan and "Hash Join" not in plan, plan
    assert "Rows Removed by Filter" not in plan, plan  # no result read but the 12
    assert len(json.loads(await find_results_json(db, wanted, lookups=lookups))["items"]) == 12
