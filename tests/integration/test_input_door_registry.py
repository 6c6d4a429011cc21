"""Hostile input is refused at the registry's door: 422 problem+json naming the field, and
nothing stored (issue 10, sections 1 and 1b)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from libs.common.commands import MAX_COMMAND_BYTES, wire_size
from tests.builders import inspector_payload, item_payload, subject_payload
from tests.integration.door import assert_refused, office, send, stored_events
from tests.support import Infra, ServiceProcess

USCC = subject_payload(random.Random(1))["identifier"]
SOMEONE = str(uuid.UUID(int=1))
ITEM = item_payload("DOOR-1", "SAMR")
SUBJECT = subject_payload(random.Random(2))
INSPECTOR = inspector_payload("SAMR", 1)
REASON = {"reason": "依法注销"}
CONFLICT = {
    "inspector_id": SOMEONE,
    "subject_identifier": USCC,
    "reason": "relative",
    "declared_on": "2026-03-01",
}


@pytest.fixture(scope="module")
def client(infra: Infra) -> Iterator[httpx.Client]:
    proc = ServiceProcess(infra, "registry").start()
    with office(proc.url, infra) as http:
        yield http
    proc.stop()


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


CASES: list[tuple[str, str, dict[str, Any] | None, dict[str, Any], str]] = [
    # departments
    (
        "POST",
        "/v1/departments",
        {"code": "D1", "name": "局\x00", "level": "city", "region_code": "420200"},
        {},
        "name",
    ),
    ("POST", "/v1/departments", {"code": ":", "name": "局", "level": "city"}, {}, "code"),
    ("GET", "/v1/departments", None, {"params": {"parent": "\x00"}}, "parent"),
    ("GET", "/v1/departments/D%001", None, {}, "code"),
    # items
    ("POST", "/v1/items", _with(ITEM, name="黄石\x00商贸"), {}, "name"),
    ("POST", "/v1/items", _with(ITEM, legal_basis="《条例》\x1b[2J"), {}, "legal_basis"),
    ("POST", "/v1/items", _with(ITEM, department=":"), {}, "department"),
    # a calling platform's correlation id is stored in every event the command causes
    ("POST", "/v1/items", ITEM, {"headers": {"X-Correlation-ID": "a" * 129}}, "X-Correlation-ID"),
    ("POST", "/v1/items", ITEM, {"headers": {"X-Correlation-ID": "a;b c"}}, "X-Correlation-ID"),
    (
        "POST",
        "/v1/items",
        ITEM,
        {"headers": {"X-Correlation-ID": "任务\u202e1".encode()}},
        "X-Correlation-ID",
    ),
    ("POST", "/v1/items", _with(ITEM, code="SC 2026\t1"), {}, "code"),
    ("POST", "/v1/items", _with(ITEM, name="一\n二"), {}, "name"),
    ("POST", "/v1/items", _with(ITEM, content="\ud800"), {}, "content"),
    ("POST", "/v1/items", _with(ITEM, legal_basis="法" * 4_001), {}, "legal_basis"),
    (
        "POST",
        "/v1/items",
        _with(ITEM, sub_items=[{"code": f"S{i}", "name": "子项"} for i in range(101)]),
        {},
        "sub_items",
    ),
    ("POST", "/v1/items", _with(ITEM, frequency_per_year=10**12), {}, "frequency_per_year"),
    ("POST", "/v1/items", _with(ITEM, methods=["on_site"] * 7), {}, "methods"),
    ("PATCH", "/v1/items/DOOR-1", {"content": "\x00"}, {"headers": {"If-Match": "1"}}, "content"),
    ("POST", "/v1/items/DOOR-1/withdraw", {"reason": "废止\x85"}, {}, "reason"),
    ("GET", "/v1/items/DOOR%001", None, {}, "code"),
    ("GET", "/v1/items/DOOR-1", None, {"params": {"as_of": "9999-12-31"}}, "as_of"),
    # subjects
    ("POST", "/v1/subjects", _with(SUBJECT, name="黄石\u2028商贸"), {}, "name"),
    ("POST", "/v1/subjects", _with(SUBJECT, identifier=USCC + "\x00"), {}, "identifier"),
    ("POST", "/v1/subjects", _with(SUBJECT, address="路" * 501), {}, "address"),
    ("POST", "/v1/subjects", _with(SUBJECT, tags=[f"t{i}" for i in range(101)]), {}, "tags"),
    ("POST", "/v1/subjects", _with(SUBJECT, departments=["SAMR", "税务"]), {}, "departments"),
    (
        "PATCH",
        f"/v1/subjects/{USCC}",
        {"legal_representative": "\x7f"},
        {"headers": {"If-Match": "1"}},
        "legal_representative",
    ),
    ("POST", f"/v1/subjects/{USCC}/status", {"status": "revoked", "reason": "\x00"}, {}, "reason"),
    (
        "POST",
        f"/v1/subjects/{USCC}/risk-class",
        {"risk_class": "D", "reason": "\x07", "effective_on": "2026-05-01"},
        {},
        "reason",
    ),
    (
        "POST",
        f"/v1/subjects/{USCC}/listings",
        {
            "list_name": "serious_violation",
            "listed": True,
            "reason": "",
            "decided_on": "2026-05-01",
        },
        {},
        "reason",
    ),
    ("GET", "/v1/subjects", None, {"params": {"tag": "a\x00"}}, "tag"),
    ("GET", "/v1/subjects", None, {"params": {"limit": 10**12}}, "limit"),
    # inspectors, experts, tags, conflicts, imports
    ("POST", "/v1/inspectors", _with(INSPECTOR, name="张\x00三"), {}, "name"),
    ("POST", "/v1/inspectors", _with(INSPECTOR, specialties=["食品"] * 21), {}, "specialties"),
    ("POST", "/v1/inspectors", _with(INSPECTOR, unit="所" * 101), {}, "unit"),
    (
        "POST",
        f"/v1/inspectors/{SOMEONE}/status",
        {"status": "active", "reason": "\x00"},
        {},
        "reason",
    ),
    ("GET", "/v1/inspectors", None, {"params": {"department": "\x00"}}, "department"),
    (
        "POST",
        "/v1/experts",
        {"field": "食品", "name": "李四", "organisation": "大学\x00"},
        {},
        "organisation",
    ),
    (
        "POST",
        "/v1/tags",
        {"code": "T1", "name": "标签", "department": "SAMR", "description": "\x1b"},
        {},
        "description",
    ),
    ("POST", "/v1/conflicts", _with(CONFLICT, detail="亲属\x00"), {}, "detail"),
    ("POST", "/v1/conflicts", _with(CONFLICT, subject_identifier="\x00"), {}, "subject_identifier"),
    ("POST", "/v1/conflicts/lift", _with(CONFLICT, reason="\x00"), {}, "reason"),
    ("POST", "/v1/imports/subjects", None, {"params": {"filename": "a\x00.csv"}}, "filename"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "extra", "field"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[4]}" for c in CASES],
)
def test_hostile_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.Client,
    infra: Infra,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    extra: dict[str, Any],
    field: str,
) -> None:
    before = stored_events(infra, "registry")
    assert_refused(send(client, method, path, body, **extra), field)
    assert stored_events(infra, "registry") == before


def test_a_command_within_every_field_limit_but_too_big_for_one_event_is_refused(
    client: httpx.Client, infra: Infra
) -> None:
    # CJK Extension B takes 12 bytes per character in the relay's JSON.
    lines = [
        {"code": f"C{n}", "text": "".join(chr(0x20000 + n * 500 + i) for i in range(500))}
        for n in range(60)
    ]
    body = _with(ITEM, code="DOOR-BIG", check_form=lines)
    assert wire_size(body) > MAX_COMMAND_BYTES
    before = stored_events(infra, "registry")
    response = send(client, "POST", "/v1/items", body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "check_form" and error["code"] == "event_too_large"
    assert str(MAX_COMMAND_BYTES) in error["message"]
    assert stored_events(infra, "registry") == before
    assert client.get("/v1/items/DOOR-BIG").status_code == 404


def test_a_csv_in_no_known_encoding_is_an_unreadable_file_not_a_500(
    client: httpx.Client, infra: Infra
) -> None:
    before = stored_events(infra, "registry")
    header = b"identifier,kind,name,region_code,industry,risk_class,address\n"
    rows = b"x,x,x,x,x,x,x\n" * 3
    for body in (
        header + b"\x80\x80\xff,x\n",
        header + rows + b"\xff",
    ):
        answer = client.post("/v1/imports/subjects", params={"filename": "a.csv"}, content=body)
        assert answer.status_code == 422, answer.text
        assert answer.json().get("title") == "Unreadable file", answer.text
    assert stored_events(infra, "registry") == before


def test_hostile_import_files_are_refused_naming_the_limit_and_the_row(
    client: httpx.Client, infra: Infra
) -> None:
    """A ZIP bomb of a million rows, a workbook expanding past a gigabyte, a CSV cell of
    200,000 characters: each a 422 naming the limit and the row, nothing stored."""
    import io
    import zipfile

    before = stored_events(infra, "registry")
    row = b'<row r="1"><c t="inlineStr"><is><t>x</t></is></c></row>'
    sheet = b"<worksheet><sheetData>" + row * 1_000_002 + b"</sheetData></worksheet>"
    bombs = {}
    for name, xml in (("rows", sheet), ("size", b" " * ((1 << 30) + 1))):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/workbook.xml", "<workbook/>")
            archive.writestr("xl/worksheets/sheet1.xml", xml)
        bombs[name] = out.getvalue()
    del sheet
    assert len(bombs["rows"]) < 500_000 and len(bombs["size"]) < 2_000_000
    wide = "identifier,kind,name,region_code,industry,risk_class,address\n" + (
        "x,x," + "长" * 200_000 + ",x,x,x,x\n"
    )
    for body, filename, detail in (
        (bombs["rows"], "a.xlsx", "row 1,000,002 is past the limit of 1,000,000 data rows"),
        (bombs["size"], "b.xlsx", "more than the limit of 1,073,741,824"),
        (wide.encode(), "c.csv", "at row 2: field larger than field limit"),
    ):
        answer = client.post(
            "/v1/imports/subjects", params={"filename": filename}, content=body, timeout=60
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["title"] == "Unreadable file"
        assert detail in answer.json()["detail"], answer.text
    assert stored_events(infra, "registry") == before
