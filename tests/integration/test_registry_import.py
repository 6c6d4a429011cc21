"""Bulk import of subjects and inspectors: validation report, atomicity, upsert."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest

from libs.common.auth import Principal
from libs.common.context import Actor, CommandContext, command_context
from services.registry.application import RegistryApplication
from services.registry.domain.ids import inspector_id, subject_id
from services.registry.domain.subjects import Subject
from services.registry.imports.importer import Importer
from tests.builders import ensure_departments, inspector_payload, subject_payload
from tests.support import ROOT, Infra

OFFICE = Principal(sub="office-1", dept="OFFICE", roles=frozenset({"office"}))
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
    ensure_departments(application, ["SAMR", "TAX"])
    ensure_departments(application, UNITS, parent="SAMR")
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


def _run(
    app: RegistryApplication, data: bytes, name: str = "f.csv", kind: str = "subjects", **kw: Any
) -> Any:
    with command_context(CommandContext(actor=Actor("op-1", "SAMR", ("operator",)))):
        return Importer(app).run(kind, data, name, **kw)


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


def test_an_import_killed_after_staging_parts_leaves_nothing(
    app: RegistryApplication, infra: Infra, tmp_path: Any
) -> None:
    """The process dies (as kill -9 would) after its second part of 5,000 rows is staged."""
    rows = _rows_in("110111", 61, 12_000)  # 北京市房山区
    path = tmp_path / "big.csv"
    path.write_bytes(_csv(HEADER_EN, rows))
    killed = subprocess.run(
        [sys.executable, "-m", "libs.common.cli", "import", "subjects", str(path)],
        env=infra.env(SSJ_SERVICE="registry", SSJ_CRASH_AT="import.after_part@2"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 86, killed.stderr[-2000:]
    assert not app.existing([subject_id(r[0]) for r in rows])


# -- units for 所所交叉 -------------------------------------------------------------------

# Units (所) are codes of the department register, under their department: 黄石港所,
# 西塞山所, 下陆所 of 黄石市市场监管局 (registered by the module's fixture).
UNITS = ["420202-SAMR-HSG", "420203-SAMR-XSS", "420204-SAMR-XL"]


def test_a_unit_not_in_the_register_is_a_row_error(app: RegistryApplication) -> None:
    """One unit, one spelling: a name typed where the register's code belongs is refused,
    naming the row and the column."""
    header = [*HEADER_ZH, "日常监管单位"]
    rows = [
        [*r, "黄石市市场监管局黄石港所" if i == 1 else UNITS[0]] for i, r in enumerate(_rows(37, 3))
    ]
    report = _run(app, _csv(header, rows))
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (3, "supervising_unit", "unknown_unit")
    ]
    assert report.events_written == 0


def test_subject_units_import_under_a_chinese_header_and_change_alone(
    app: RegistryApplication,
) -> None:
    header = [*HEADER_ZH, "日常监管单位"]
    rows = [[*r, UNITS[i % 3]] for i, r in enumerate(_rows(31, 6))]
    rows[5][-1] = ""  # the column may be empty
    first = _run(app, _csv(header, rows))
    assert (first.errors, first.events_written) == ([], 6)
    assert app.get_subject(rows[0][0]).supervising_unit == UNITS[0]
    assert app.get_subject(rows[5][0]).supervising_unit == ""
    assert _run(app, _csv(header, rows)).events_written == 0

    rows[1][-1] = UNITS[2]
    changed = _run(app, _csv(header, rows))
    assert changed.events_written == 1
    last = app.history(app.get_subject(rows[1][0]).id)[-1]
    assert (last["type"], last["data"]["changes"]) == (
        "SubjectChanged",
        {"supervising_unit": UNITS[2]},
    )

    # A file in the older template (no unit column) leaves the units as they are.
    older = _run(app, _csv(HEADER_ZH, [r[:-1] for r in rows]))
    assert (older.rows_applied, older.events_written) == (6, 0)
    assert app.get_subject(rows[1][0]).supervising_unit == UNITS[2]

    # An empty cell in the column clears the unit.
    rows[0][-1] = ""
    assert _run(app, _csv(header, rows)).events_written == 1
    assert app.get_subject(rows[0][0]).supervising_unit == ""


INSPECTOR_HEADER_ZH = [
    "所属部门",
    "执法证号",
    "姓名",
    "执法层级",
    "管辖区划",
    "可检查事项类别",
    "联系方式",
    "所属单位",
]


def _inspector_rows(first: int, n: int) -> list[list[str]]:
    out = []
    for i in range(n):
        p = inspector_payload("SAMR", first + i)
        row = [p["department"], p["certificate_no"], p["name"], "县级", p["region_code"]]
        out.append([*row, "一般;重点", p["contact"], UNITS[i % 3]])
    return out


def test_inspector_units_import_under_a_chinese_header_and_change_alone(
    app: RegistryApplication,
) -> None:
    rows = _inspector_rows(3100, 4)
    first = _run(app, _csv(INSPECTOR_HEADER_ZH, rows), kind="inspectors")
    assert (first.errors, first.events_written) == ([], 4)
    key = inspector_id("SAMR", rows[2][1])
    assert app.get_inspector(key).unit == UNITS[2]
    assert _run(app, _csv(INSPECTOR_HEADER_ZH, rows), kind="inspectors").events_written == 0

    rows[2][-1] = UNITS[0]
    assert _run(app, _csv(INSPECTOR_HEADER_ZH, rows), kind="inspectors").events_written == 1
    last = app.history(key)[-1]
    assert (last["type"], last["data"]["changes"]) == ("InspectorChanged", {"unit": UNITS[0]})

    older = _csv(INSPECTOR_HEADER_ZH[:-1], [r[:-1] for r in rows])
    assert _run(app, older, kind="inspectors").events_written == 0
    assert app.get_inspector(key).unit == UNITS[0]


def test_subject_stored_before_units_existed_loads_and_takes_a_unit_by_import(
    app: RegistryApplication,
) -> None:
    """A SubjectRegistered whose stored payload has no supervising_unit, as written
    before the field existed, straight into the PostgreSQL event store."""
    (row,) = _rows(32, 1)
    identifier, kind, name, region_code, industry, risk_class, address = row
    subject = Subject.register(
        identifier=identifier,
        kind=kind,
        name=name,
        legal_form="",
        region_code=region_code,
        industry=industry,
        address=address,
        legal_representative="",
        status="operating",
        departments=[],
        tags=[],
        risk_class=risk_class,
        abnormal_operation=False,
        serious_violation=False,
    )
    (registered,) = subject.collect_events()
    stored = app.mapper.to_stored_event(registered)
    state = app.mapper.transcoder.decode(stored.state)
    del state["supervising_unit"]
    app.recorder.insert_events(
        [dataclasses.replace(stored, state=app.mapper.transcoder.encode(state))]
    )

    subject = app.get_subject(identifier)
    assert (subject.version, subject.supervising_unit, subject.name) == (1, "", name)
    assert "supervising_unit" not in app.history(subject.id)[0]["data"]
    assert _run(app, _csv(HEADER_ZH, [row])).events_written == 0
    header = [*HEADER_ZH, "监管所"]
    assert _run(app, _csv(header, [[*row, UNITS[1]]])).events_written == 1
    assert app.get_subject(identifier).supervising_unit == UNITS[1]
    assert _run(app, _csv(header, [[*row, UNITS[1]]])).events_written == 0


def _rows_in(region: str, seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        s = subject_payload(rng, "ABCD"[i % 4], region_code=region)
        rows.append(
            [s["identifier"], "for_profit", s["name"], region, s["industry"], "A", f"某路{i}号"]
        )
    return rows


def test_a_full_sync_marks_subjects_missing_from_it_by_an_explicit_status_event(
    app: RegistryApplication,
) -> None:
    inside = _rows_in("110105", 31, 5)  # 北京市朝阳区: no other test registers subjects here
    outside = _rows_in("110106", 32, 2)
    assert not _run(app, _csv(HEADER_EN, inside + outside)).rejected
    kept, gone = inside[:3], inside[3:]

    sync = _run(app, _csv(HEADER_EN, kept), "sync.csv", mark_missing="moved_out", scope="110105")
    assert not sync.rejected
    assert (sync.rows_applied, sync.missing_marked, sync.events_written) == (3, 2, 2)
    for row in gone:
        subject = app.get_subject(row[0])
        assert subject.status == "moved_out"
        last = app.history(subject.id)[-1]
        assert last["type"] == "SubjectStatusChanged"
        assert "absent from full sync sync.csv" in last["data"]["reason"]
    # Nothing is deleted; subjects in the file or outside the scope are untouched.
    assert all(app.get_subject(r[0]).status == "operating" for r in kept + outside)
    again = _run(app, _csv(HEADER_EN, kept), "sync.csv", mark_missing="moved_out", scope="110105")
    assert (again.missing_marked, again.events_written) == (0, 0)

    # A file with an invalid row marks nobody, even when its valid rows are applied.
    broken = [*kept[:1], [*kept[1][:5], "E", kept[1][6]]]
    partial = _run(
        app, _csv(HEADER_EN, broken), mark_missing="revoked", scope="110105", partial=True
    )
    assert partial.rows_applied == 1 and partial.missing_marked == 0
    assert "nobody is marked missing" in partial.missing_skipped
    assert app.get_subject(kept[2][0]).status == "operating"
    with pytest.raises(ValueError, match="mark_missing must be one of"):
        _run(app, _csv(HEADER_EN, kept), mark_missing="operating")


def _project(app: RegistryApplication, identifiers: list[str]) -> None:
    """Write these subjects' read-model rows as the registry's projection would, at the
    version of their last event."""
    from psycopg.types.json import Jsonb

    from services.registry.projections.views import DDL, SUBJECT_COLUMNS

    with app.connection() as conn:
        for statement in DDL:
            conn.execute(statement.format(schema="registry"))
        for identifier in identifiers:
            subject = app.get_subject(identifier)
            values = [getattr(subject, c) for c in SUBJECT_COLUMNS]
            values = [Jsonb(v) if isinstance(v, list) else v for v in values]
            conn.execute(
                f"INSERT INTO registry.subjects_view (id, version, {', '.join(SUBJECT_COLUMNS)})"
                f" VALUES (%s, %s{', %s' * len(SUBJECT_COLUMNS)})"
                f" ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                [subject.id, subject.version, *values],
            )


def test_reimport_trusts_the_read_model_only_at_the_current_version(
    app: RegistryApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows_in("110107", 41, 3)  # 北京市石景山区
    assert _run(app, _csv(HEADER_EN, rows)).events_written == 3
    _project(app, [r[0] for r in rows])

    # Rows the read model shows as they are, at their current version: no aggregate loaded.
    loads: list[Any] = []
    real_load_many = app.load_many

    def counting_load_many(ids: list[Any]) -> Any:
        loads.append(list(ids))
        return real_load_many(ids)

    monkeypatch.setattr(app, "load_many", counting_load_many)
    assert _run(app, _csv(HEADER_EN, rows)).events_written == 0
    assert loads == []

    # The registry moves on (version 2); the read model has not caught up yet and still
    # shows the file's name. The file's row is then checked against the aggregate, and the
    # name the file gives is recorded again.
    first = app.get_subject(rows[0][0])
    app.change_subject(rows[0][0], first.version, by=OFFICE, name="改过的名称")
    report = _run(app, _csv(HEADER_EN, rows))
    assert report.events_written == 1 and loads == [[first.id]]
    assert app.get_subject(rows[0][0]).name == rows[0][2]

    # A current row that differs from the file goes through the aggregate too.
    _project(app, [rows[1][0]])
    rows[1][6] = "新地址"
    loads.clear()
    report = _run(app, _csv(HEADER_EN, rows))
    assert report.events_written == 1  # the address (subject 0 is stale but unchanged)
    assert app.get_subject(rows[1][0]).address == "新地址"
    second = app.get_subject(rows[1][0]).id
    assert sorted(map(str, loads[0])) == sorted(map(str, [first.id, second]))


def test_parts_staged_before_a_bad_row_are_never_applied(
    app: RegistryApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.registry.imports import pipeline

    monkeypatch.setattr(pipeline, "PART_ROWS", 2)  # parts of two rows: four staged before row 6
    rows = _rows_in("110109", 51, 6)  # 北京市门头沟区
    rows[-1][3] = "429999"
    report = _run(app, _csv(HEADER_EN, rows))
    assert report.rejected and (report.rows_applied, report.events_written) == (0, 0)
    assert [(e.row, e.column) for e in report.errors] == [(7, "region_code")]
    assert all(subject_id(r[0]) not in app.repository for r in rows)
    # The same file in partial mode applies the five good rows, in parts, once.
    partial = _run(app, _csv(HEADER_EN, rows), partial=True)
    assert (partial.rows_applied, partial.events_written) == (5, 5)
    assert all(subject_id(r[0]) in app.repository for r in rows[:5])


def test_list_fields_compare_as_postgresql_writes_them(app: RegistryApplication) -> None:
    """The read-model shortcut compares departments and tags by PostgreSQL's jsonb text."""
    from services.registry.imports.importer import _json_text

    for value in ([], ["SAMR"], ["SAMR", "TAX"], ["市场监管", "食品 经营"]):
        with app.connection() as conn:
            text = conn.execute("SELECT %s::jsonb::text AS t", (json.dumps(value),)).fetchone()
        assert text["t"] == _json_text(value)


