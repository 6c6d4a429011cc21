"""Exports for the national system (报送国家企业信用信息公示系统) — pure.

One file per period of results, in the national system's columns; the file's SHA-256 is
recorded as an event (``ExportRecorded``), so what was sent can be proven later by hashing
the file again. A spreadsheet opens a cell that starts with ``=``, ``+``, ``-`` or ``@``
(or a tab or carriage return) as a formula: such cells are neutralised with a leading
apostrophe, the usual defence against formula injection (a company name is typed by
whoever registered it).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from eventsourcing.domain import Aggregate, event

from services.disclosure.domain.days import FIRST_YEAR, LAST_YEAR

Format = Literal["xlsx", "csv"]
FORMATS: tuple[str, ...] = ("xlsx", "csv")
MAX_PERIOD_DAYS = 366  # a year and a day at most: one file per period
# What makes a spreadsheet read a cell as a formula: the signs, their full-width forms
# (a Chinese input method types those), and tab or line breaks before them.
FORMULA_STARTS = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n")

# (column header as the national system names it, field of a national result: the file
# holds the same values as GET /v1/public/results, a test compares them row by row)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("抽查计划编号", "plan_number"),
    ("抽查计划名称", "plan_name"),
    ("任务编号", "task_number"),
    ("任务名称", "task_name"),
    ("抽查类型", "inspection_type"),
    ("检查机关", "inspecting_authority"),
    ("统一社会信用代码", "subject_identifier"),
    ("企业名称", "subject_name"),
    ("检查完成日期", "inspected_on"),
    ("检查结果", "outcome_text"),
    ("备注", "remark"),
    ("公示日期", "published_on"),
)
HEADERS = [header for header, _ in COLUMNS]


class InvalidExport(ValueError):
    """A period or format the export does not take (422)."""


def check_period(start: date, end: date) -> None:
    """A period runs forwards, spans at most :data:`MAX_PERIOD_DAYS` days and lies in the
    years the record holds (an export of year 1 would be recorded as sent, empty)."""
    if not (start.year >= FIRST_YEAR and end.year <= LAST_YEAR):
        raise InvalidExport(f"a period lies in the years {FIRST_YEAR} to {LAST_YEAR}")
    if end < start:
        raise InvalidExport(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidExport(f"a period spans {MAX_PERIOD_DAYS} days at most")


def neutralise(value: Any) -> str:
    """A cell's text, with a leading apostrophe if a spreadsheet would take it as a
    formula."""
    text = "" if value is None else str(value)
    # Leading spaces (an ideographic one too) do not stop a spreadsheet from seeing one.
    formula = text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS)
    return f"'{text}" if formula else text


def file_name(start: date, end: date, fmt: str) -> str:
    """The file's name: the period it holds."""
    return f"ssj-results-{start.isoformat()}_{end.isoformat()}.{fmt}"


class ResultsExport(Aggregate):
    """报送记录 — one file of results sent for a period, by its SHA-256."""

    @staticmethod
    def create_id(**_: Any) -> uuid.UUID:
        return uuid.uuid4()

    @event("ExportRecorded")
    def __init__(
        self,
        period_from: str,
        period_to: str,
        format: str,
        rows: int,
        sha256: str,
        size: int,
        file_name: str,
    ) -> None:
        self.period_from, self.period_to, self.format = period_from, period_to, format
        self.rows, self.sha256, self.size, self.file_name = rows, sha256, size, file_name

    def view(self) -> dict[str, Any]:
        """The record as its readers see it."""
        return {
            "export_id": str(self.id),
            "period_from": self.period_from,
            "period_to": self.period_to,
            "format": self.format,
            "rows": self.rows,
            "sha256": self.sha256,
            "size": self.size,
            "file_name": self.file_name,
            "recorded_at": self.created_on.isoformat(),
        }
