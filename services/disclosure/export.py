"""Writing a period's results to a file for the national system (domain/export.py says
what goes in it), streamed: rows are read by a server-side cursor in chunks and written as
they come, so a year of a province (a million results) never sits in memory.

CSV is UTF-8 with a byte-order mark (Excel then reads the Chinese headers right); XLSX is
openpyxl's write-only workbook (it streams rows to the file; python-calamine, our reader,
does not write).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from psycopg import sql

from services.disclosure.domain.export import HEADERS, export_row
from services.disclosure.domain.national import national_result
from services.disclosure.domain.public import outcome_text
from services.disclosure.public_sql import RESULTS_SELECT

CHUNK = 5_000
XLSX_SHEET_ROWS = 1_048_575  # a sheet's rows less the header; more go to the next sheet


def _results(conn: Any, start: date, end: date) -> Iterator[dict[str, Any]]:
    """The period's results (by 公示日期) in the national fields, in record order."""
    query = sql.SQL(
        RESULTS_SELECT + " WHERE r.published_on BETWEEN %s AND %s ORDER BY r.published_on, "
        "r.record_id"
    )
    with conn.transaction(), conn.cursor(name="ssj_export") as cur:
        cur.itersize = CHUNK
        cur.execute(query, (start, end))
        while rows := cur.fetchmany(CHUNK):
            steps = _follow_ups(conn, [r["record_id"] for r in rows if r["outcome"]])
            for row in rows:
                yield national_result(
                    row, outcome_text(row["outcome"]), [], steps.get(row["record_id"], [])
                )


def _follow_ups(conn: Any, ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    with conn.cursor() as cur:
        cur.execute(
            'SELECT task_id, step, "on"::text AS "on", receiving_department '
            "FROM disclosure.follow_ups WHERE task_id = ANY(%s) ORDER BY task_id, version",
            (ids,),
        )
        for row in cur.fetchall():
            out.setdefault(row["task_id"], []).append(dict(row))
    return out


def write_export(
    conn: Any,
    start: date,
    end: date,
    fmt: str,
    path: Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the period's results to ``path``; returns how many rows were written."""
    rows = (export_row(r) for r in _results(conn, start, end))
    if fmt == "csv":
        return _write_csv(rows, path, progress)
    return _write_xlsx(rows, path, progress)


def _write_csv(
    rows: Iterator[list[str]], path: Path, progress: Callable[[int], None] | None
) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow(row)
            count += 1
            if progress and count % 100_000 == 0:
                progress(count)
    return count


def _write_xlsx(
    rows: Iterator[list[str]], path: Path, progress: Callable[[int], None] | None
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet, in_sheet, count = None, XLSX_SHEET_ROWS, 0
    for row in rows:
        if in_sheet == XLSX_SHEET_ROWS:
            sheet = book.create_sheet(f"抽查结果{count // XLSX_SHEET_ROWS + 1}")
            sheet.append(HEADERS)
            in_sheet = 0
        assert sheet is not None
        # Control characters an XLSX cannot hold (the door refuses them; older rows may not).
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row])
        in_sheet += 1
        count += 1
        if progress and count % 100_000 == 0:
            progress(count)
    if sheet is None:
        book.create_sheet("抽查结果1").append(HEADERS)
    book.save(path)
    return count


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
