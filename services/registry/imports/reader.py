"""Rows of a CSV or XLSX file, numbered as the operator sees them (header = row 1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from python_calamine import CalamineWorkbook


class UnreadableFile(Exception):
    """The file is not a CSV or XLSX we can read."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 420202 as 420202.0
    return str(value).strip()


def read_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row, the header first; empty rows are skipped."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        try:
            sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        except Exception as exc:  # calamine raises its own error types per format
            raise UnreadableFile(f"cannot read {filename}: {exc}") from exc
        rows: Iterable[Sequence[object]] = sheet.to_python(skip_empty_area=False)
    elif suffix in (".csv", ".txt"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")  # files saved by Excel on Chinese Windows
        rows = csv.reader(io.StringIO(text))
    else:
        raise UnreadableFile(f"{filename}: expected .csv or .xlsx")
    for number, row in enumerate(rows, start=1):
        cells = [_cell(c) for c in row]
        if any(cells):
            yield number, cells
