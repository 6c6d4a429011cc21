"""Writing a period's results to a file for the national system (domain/export.py says
what goes in it), streamed: rows are read by a server-side cursor in chunks and written as
they come, so a year of a province (a million results) never sits in memory.

CSV is UTF-8 with a byte-order mark (Excel then reads the Chinese headers right); XLSX is
rustpy-xlsxwriter (rust_xlsxwriter, by XlsxWriter's author, behind a Python binding): it
takes the rows from a generator at constant memory and wrote a million rows in 10.5 s here
where XlsxWriter's constant-memory mode took 71 s, more than the export's whole minute.
A reader thread fetches the next chunk while the writer formats this one, so PostgreSQL's
work and ours overlap (the thread waits in libpq without the GIL). The row count is read
first in the same snapshot (REPEATABLE READ): it says how many sheets the file needs.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from psycopg.rows import tuple_row

from services.disclosure.domain.export import HEADERS, neutralise
from services.disclosure.domain.national import FOLLOWED_OUTCOMES, public_follow_up, remark
from services.disclosure.domain.public import outcome_text

CHUNK = 5_000
XLSX_SHEET_ROWS = 1_048_575  # a sheet's rows less the header; more go to the next sheet


# A period holds the results first published in it and those whose latest correction (更正)
# was published in it, as they stand, dated by what happened in the period.
IN_PERIOD = """(r.published_on BETWEEN %(start)s AND %(end)s
          OR r.corrected_on BETWEEN %(start)s AND %(end)s)"""
COUNT_SQL = f"SELECT count(*) AS total FROM disclosure.results r WHERE {IN_PERIOD}"


# The export's own query: only the columns the file holds and what its 备注 is written
# from, the plans' batches joined by hash once (not expanded per result), rows as tuples.
EXPORT_SQL = f"""
WITH batches AS (
    SELECT p.plan_id, x->>'batch_id' AS batch_id, x->>'task_number' AS task_number,
           x->>'name' AS task_name,
           CASE WHEN (x->>'directed')::boolean THEN '定向抽查' ELSE '不定向抽查' END
               AS directed_type
      FROM disclosure.plans p, jsonb_array_elements(p.batches) x)
SELECT r.record_id, p.number, p.title, b.task_number, b.task_name,
       coalesce(b.directed_type, r.inspection_type),
       coalesce(nullif(d.name, ''), r.department), r.subject_identifier, r.subject_name,
       r.inspected_on::text, r.outcome, shown.day::text,
       r.pending_kind, r.non_cooperation_case, r.corrections, r.late
  FROM disclosure.results r
  LEFT JOIN disclosure.plans p ON p.plan_id = r.plan_id
  LEFT JOIN batches b ON b.plan_id = r.plan_id AND b.batch_id = r.batch_id
  LEFT JOIN disclosure.departments_view d ON d.code = r.department
  CROSS JOIN LATERAL (SELECT CASE WHEN r.corrected_on BETWEEN %(start)s AND %(end)s
                                  THEN r.corrected_on ELSE r.published_on END AS day) shown
 WHERE {IN_PERIOD}
 ORDER BY shown.day, r.record_id"""


def _rows(conn: Any, start: date, end: date) -> Iterator[list[str]]:
    """The period's results (by 公示日期) as the file's cells, in date and record order
    (within the caller's transaction)."""
    with conn.cursor(name="ssj_export", row_factory=tuple_row) as cur:
        cur.itersize = CHUNK
        cur.execute(EXPORT_SQL, {"start": start, "end": end})
        for chunk, steps in _prefetched(conn, cur):
            for (
                record_id, number, title, task_number, task_name, kind, authority,
                identifier, name, inspected_on, outcome, published_on,
                pending, refusal, corrections, late,
            ) in chunk:  # fmt: skip
                followed = steps.get(record_id, ())
                note = (
                    remark(
                        pending_kind=pending,
                        non_cooperation_case=refusal,
                        corrections=corrections,
                        late=late,
                        follow_up=followed,
                    )
                    if pending or refusal or corrections or late or followed
                    else ""
                )
                yield [
                    neutralise(v)
                    for v in (
                        number, title, task_number, task_name, kind, authority, identifier,
                        name, inspected_on, outcome_text(outcome), note, published_on,
                    )
                ]  # fmt: skip


_DONE = object()


def _prefetched(conn: Any, cur: Any) -> Iterator[tuple[list[tuple[Any, ...]], dict[Any, Any]]]:
    """The cursor's chunks with their follow-up steps, read one chunk ahead by a thread.

    The thread alone uses the connection until it has put ``_DONE`` (or its error); the
    queue holds one chunk, so memory stays at two chunks whatever the period's size.
    """
    ahead: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set() and (chunk := cur.fetchmany(CHUNK)):
                ids = [r[0] for r in chunk if r[10] in FOLLOWED_OUTCOMES]
                ahead.put((chunk, _follow_ups(conn, ids)))
            ahead.put(_DONE)
        except BaseException as exc:  # handed to the writer, which raises it
            ahead.put(exc)

    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The writer stopped early (an error, or the generator closed): let the thread end
        # before the cursor and transaction close under it.
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)
        reader.join()