def test_a_large_file_is_read_and_checked_by_a_second_process_with_the_same_outcome(
    app: RegistryApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.registry.imports import pipeline

    rows = _rows_in("110112", 71, 7)  # 北京市通州区
    rows[2][0] = rows[2][0][:-1] + ("0" if rows[2][0][-1] != "0" else "1")  # bad check digit
    rows.append(list(rows[4]))  # duplicate
    data = _csv(HEADER_EN, rows)
    monkeypatch.setattr(pipeline, "PART_ROWS", 3)
    inline = list(pipeline.validated_parts("subjects", data, "f.csv"))
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 0)
    assert list(pipeline.validated_parts("subjects", data, "f.csv")) == inline
    assert [len(part) for part in inline[1:] if isinstance(part, list)] == [3, 3, 2]

    report = _run(app, data, partial=True)
    assert (report.rows_total, report.rows_applied, report.events_written) == (8, 6, 6)
    assert {(e.row, e.code) for e in report.errors} == {(4, "InvalidIdentifier"), (9, "duplicate")}
    # What the second process cannot read reaches the caller as the same error.
    from services.registry.imports.reader import UnreadableFile

    with pytest.raises(UnreadableFile):
        list(pipeline.validated_parts("subjects", b"not a workbook", "f.xlsx"))


def test_a_report_lists_the_first_errors_and_counts_them_all(
    app: RegistryApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSJ_IMPORT_MAX_REPORTED_ERRORS", "10")
    rows = _rows(91, 30)
    for row in rows:
        row[0] = "not-a-uscc"
    report = _run(app, _csv(HEADER_EN, rows))
    assert report.rejected and report.errors_total == 30
    assert [e.row for e in report.errors] == list(range(2, 12))  # the first ten, in order
    assert report.as_dict()["errors_total"] == 30 and "_listed" not in report.as_dict()
