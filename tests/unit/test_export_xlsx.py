"""The export's XLSX file as python-calamine reads it back: the header on every sheet, a
sheet more past a sheet's rows, every cell the text it was (control characters included),
and a period without results a header alone (services/disclosure/export.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from services.disclosure import export
from services.disclosure.domain.export import HEADERS, neutralise


def _sheets(path: Path) -> dict[str, list[list[str]]]:
    book = CalamineWorkbook.from_path(str(path))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def _row(n: int) -> list[str]:
    cells = [f"{n}-{k}" for k in range(len(HEADERS))]
    cells[1] = neutralise(f'=HYPERLINK("http://x","{n}")')  # kept as text
    cells[7] = f"武汉华兴达{n}商贸有限公司\x01\x0b_x0041_"
    cells[10] = ""
    return cells


def test_rows_past_a_sheet_go_to_the_next_with_its_own_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "XLSX_SHEET_ROWS", 3)
    rows = [_row(n) for n in range(7)]
    path = tmp_path / "out.xlsx"
    assert export._write_xlsx(iter(rows), len(rows), path) == 7
    sheets = _sheets(path)
    assert list(sheets) == ["抽查结果1", "抽查结果2", "抽查结果3"]
    assert all(sheet[0] == list(HEADERS) for sheet in sheets.values())
    assert [r for sheet in sheets.values() for r in sheet[1:]] == rows
    assert [len(sheet) - 1 for sheet in sheets.values()] == [3, 3, 1]


def test_a_period_without_results_is_a_header_alone(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    assert export._write_xlsx(iter([]), 0, path) == 0
    assert _sheets(path) == {"抽查结果1": [list(HEADERS)]}


def test_exactly_a_sheet_of_rows_is_one_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "XLSX_SHEET_ROWS", 4)
    rows = [_row(n) for n in range(4)]
    path = tmp_path / "one.xlsx"
    assert export._write_xlsx(iter(rows), 4, path) == 4
    assert _sheets(path) == {"抽查结果1": [list(HEADERS), *rows]}


@pytest.mark.parametrize(
    "text", ["=1+1", " =1+1", "\u3000=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)", "\n=1", "\t-2"]
)
def test_a_cell_a_spreadsheet_would_read_as_a_formula_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["黄石某商贸有限公司", "1+1", " 有限公司", "a=1", ""])
def test_other_cells_are_kept_as_they_are(text: str) -> None:
    assert neutralise(text) == text
