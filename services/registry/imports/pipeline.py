"""Reading and checking a file's rows, on the side: the first half of an import.

:func:`validated_parts` gives the file's header (or what is wrong with it), then its rows in
parts, each row as ``(row number, record key, fields or None, errors)``. Reading the file,
validating each row (python-stdnum's check digit, the code tables) and working out its key
is half an import's work and needs nothing but the file, so for a large file it runs in a
second process while the importer applies the parts already checked: the two halves then
use both cores. Either way the parts and their order are the same (:func:`validate_file` is
the one implementation); the second process only carries them across a pipe, and stops when
the importer stops reading.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from uuid import UUID

from services.registry.domain.ids import inspector_id, subject_id
from services.registry.imports.columns import (
    INSPECTOR_COLUMNS,
    INSPECTOR_REQUIRED,
    SUBJECT_COLUMNS,
    SUBJECT_REQUIRED,
    header_map,
)
from services.registry.imports.reader import read_rows
from services.registry.imports.validate import RowError, inspector_row, subject_row

PART_ROWS = 5_000  # rows checked and handed over together
# Files at least this large are read and checked by a second process (its start costs
# about a second); SSJ_IMPORT_PARALLEL_BYTES overrides it.
PARALLEL_BYTES = 4 << 20

Row = tuple[int, UUID | None, dict[str, Any] | None, list[RowError]]


@dataclass(frozen=True)
class Header:
    """The header row: its number, and what is wrong with it (nothing: rows follow)."""

    row: int
    errors: list[RowError]


def key_of(kind: str, fields: dict[str, Any]) -> UUID:
    """The record a valid row is about: a subject by identifier, an inspector by
    department and certificate number."""
    if kind == "subjects":
        return subject_id(fields["identifier"])
    return inspector_id(fields["department"], fields["certificate_no"])


def validate_file(
    kind: str, data: bytes, filename: str, part_rows: int
) -> Iterator[Header | list[Row]]:
    """The header, then parts of ``part_rows`` checked rows (none if the header is
    unusable)."""
    columns, required, check = (
        (SUBJECT_COLUMNS, SUBJECT_REQUIRED, subject_row)
        if kind == "subjects"
        else (INSPECTOR_COLUMNS, INSPECTOR_REQUIRED, inspector_row)
    )
    rows = read_rows(data, filename)
    first = next(rows, None)
    if first is None:
        yield Header(1, [RowError(1, "", "empty_file", "the file has no header row")])
        return
    number, cells = first
    positions = header_map(cells, columns)
    errors = [
        RowError(
            number, missing, "missing_column", f"no column for {' / '.join(columns[missing][:3])}"
        )
        for missing in sorted(set(required) - set(positions.values()))
    ]
    yield Header(number, errors)
    if errors:
        return
    part: list[Row] = []
    for number, cells in rows:
        values = {f: cells[i] if i < len(cells) else "" for i, f in positions.items()}
        fields, row_errors = check(number, values)
        part.append((number, key_of(kind, fields) if fields else None, fields, row_errors))
        if len(part) >= part_rows:
            yield part
            part = []
    if part:
        yield part


def validated_parts(kind: str, data: bytes, filename: str) -> Iterator[Header | list[Row]]:
    """:func:`validate_file`, in a second process when the file is large."""
    part_rows = PART_ROWS
    if len(data) < int(os.environ.get("SSJ_IMPORT_PARALLEL_BYTES", PARALLEL_BYTES)):
        yield from validate_file(kind, data, filename, part_rows)
        return
    # spawn, not fork: the caller may be a threaded server process.
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_work,
        args=(kind, data, filename, part_rows, sender),
        name="ssj-import-reader",
        daemon=True,
    )
    worker.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise RuntimeError(
                    f"the process reading {filename} stopped (exit code {worker.exitcode})"
                ) from None
            if message is None:
                return
            if isinstance(message, BaseException):
                raise message
            yield message
    finally:
        receiver.close()
        worker.join(timeout=5)
        if worker.is_alive():  # the importer stopped early (an error of its own)
            worker.terminate()
            worker.join()


def _work(kind: str, data: bytes, filename: str, part_rows: int, sender: Connection) -> None:
    """In the second process: send every item of :func:`validate_file`, then None (or the
    exception that stopped it)."""
    try:
        for item in validate_file(kind, data, filename, part_rows):
            sender.send(item)
        sender.send(None)
    except BrokenPipeError:  # the importer went away
        pass
    except Exception as exc:
        try:
            sender.send(exc)
        except Exception:
            sender.send(RuntimeError(f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()
