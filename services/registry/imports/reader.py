"""Rows of a CSV or XLSX file, numbered as the operator sees them (header = row 1)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from python_calamine import CalamineWorkbook

from services.registry.imports import limits


class UnreadableFile(Exception):
    """The file is not a CSV or XLSX we can read, or is over a limit (limits.py)."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 420202 as 420202.0
    return str(value).strip()


def _encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (files saved by Excel on Chinese Windows).

    Checked piece by piece, so a large file is not decoded twice into memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), 1 << 20):
            decoder.decode(view[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def read_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row, the header first; empty rows are skipped.

    Rows are read as they are needed (a CSV is decoded as it is read, a sheet's rows are
    iterated), so a million-row file is never held twice.
    """
    suffix = Path(filename).suffix.lower()
    caps = limits.Caps.from_env()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        try:
            limits.check_workbook(data, filename, caps)
        except limits.FileTooLarge as exc:
            raise UnreadableFile(str(exc)) from exc
        try:
            sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
            rows: Iterable[Sequence[object]] = sheet.iter_rows()
        except Exception as exc:  # calamine raises its own error types per format
            raise UnreadableFile(f"cannot read {filename}: {exc}") from exc
    elif suffix in (".csv", ".txt"):
        text = io.TextIOWrapper(io.BytesIO(data), encoding=_encoding(data), newline="")
        rows = csv.reader(text)
    else:
        raise UnreadableFile(f"{filename}: expected .csv or .xlsx")
    number = 0
    iterator = iter(rows)
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            # A CSV is decoded as it is read: bytes neither UTF-8 nor GB18030 show up here.
            raise UnreadableFile(f"cannot read {filename} at row {number + 1}: {exc}") from exc
        number += 1
        if number > caps.rows + 1:  # the header is row 1
            raise UnreadableFile(str(limits.too_many_rows(filename, number, caps)))
        cells = [_cell(c) for c in row]
        if any(cells):
            yield number, cells
