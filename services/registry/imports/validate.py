"""Row validation: each row becomes domain fields or a list of errors by column.

Every cell goes through the same door as the API (libs/common/text.py): NFC, no control
characters, lone surrogates or noncharacters, and the API's length limits; lists are as
long as the API allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from libs.common.text import CODE_MAX, LINE_MAX, NAME_MAX, TextError, clean
from services.registry.domain.errors import RegistryError
from services.registry.domain.industries import require_industry
from services.registry.domain.inspectors import CATEGORIES, LEVELS
from services.registry.domain.inspectors import STATUSES as INSPECTOR_STATUSES
from services.registry.domain.regions import require_region
from services.registry.domain.subjects import KINDS, RISK_CLASSES, STATUSES, normalise_identifier
from services.registry.imports.columns import VALUE_ALIASES

# The request models' limits (services/registry/api/subjects.py and people.py; a unit test
# keeps them equal): characters per cell, after NFC.
SUBJECT_MAX_LENGTH = {
    "identifier": CODE_MAX,
    "name": NAME_MAX,
    "legal_form": 64,
    "region_code": 6,
    "industry": 3,
    "address": LINE_MAX,
    "legal_representative": 64,
    "supervising_unit": 32,
}
INSPECTOR_MAX_LENGTH = {
    "department": CODE_MAX,
    "certificate_no": 64,
    "name": 64,
    "region_code": 6,
    "contact": 64,
    "unit": 32,
}
# Entries of a list cell (监管部门, 标签, 专业特长), each as long as a code or a short line.
MAX_ITEMS = {"departments": 50, "tags": 100, "specialties": 20}
_ITEM_LENGTH = {"departments": CODE_MAX, "tags": CODE_MAX, "specialties": 64}
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # as libs.common.text.code()
_CODE_LISTS = ("departments", "tags")
_TRUE = {"1", "true", "yes", "y", "是", "列入"}
_FALSE = {"", "0", "false", "no", "n", "否", "未列入"}


@dataclass(frozen=True)
class RowError:
    """One problem in one cell (row numbers as in the file)."""

    row: int
    column: str
    code: str
    message: str


class _Row:
    def __init__(self, number: int, values: dict[str, str], limits: dict[str, int]) -> None:
        self.number = number
        self.values = values
        self.limits = limits
        self.errors: list[RowError] = []

    def fail(self, column: str, code: str, message: str) -> None:
        self.errors.append(RowError(self.number, column, code, message))

    def text(self, column: str, required: bool = False) -> str:
        value = self._clean(column, self.values.get(column, "").strip(), self.limits.get(column))
        if required and value == "":
            self.fail(column, "required", f"{column} is required")
        return value or ""

    def _clean(
        self,
        column: str,
        value: str,
        max_length: int | None,
        pattern: re.Pattern[str] | None = None,
    ) -> str | None:
        """The cell through the API's door; None (and a row error) when refused."""
        try:
            return clean(value, max_length=max_length or LINE_MAX, pattern=pattern)
        except TextError as exc:
            self.fail(column, exc.code, exc.message)
            return None

    def choice(self, column: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        raw = self.text(column, required=default is None) or (default or "")
        value = VALUE_ALIASES.get(column, {}).get(raw, raw)
        if raw and value not in allowed:
            self.fail(column, "invalid_choice", f"{raw!r} is not one of {list(allowed)}")
        return value

    def items(self, column: str) -> list[str]:
        raw = self.values.get(column, "").replace("；", ";").replace("，", ";").replace(",", ";")
        aliases = VALUE_ALIASES.get(column, {})
        values = [aliases.get(v.strip(), v.strip()) for v in raw.split(";") if v.strip()]
        if len(values) > MAX_ITEMS.get(column, 20):
            self.fail(column, "too_long", f"at most {MAX_ITEMS.get(column, 20)} entries")
            return []
        pattern = _CODE if column in _CODE_LISTS else None
        length = _ITEM_LENGTH.get(column, CODE_MAX)
        cleaned = [self._clean(column, v, length, pattern) for v in values]
        return [v for v in cleaned if v]

    def flag(self, column: str) -> bool:
        raw = self.text(column).lower()
        if raw in _TRUE:
            return True
        if raw not in _FALSE:
            self.fail(column, "invalid_flag", f"{raw!r} is not yes/no (是/否)")
        return False

    def if_present(self, column: str) -> dict[str, str]:
        """``{column: text}`` when the file has the column, else nothing (field untouched)."""
        return {column: self.text(column)} if column in self.values else {}

    def check(self, column: str, rule: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return rule(*args, **kwargs)
        except RegistryError as exc:
            self.fail(column, type(exc).__name__, str(exc))
            return None


def subject_row(
    number: int, values: dict[str, str]
) -> tuple[dict[str, Any] | None, list[RowError]]:
    """Fields for ``Subject.register`` or the row's errors."""
    row = _Row(number, values, SUBJECT_MAX_LENGTH)
    kind = row.choice("kind", KINDS)
    identifier = row.text("identifier", required=True)
    if identifier and kind in KINDS:
        identifier = row.check("identifier", normalise_identifier, kind, identifier) or identifier
    region = row.text("region_code", required=True)
    if region:
        row.check("region_code", require_region, region, county_level=True)
    industry = row.text("industry", required=True)
    if industry:
        row.check("industry", require_industry, industry)
    fields = {
        "identifier": identifier,
        "kind": kind,
        "name": row.text("name", required=True),
        "legal_form": row.text("legal_form"),
        "region_code": region,
        "industry": industry,
        "address": row.text("address"),
        "legal_representative": row.text("legal_representative"),
        "status": row.choice("status", STATUSES, default="operating"),
        "departments": row.items("departments"),
        "tags": row.items("tags"),
        "risk_class": row.choice("risk_class", RISK_CLASSES),
        "abnormal_operation": row.flag("abnormal_operation"),
        "serious_violation": row.flag("serious_violation"),
        **row.if_present("supervising_unit"),
    }
    return (None, row.errors) if row.errors else (fields, [])


def inspector_row(
    number: int, values: dict[str, str]
) -> tuple[dict[str, Any] | None, list[RowError]]:
    """Fields for ``Inspector.register`` or the row's errors."""
    row = _Row(number, values, INSPECTOR_MAX_LENGTH)
    region = row.text("region_code", required=True)
    if region:
        row.check("region_code", require_region, region)
    categories = row.items("categories")
    if not categories:
        row.fail("categories", "required", "categories is required")
    for category in categories:
        if category not in CATEGORIES:
            row.fail("categories", "invalid_choice", f"{category!r} is not one of {CATEGORIES}")
    fields = {
        "department": row.text("department", required=True),
        "certificate_no": row.text("certificate_no", required=True),
        "name": row.text("name", required=True),
        "level": row.choice("level", LEVELS),
        "region_code": region,
        "specialties": row.items("specialties"),
        "categories": categories,
        "status": row.choice("status", INSPECTOR_STATUSES, default="active"),
        "contact": row.text("contact"),
        **row.if_present("unit"),
    }
    return (None, row.errors) if row.errors else (fields, [])
