"""Import files over the limits (services/registry/imports/limits.py and reader.py) are
refused before they are parsed, with a message naming the limit and the row."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from services.registry.imports import limits
from services.registry.imports.limits import Caps, FileTooLarge, check_workbook
from services.registry.imports.reader import UnreadableFile, read_rows

CAPS = Caps(rows=1_000, expanded_bytes=4 << 20, reported_errors=10)


def workbook(rows: int) -> bytes:
    """A real XLSX (openpyxl) with a header and ``rows`` data rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["统一社会信用代码", "名称"])
    for i in range(rows):
        sheet.append([f"91420200MA4K{i:06d}", f"主体{i}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def bomb(sheet_xml: bytes, prefix: str = "") -> bytes:
    """A minimal workbook whose first sheet is ``sheet_xml`` (deflated: it compresses well)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr(f"xl/worksheets/{prefix}sheet1.xml", sheet_xml)
    return out.getvalue()


def rows_xml(n: int, tag: str = "row") -> bytes:
    row = f'<{tag} r="1"><c t="inlineStr"><is><t>x</t></is></c></{tag}>'.encode()
    return b"<worksheet><sheetData>" + row * n + b"</sheetData></worksheet>"


def test_a_file_within_the_limits_passes_and_is_read() -> None:
    data = workbook(1_000)
    check_workbook(data, "ok.xlsx", CAPS)
    assert sum(1 for _ in read_rows(data, "ok.xlsx")) == 1_001


def test_rows_past_the_cap_are_refused_naming_the_row() -> None:
    with pytest.raises(FileTooLarge, match=r"row 1,002 is past the limit of 1,000 data rows"):
        check_workbook(workbook(1_001), "big.xlsx", CAPS)


@pytest.mark.parametrize("tag", ["row", "x:row"])
def test_a_small_archive_of_many_rows_is_refused_before_parsing(tag: str) -> None:
    data = bomb(rows_xml(50_000, tag))
    assert len(data) < 20_000  # a few kilobytes for fifty thousand rows
    with pytest.raises(FileTooLarge, match=r"row 1,002 is past the limit"):
        check_workbook(data, "bomb.xlsx", CAPS)


def test_an_archive_expanding_past_the_cap_is_refused() -> None:
    data = bomb(b"<worksheet>" + b" " * (8 << 20) + b"</worksheet>")
    assert len(data) < 50_000
    with pytest.raises(FileTooLarge, match=r"expands to [0-9,]+ bytes, more than the limit"):
        check_workbook(data, "bomb.xlsx", CAPS)


def test_an_archive_that_understates_its_sizes_is_counted_by_what_it_holds() -> None:
    """The sizes in the archive are the sender's claim: a member declared small but larger
    is damaged (its CRC no longer matches what the declared size holds)."""
    data = bytearray(bomb(b"<worksheet>" + b" " * (8 << 20) + b"</worksheet>"))
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    member = archive.getinfo("xl/worksheets/sheet1.xml")
    real = member.file_size.to_bytes(4, "little")
    assert data.count(real) == 2  # the local header and the central directory
    data = bytearray(bytes(data).replace(real, (1_000).to_bytes(4, "little")))
    with pytest.raises(FileTooLarge, match="damaged archive"):
        check_workbook(bytes(data), "liar.xlsx", CAPS)


def test_a_row_tag_split_between_two_pieces_is_counted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "PIECE", 7)  # every tag falls across pieces somewhere
    check_workbook(bomb(rows_xml(1_001)), "edge.xlsx", CAPS)  # header + 1,000: allowed
    with pytest.raises(FileTooLarge, match="row 1,002"):
        check_workbook(bomb(rows_xml(1_002)), "edge.xlsx", CAPS)


def test_the_reader_turns_every_limit_into_an_unreadable_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSJ_IMPORT_MAX_ROWS", "1000")
    with pytest.raises(UnreadableFile, match="row 1,002 is past the limit"):
        list(read_rows(workbook(1_001), "big.xlsx"))
    csv = "统一社会信用代码,名称\n" + "".join(f"9142{i:014d},主体\n" for i in range(1_001))
    with pytest.raises(UnreadableFile, match="row 1,002 is past the limit"):
        list(read_rows(csv.encode(), "big.csv"))
    assert sum(1 for _ in read_rows(csv.encode()[: csv.encode().rindex(b"9142")], "ok.csv")) == (
        1_001
    )


def test_a_csv_cell_of_200000_characters_is_refused_naming_the_row() -> None:
    data = "统一社会信用代码,名称\n9142,ok\n9143," + "长" * 200_000 + "\n"
    with pytest.raises(UnreadableFile, match="at row 3: field larger than field limit"):
        list(read_rows(data.encode(), "wide.csv"))


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSJ_IMPORT_MAX_ROWS", "5")
    monkeypatch.setenv("SSJ_IMPORT_MAX_EXPANDED_BYTES", "not a number")
    caps = Caps.from_env()
    assert (caps.rows, caps.expanded_bytes) == (5, limits.DEFAULT_MAX_EXPANDED)
