"""The registry's read models on real PostgreSQL: the unit columns (所所交叉) reach databases
created before them, and events published before the fields existed still apply."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from libs.common.envelope import InboundEvent, parse_cloudevent, to_cloudevent
from libs.common.service import migrate, open_pool
from services.registry.domain.inspectors import Inspector
from services.registry.domain.subjects import Subject
from services.registry.projections import views
from tests.builders import inspector_payload, subject_payload
from tests.support import Infra

OLD_SCHEMA = "registry_before_units"


@pytest.fixture(scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(infra.settings("registry"), max_size=2)
    await migrate(p, "registry", views.DDL)
    yield p
    await p.close()


def _inbound(aggregate: Any, drop: str | None = None) -> list[InboundEvent]:
    """The aggregate's pending events as consumers receive them; ``drop`` removes a field
    from the data, as in events published before that field existed."""
    out = []
    for n, event in enumerate(aggregate.collect_events(), start=1):
        inbound = parse_cloudevent(to_cloudevent("registry", "ssj.registry", n, event).body)
        data = {k: v for k, v in inbound.data.items() if k != drop}
        out.append(dataclasses.replace(inbound, data=data))
    return out


def _subject(seed: int, **overrides: Any) -> Subject:
    fields = {
        "legal_form": "",
        "address": "",
        "legal_representative": "",
        "status": "operating",
        "tags": [],
        "abnormal_operation": False,
        "serious_violation": False,
        **subject_payload(random.Random(seed), "C"),
        **overrides,
    }
    return Subject.register(**fields)


async def test_unit_columns_are_added_to_tables_created_before_them(pool: asyncpg.Pool) -> None:
    before = [s for s in views.DDL if not s.startswith("ALTER")]
    await pool.execute(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE")
    await migrate(pool, OLD_SCHEMA, before)
    await pool.execute(
        f"""INSERT INTO {OLD_SCHEMA}.inspectors_view VALUES
            (gen_random_uuid(), 'SAMR', 'SAMR-1', '张三', 'county', '420202', '[]', '[]',
             'active', 1)"""
    )
    for _ in range(2):  # the migration runs at every start
        await migrate(pool, OLD_SCHEMA, views.DDL)
    assert await pool.fetchval(f"SELECT unit FROM {OLD_SCHEMA}.inspectors_view") == ""
    columns = await pool.fetch(
        """SELECT table_name, column_default FROM information_schema.columns
           WHERE table_schema = $1 AND column_name IN ('unit', 'supervising_unit')""",
        OLD_SCHEMA,
    )
    assert {r["table_name"] for r in columns} == {"inspectors_view", "subjects_view"}
    await pool.execute(f"DROP SCHEMA {OLD_SCHEMA} CASCADE")


async def test_events_without_the_unit_fields_apply_in_batches_and_one_by_one(
    pool: asyncpg.Pool,
) -> None:
    old, new = _subject(41), _subject(42, supervising_unit="黄石市市场监管局黄石港所")
    registrations = [*_inbound(old, drop="supervising_unit"), *_inbound(new)]
    old.change(supervising_unit="黄石市市场监管局下陆所")
    inspector = Inspector.register(
        specialties=[], status="active", **inspector_payload("SAMR", 4100)
    )
    people = _inbound(inspector, drop="unit")
    inspector.change(unit="黄石市市场监管局西塞山所")
    async with pool.acquire() as conn:
        await views.apply_batch(conn, registrations)  # the batched insert path
        await views.apply_batch(conn, [*people, *_inbound(old), *_inbound(inspector)])

    rows = await pool.fetch(
        "SELECT id, supervising_unit, version FROM registry.subjects_view WHERE id = ANY($1)",
        [old.id, new.id],
    )
    assert {r["id"]: (r["supervising_unit"], r["version"]) for r in rows} == {
        old.id: ("黄石市市场监管局下陆所", 2),
        new.id: ("黄石市市场监管局黄石港所", 1),
    }
    row = await pool.fetchrow(
        "SELECT unit, version FROM registry.inspectors_view WHERE id = $1", inspector.id
    )
    assert (row["unit"], row["version"]) == ("黄石市市场监管局西塞山所", 2)


async def test_an_old_inspector_registration_alone_gets_an_empty_unit(pool: asyncpg.Pool) -> None:
    inspector = Inspector.register(
        specialties=[], status="active", **inspector_payload("SAMR", 4101, unit="x")
    )
    async with pool.acquire() as conn:
        await views.apply(conn, *_inbound(inspector, drop="unit"))
    unit = await pool.fetchval(
        "SELECT unit FROM registry.inspectors_view WHERE id = $1", inspector.id
    )
    assert unit == ""
