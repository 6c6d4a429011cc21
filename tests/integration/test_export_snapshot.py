"""An export reads its row count and its rows from one snapshot, and its transaction has
ended once the last row is read: the writer may take longer to finish the file than the
event store lets a transaction stand idle (5 s), which had the export's connection
terminated at a million rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from libs.common.departments import register_ddl
from libs.common.service import migrate, open_pool
from services.disclosure import export
from services.disclosure.projections import public
from tests.integration.test_name_search import add_result
from tests.support import Infra

pytestmark = pytest.mark.own_infra


async def test_the_snapshot_ends_with_the_last_row_not_with_the_file(
    infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await open_pool(infra.settings("disclosure"), max_size=2)
    try:
        await migrate(pool, "disclosure", [*public.DDL, *register_ddl()])
        async with pool.acquire() as conn:
            for n in range(3):
                await add_result(conn, f"黄石市{n}商贸有限公司", "SAMR")
            await conn.execute("UPDATE disclosure.results SET published_on = '2026-03-20'")
    finally:
        await pool.close()
    seen: dict[str, object] = {}
    with psycopg.connect(infra.database_url, autocommit=True, row_factory=dict_row) as conn:

        def writer(rows: Iterator[list[str]], path: Path) -> int:
            inside = conn.info.transaction_status
            seen["isolation"] = conn.execute("SHOW transaction_isolation").fetchone()
            written = list(rows)
            seen["during"], seen["after"] = inside, conn.info.transaction_status
            return len(written)

        monkeypatch.setattr(export, "_write_csv", writer)
        count = export.write_export(
            conn, date(2026, 1, 1), date(2026, 12, 31), "csv", tmp_path / "x.csv"
        )
    assert count == 3
    assert seen["isolation"] == {"transaction_isolation": "repeatable read"}
    assert seen["during"] == TransactionStatus.INTRANS
    assert seen["after"] == TransactionStatus.IDLE
