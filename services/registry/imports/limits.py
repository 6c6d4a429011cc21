"""What an import file may hold 导入文件限额, checked before the file is parsed.

An XLSX is a ZIP: 600 KB of it can expand to gigabytes of sheet XML, and python-calamine
loads a whole sheet into memory. So before calamine sees a workbook, every member is
decompressed once, in 1 MB pieces, by the standard library (which stops at the size the
archive declares and checks the CRC): the expanded size is counted as it comes, and the
rows of every worksheet are counted by their ``<row`` tags, so a bomb is refused after
reading at most the cap, in constant memory. A CSV's rows are counted as they are read.
The caps are settings (environment) with defaults that hold a province's import files.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from io import BytesIO

# Data rows per import file (the header not counted): SSJ_IMPORT_MAX_ROWS.
DEFAULT_MAX_ROWS = 1_000_000
# Bytes all members of an XLSX may expand to: SSJ_IMPORT_MAX_EXPANDED_BYTES (a million
# subjects take ~600 MB of sheet XML and shared strings).
DEFAULT_MAX_EXPANDED = 1 << 30
# Errors listed in a report; beyond it they are counted (SSJ_IMPORT_MAX_REPORTED_ERRORS).
DEFAULT_MAX_REPORTED_ERRORS = 10_000
PIECE = 1 << 20
# A row element, with or without a namespace prefix (<row …>, <x:row …>).
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_TAG_TAIL = 64  # bytes kept between pieces so a tag split across two is still seen


class FileTooLarge(Exception):
    """The file is over one of the caps (the message names the cap and where it was hit),
    or its archive is damaged where the limits are checked."""


@dataclass(frozen=True)
class Caps:
    """The caps in force (read from the environment, so a service's setting applies)."""

    rows: int = DEFAULT_MAX_ROWS
    expanded_bytes: int = DEFAULT_MAX_EXPANDED
    reported_errors: int = DEFAULT_MAX_REPORTED_ERRORS

    @classmethod
    def from_env(cls) -> Caps:
        """The caps as the environment sets them (invalid values fall back to defaults)."""

        def read(name: str, default: int) -> int:
            try:
                value = int(os.environ.get(name, default))
            except ValueError:
                return default
            return value if value > 0 else default

        return cls(
            rows=read("SSJ_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS),
            expanded_bytes=read("SSJ_IMPORT_MAX_EXPANDED_BYTES", DEFAULT_MAX_EXPANDED),
            reported_errors=read("SSJ_IMPORT_MAX_REPORTED_ERRORS", DEFAULT_MAX_REPORTED_ERRORS),
        )


def too_many_rows(filename: str, row: int, caps: Caps) -> FileTooLarge:
    """The error for a file whose row ``row`` (as numbered in the file) is past the cap."""
    return FileTooLarge(
        f"{filename}: row {row:,} is past the limit of {caps.rows:,} data rows per import "
        "(split the file)"
    )


def check_workbook(data: bytes, filename: str, caps: Caps) -> None:
    """Refuse an XLSX that expands past the cap or holds more rows than the cap; a broken
    archive is left to the reader, which reports it."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a ZIP (an old .xls, an .ods is one): the reader says what it is
    with archive:
        members = archive.infolist()
        declared = sum(m.file_size for m in members)
        if declared > caps.expanded_bytes:
            raise FileTooLarge(
                f"{filename}: expands to {declared:,} bytes, more than the limit of "
                f"{caps.expanded_bytes:,} (split the file)"
            )
        expanded = 0
        for member in members:
            rows = 0  # per sheet: the reader parses one
            is_sheet = member.filename.startswith("xl/worksheets/") and member.filename.endswith(
                ".xml"
            )
            tail = b""
            try:
                with archive.open(member) as piece_reader:
                    while piece := piece_reader.read(PIECE):
                        expanded += len(piece)
                        if expanded > caps.expanded_bytes:
                            raise FileTooLarge(
                                f"{filename}: expands past the limit of "
                                f"{caps.expanded_bytes:,} bytes (split the file)"
                            )
                        if is_sheet:
                            buffer = tail + piece
                            rows += sum(1 for m in _ROW_TAG.finditer(buffer) if m.end() > len(tail))
                            tail = buffer[-_TAG_TAIL:]
                            if rows > caps.rows + 1:  # the header is a row too
                                raise too_many_rows(filename, caps.rows + 2, caps)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                # A member that does not match what the archive says of it (CRC, sizes) is
                # not handed to a reader that might believe something else.
                raise FileTooLarge(
                    f"{filename}: damaged archive ({member.filename}: {exc})"
                ) from exc
            except NotImplementedError:
                return  # a compression or encryption zipfile lacks: the reader says so
