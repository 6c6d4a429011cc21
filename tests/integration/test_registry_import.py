"""Bulk import of subjects and inspectors: validation report, atomicity, upsert."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest

from libs.common.context import Actor, CommandContext, command_context
from services.registry.application import RegistryApplication
from services.registry.domain.ids import subject_id
from services.registry.imports.importer import Importer
from tests.builders import subject_payload
from tests.support import ROOT, Infra

HEADER_EN = ["identifier", "kind", "name", "region_code", "industry", "risk_class", "address"]
HEADER_ZH = [
    "统一社会信用代码",
    "主体类型",
    "企业名称",
    "行政区划代码",
    "行业代码",
    "信用风险分类",
    "住所",
]


@pytest.fixture(scope="module")
def app(infra: Infra) -> Iterator[RegistryApplication]:
    application = RegistryApplication(infra.settings("registry"))
    yield application
    application.close()


def _rows(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        s = subject_payload(rng, "ABCD"[i % 4])
        out.append(
            [
                s["identifier"],
                "for_profit",
                s["name"],
                s["region_code"],
                s["industry"],
                s["risk_class"],
                f"黄石市某路{i}号",
            ]
        )
    return out


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode("utf-8")


def _run(app: RegistryApplication, data: bytes, name: str = "f.csv", **kw: Any) -> Any:
    with command_context(CommandContext(actor=Actor("op-1", "SAMR", ("operator",)))):
        return Importer(app).run("subjects", data, name, **kw)


def test_import_applies_every_row_and_reimport_writes_zero_events(app: RegistryApplication) -> None:
    rows = _rows(21, 12)
    first = _run(app, _csv(HEADER_EN, rows))
    assert (first.rejected, first.rows_total, first.rows_applied) == (False, 12, 12)
    assert first.events_written == 12
    again = _run(app, _csv(HEADER_EN, rows))
    assert (again.rows_applied, again.events_written) == (12, 0)

    rows[3][6] = "新地址"
    rows[5][5] = "D" if rows[5][5] != "D" else "A"
    changed = _run(app, _csv(HEADER_EN, rows))
    assert changed.events_written == 2
    history = app.history(app.get_subject(rows[3][0]).id)
    assert history[-1]["type"] == "SubjectChanged"
    assert history[-1]["data"]["changes"] == {"address": "新地址"}
    assert app.history(app.get_subject(rows[5][0]).id)[-1]["type"] == "RiskClassChanged"


def test_bad_rows_reject_the_file_and_are_reported_by_row_and_column(
    app: RegistryApplication,
) -> None:
    rows = _rows(22, 5)
    rows[0][0] = rows[0][0][:-1] + ("0" if rows[0][0][-1] != "0" else "1")  # bad check digit
    rows[1][3] = "429999"  # unknown region
    rows[2][2] = ""  # broken row: no name
    rows.append(list(rows[4]))  # duplicate identifier
    report = _run(app, _csv(HEADER_EN, rows))
    assert report.rejected and report.rows_applied == 0 and report.events_written == 0
    found = {(e.row, e.column, e.code) for e in report.errors}
    assert found == {
        (2, "identifier", "InvalidIdentifier"),
        (3, "region_code", "InvalidRecord"),
        (4, "name", "required"),
        (7, "identifier", "duplicate"),
    }
    # Nothing of the file was written, not even its valid rows.
    assert all(subject_id(r[0]) not in app.repository for r in rows)


def test_partial_import_applies_only_the_valid_rows(app: RegistryApplication) -> None:
    rows = _rows(23, 4)
    rows[1][5] = "E"  # no such risk class
    report = _run(app, _csv(HEADER_EN, rows), partial=True)
    assert not report.rejected
    assert (report.rows_total, report.rows_applied, report.events_written) == (4, 3, 3)
    assert [(e.row, e.column) for e in report.errors] == [(3, "risk_class")]
    assert "row,column,code,message" in report.errors_csv()


def test_xlsx_with_chinese_headers_and_values_is_read(app: RegistryApplication) -> None:
    rows = _rows(24, 3)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER_ZH)
    for r in rows:
        sheet.append([r[0], "营利性", r[2], int(r[3]), r[4], r[5], r[6]])
    buffer = io.BytesIO()
    book.save(buffer)
    report = _run(app, buffer.getvalue(), "名录.xlsx")
    assert report.errors == [] and report.rows_applied == 3
    assert app.get_subject(rows[0][0]).region_code == rows[0][3]


def test_missing_required_column_rejects_the_file_even_in_partial_mode(
    app: RegistryApplication,
) -> None:
    report = _run(app, _csv(HEADER_EN[:2], [r[:2] for r in _rows(25, 2)]), partial=True)
    assert report.rejected
    assert {e.column for e in report.errors} == {"name", "region_code", "industry", "risk_class"}
    assert all(e.row == 1 and e.code == "missing_column" for e in report.errors)


def test_command_line_import_exits_by_outcome_and_writes_the_report(
    infra: Infra, tmp_path: Any
) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(_csv(HEADER_EN, _rows(26, 3)))
    bad_rows = _rows(27, 2)
    bad_rows[1][1] = "pirate"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(HEADER_EN, bad_rows))
    env = infra.env(SSJ_SERVICE="registry")

    def ssj(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "libs.common.cli", "import", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    applied = ssj("subjects", str(good), "--report", str(tmp_path / "good.json"))
    assert applied.returncode == 0, applied.stderr
    report = json.loads((tmp_path / "good.json").read_text())
    assert (report["rows_total"], report["rows_applied"], report["events_written"]) == (3, 3, 3)

    rejected = ssj("subjects", str(bad), "--report", str(tmp_path / "bad.json"))
    assert rejected.returncode == 1
    errors = json.loads((tmp_path / "bad.json").read_text())["errors"]
    assert errors == [
        {
            "row": 3,
            "column": "kind",
            "code": "invalid_choice",
            "message": "'pirate' is not one of ['for_profit', 'non_profit', 'non_market']",
        }
    ]
