"""Bulk import rows pass the same door as the API: NFC, no control characters, the API's
limits (services/registry/imports/validate.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from services.registry.api.people import InspectorIn
from services.registry.api.subjects import SubjectIn
from services.registry.imports.validate import (
    INSPECTOR_MAX_LENGTH,
    MAX_ITEMS,
    SUBJECT_MAX_LENGTH,
    inspector_row,
    subject_row,
)
from tests.builders import make_uscc


def _subject(**cells: str) -> dict[str, str]:
    row = {
        "identifier": make_uscc(random.Random(7)),
        "kind": "营利性",
        "name": "黄石市示例商贸有限公司",
        "region_code": "420202",
        "industry": "F52",
        "risk_class": "B",
        "departments": "SAMR",
    }
    return {**row, **cells}


def _inspector(**cells: str) -> dict[str, str]:
    row = {
        "department": "SAMR",
        "certificate_no": "SAMR-00001",
        "name": "张三",
        "level": "县级",
        "region_code": "420202",
        "categories": "一般;重点",
    }
    return {**row, **cells}


@pytest.mark.parametrize(
    ("cells", "column", "code"),
    [
        ({"name": "黄石\x00商贸"}, "name", "forbidden_character"),
        ({"address": "黄石港区\x1b[31m"}, "address", "forbidden_character"),
        ({"name": "一\n二"}, "name", "line_break"),
        ({"legal_representative": "\ud800"}, "legal_representative", "forbidden_character"),
        ({"address": "路" * 501}, "address", "string_too_long"),
        ({"departments": "SAMR;税务:局"}, "departments", "string_pattern_mismatch"),
        ({"tags": ";".join(f"t{i}" for i in range(101))}, "tags", "too_long"),
    ],
)
def test_hostile_subject_cells_are_row_errors(
    cells: dict[str, str], column: str, code: str
) -> None:
    fields, errors = subject_row(2, _subject(**cells))
    assert fields is None
    assert [(e.row, e.column, e.code) for e in errors] == [(2, column, code)]


def test_inspector_cells_are_checked_and_folded_to_nfc() -> None:
    fields, errors = inspector_row(3, _inspector(name="Jose\u0301", specialties="食品;药\x00品"))
    assert fields is None
    assert [(e.column, e.code) for e in errors] == [("specialties", "forbidden_character")]
    fields, errors = inspector_row(3, _inspector(name="Jose\u0301"))
    assert errors == [] and fields is not None and fields["name"] == "José"


def _schema_limits(model: Any) -> dict[str, tuple[str, Any]]:
    limits: dict[str, tuple[str, Any]] = {}
    for name, prop in model.model_json_schema()["properties"].items():
        for option in [prop, *prop.get("anyOf", [])]:
            if "maxLength" in option:
                limits[name] = ("chars", option["maxLength"])
            if "maxItems" in option:
                limits[name] = ("items", option["maxItems"])
    return limits


def test_import_limits_are_the_api_limits() -> None:
    for model, lengths in ((SubjectIn, SUBJECT_MAX_LENGTH), (InspectorIn, INSPECTOR_MAX_LENGTH)):
        for column, (kind, limit) in _schema_limits(model).items():
            if kind == "chars":
                assert lengths[column] == limit, column
            elif column in MAX_ITEMS:
                assert MAX_ITEMS[column] == limit, column