def _follow_ups(conn: Any, ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    if not ids:
        return out
    with conn.cursor() as cur:
        cur.execute(
            'SELECT task_id, step, "on"::text AS "on", receiving_department '
            "FROM disclosure.follow_ups WHERE task_id = ANY(%s) ORDER BY task_id, version",
            (ids,),
        )
        for row in cur.fetchall():
            out.setdefault(row["task_id"], []).append(public_follow_up(row))
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
    period = _period(conn, start, end)
    with contextlib.closing(period):  # an error mid-way rolls the snapshot back at once
        total = next(period)
        rows = _progressing(period, progress)
        count = _write_csv(rows, path) if fmt == "csv" else _write_xlsx(rows, total, path)
    if count != total:  # the snapshot makes this impossible; a file short of rows is worse
        raise RuntimeError(f"export wrote {count} rows of {total}")
    return count


def _period(conn: Any, start: date, end: date) -> Generator[Any, None, None]:
    """The period's row count, then its rows, from one snapshot: a result published
    meanwhile is in neither, and the sheets counted are the sheets filled. The transaction
    ends as the last row is read, before the writer finishes its file (which may take
    longer than the store lets a transaction stand idle)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield conn.execute(COUNT_SQL, {"start": start, "end": end}).fetchone()["total"]
        yield from _rows(conn, start, end)


def _progressing(
    rows: Iterator[list[str]], progress: Callable[[int], None] | None
) -> Iterator[list[str]]:
    for count, row in enumerate(rows, 1):
        yield row
        if progress and count % 100_000 == 0:
            progress(count)


def _write_csv(rows: Iterator[list[str]], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _write_xlsx(rows: Iterator[list[str]], total: int, path: Path) -> int:
    from rustpy_xlsxwriter import write_worksheets

    written = [0]

    def records(limit: int | None) -> Iterator[dict[str, str | None]]:
        for row in itertools.islice(rows, limit):
            written[0] += 1
            yield dict(zip(HEADERS, row, strict=True))

    sheets = max(1, -(-total // XLSX_SHEET_ROWS))
    entries: list[tuple[str, Any]] = [
        # Each sheet takes its rows from the one cursor, in turn; the last takes the rest.
        (f"抽查结果{k + 1}", records(XLSX_SHEET_ROWS if k < sheets - 1 else None))
        for k in range(sheets)
    ]
    if total == 0:
        # Rows of no cells: the sheet has its header and nothing else.
        entries = [("抽查结果1", [dict.fromkeys(HEADERS)])]
    # Every cell is a string and stays one (no number, formula or link is made of it; the
    # cells are neutralised as well, for whoever copies them elsewhere); control characters
    # an XLSX cannot hold are escaped (_x0001_), as the door refuses them but older rows
    # may hold them.
    write_worksheets(entries, str(path), bold_headers=True)
    return written[0]


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
