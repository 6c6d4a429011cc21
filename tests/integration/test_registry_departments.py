"""The department register 部门名录 through the registry service (real PostgreSQL and NATS):
the office keeps it, and every write naming a department is checked against it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.builders import (
    department_payload,
    inspector_payload,
    item_payload,
    register_departments,
    subject_payload,
)
from tests.support import Infra, ServiceProcess, token, wait_until

RUN = uuid.uuid4().hex[:6].upper()


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "registry").start()
    register_departments(proc.url, token(infra, "office-1", "OFFICE", "office"), ["SAMR"])
    yield proc
    proc.stop()


def _client(registry: ServiceProcess, infra: Infra, dept: str, role: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, f'{role}-{dept}', dept, role)}"}
    return httpx.Client(base_url=registry.url, headers=auth, timeout=30)


@pytest.fixture(scope="module")
def office(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(registry, infra, "OFFICE", "office") as client:
        yield client


@pytest.fixture(scope="module")
def samr(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(registry, infra, "SAMR", "operator") as client:
        yield client


def _unknown_department(response: httpx.Response, field: str, code: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "Unknown department"
    (error,) = body["errors"]
    assert error["field"] == field and code in error["departments"], body


def test_the_office_registers_lists_changes_and_deactivates_a_department(
    office: httpx.Client, samr: httpx.Client
) -> None:
    code = f"D{RUN}"
    created = office.post("/v1/departments", json=department_payload(code, name="黄石市商务局"))
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"' and created.json()["active"] is True
    assert office.post("/v1/departments", json=department_payload(code)).status_code == 409
    unit = department_payload(f"{code}-LAW", name="执法支队", parent=code)
    assert office.post("/v1/departments", json=unit).status_code == 201

    def listed() -> dict[str, dict] | None:
        rows = {d["code"]: d for d in samr.get("/v1/departments").json()}
        return rows if {code, f"{code}-LAW"} <= set(rows) else None

    rows = wait_until(listed)
    assert rows[code]["name"] == "黄石市商务局" and rows[f"{code}-LAW"]["parent"] == code
    units = samr.get("/v1/departments", params={"parent": code}).json()
    assert [d["code"] for d in units] == [f"{code}-LAW"]

    stale = office.patch(f"/v1/departments/{code}", json={"name": "x"}, headers={"If-Match": "0"})
    assert stale.status_code == 409
    renamed = office.patch(
        f"/v1/departments/{code}",
        json={"name": "黄石市商务局（更名）"},
        headers={"If-Match": '"1"'},
    )
    assert renamed.status_code == 200 and renamed.headers["etag"] == '"2"'
    deactivated = office.patch(
        f"/v1/departments/{code}", json={"active": False}, headers={"If-Match": '"2"'}
    )
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    one = samr.get(f"/v1/departments/{code}").json()
    assert (one["name"], one["active"], one["version"]) == ("黄石市商务局（更名）", False, 3)

    def inactive() -> bool:
        rows = samr.get("/v1/departments", params={"active": "false"}).json()
        return any(d["code"] == code and d["version"] == 3 for d in rows)

    wait_until(inactive)
    # Deactivated, never deleted: no new record may name it.
    refused = office.post("/v1/items", json=item_payload(f"{code}-ITEM", code))
    _unknown_department(refused, "department", code)
    assert "deactivated" in refused.json()["detail"]


def test_only_the_office_keeps_the_register(samr: httpx.Client, office: httpx.Client) -> None:
    assert samr.post("/v1/departments", json=department_payload(f"O{RUN}")).status_code == 403
    assert samr.patch("/v1/departments/SAMR", json={}, headers={"If-Match": "1"}).status_code == 403
    bad = office.post("/v1/departments", json=department_payload("samr-lower"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"
    orphan = office.post("/v1/departments", json=department_payload(f"U{RUN}", parent="NOPE"))
    _unknown_department(orphan, "parent", "NOPE")
    assert office.get(f"/v1/departments/U{RUN}").status_code == 404


def test_writes_naming_an_unknown_department_are_refused_and_store_nothing(
    office: httpx.Client,
) -> None:
    ghost = f"GHOST{RUN}"
    item = office.post("/v1/items", json=item_payload(f"G-{RUN}", ghost))
    _unknown_department(item, "department", ghost)
    assert office.get(f"/v1/items/G-{RUN}").status_code == 404

    inspector = office.post("/v1/inspectors", json=inspector_payload(ghost, 1))
    _unknown_department(inspector, "department", ghost)
    listed = office.get("/v1/inspectors", params={"department": ghost}).json()
    assert listed == []

    subject = subject_payload(random.Random(RUN), departments=["SAMR", ghost])
    _unknown_department(office.post("/v1/subjects", json=subject), "departments", ghost)
    assert office.get(f"/v1/subjects/{subject['identifier']}").status_code == 404

    tag = {"code": f"T{RUN}", "name": "标签", "department": ghost}
    _unknown_department(office.post("/v1/tags", json=tag), "department", ghost)

    # A change of a subject's supervising departments is checked the same way.
    subject["departments"] = ["SAMR"]
    created = office.post("/v1/subjects", json=subject)
    assert created.status_code == 201, created.text
    changed = office.patch(
        f"/v1/subjects/{subject['identifier']}",
        json={"departments": [ghost]},
        headers={"If-Match": created.headers["etag"]},
    )
    _unknown_department(changed, "departments", ghost)
    assert office.get(f"/v1/subjects/{subject['identifier']}").json()["departments"] == ["SAMR"]


def test_a_department_registered_a_moment_ago_is_accepted_at_once(
    office: httpx.Client, registry: ServiceProcess, infra: Infra
) -> None:
    """The check reads the register's events, not its read model: no waiting for lag."""
    for n in range(5):
        code = f"N{RUN}{n}"
        assert office.post("/v1/departments", json=department_payload(code)).status_code == 201
        item = office.post("/v1/items", json=item_payload(f"{code}-1", code))
        assert item.status_code == 201, item.text
        with _client(registry, infra, code, "operator") as operator:
            inspector = operator.post("/v1/inspectors", json=inspector_payload(code, n))
            assert inspector.status_code == 201, inspector.text


def test_a_token_of_a_department_outside_the_register_writes_nothing(
    registry: ServiceProcess, infra: Infra, office: httpx.Client
) -> None:
    stranger = f"S{RUN}"
    with _client(registry, infra, stranger, "operator") as operator:
        refused = operator.post("/v1/inspectors", json=inspector_payload(stranger, 1))
        assert refused.status_code == 403, refused.text
        assert refused.json()["title"] == "Unknown department"
        assert operator.get("/v1/departments").status_code == 200  # reading is not writing
        assert office.post("/v1/departments", json=department_payload(stranger)).status_code == 201
        accepted = operator.post("/v1/inspectors", json=inspector_payload(stranger, 1))
        assert accepted.status_code == 201, accepted.text
        version = office.get(f"/v1/departments/{stranger}").headers["etag"]
        off = office.patch(
            f"/v1/departments/{stranger}", json={"active": False}, headers={"If-Match": version}
        )
        assert off.status_code == 200
        again = operator.post("/v1/inspectors", json=inspector_payload(stranger, 2))
        assert again.status_code == 403


def test_import_rows_naming_unknown_departments_are_row_errors(samr: httpx.Client) -> None:
    rng = random.Random(f"import-{RUN}")
    subjects = [subject_payload(rng, "B", region_code="420204") for _ in range(3)]
    header = "统一社会信用代码,主体类型,名称,行政区划代码,行业,信用风险分类,监管部门\n"
    departments = ["SAMR", f"SAMR;X{RUN}", "SAMR"]
    lines = [
        f"{s['identifier']},营利性,{s['name']},{s['region_code']},{s['industry']},B,{d}"
        for s, d in zip(subjects, departments, strict=True)
    ]
    body = (header + "\n".join(lines)).encode()
    rejected = samr.post("/v1/imports/subjects", params={"filename": "d.csv"}, content=body)
    assert rejected.status_code == 422, rejected.text
    report = rejected.json()
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "departments", "unknown_department")
    ]
    assert f"X{RUN}" in report["errors"][0]["message"]
    for s in subjects:  # all or nothing: not one row stored
        assert samr.get(f"/v1/subjects/{s['identifier']}").status_code == 404
    partial = samr.post(
        "/v1/imports/subjects", params={"filename": "d.csv", "partial": "true"}, content=body
    )
    assert partial.status_code == 200 and partial.json()["rows_applied"] == 2

    people = "部门,执法证号,姓名,执法层级,行政区划代码,可检查事项类别\n"
    rows = [f"SAMR,SAMR-{RUN}-1,张三,县级,420202,一般", f"Y{RUN},Y-{RUN}-1,李四,县级,420202,一般"]
    inspectors = samr.post(
        "/v1/imports/inspectors",
        params={"filename": "p.csv"},
        content=(people + "\n".join(rows)).encode(),
    )
    assert inspectors.status_code == 422, inspectors.text
    errors = inspectors.json()["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (3, "department", "unknown_department")
    ]
    listed = samr.get("/v1/inspectors", params={"department": "SAMR"}).json()
    assert all(i["certificate_no"] != f"SAMR-{RUN}-1" for i in listed)


def test_ssj_token_refuses_a_department_outside_the_register(
    registry: ServiceProcess, infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from libs.common import cli
    from libs.common.auth import decode_token

    dept = f"T{RUN}"
    args = ["token", "--sub", "op-1", "--dept", dept, "--roles", "operator"]
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    assert cli.main(args) == 1
    assert "not an active department" in capsys.readouterr().err
    office = token(infra, "office-1", "OFFICE", "office")
    register_departments(registry.url, office, [dept])
    assert cli.main(args) == 0
    signed = capsys.readouterr().out.strip()
    assert decode_token(infra.settings(), signed).dept == dept
    assert cli.main(["token", "--sub", "o", "--dept", "OFFICE", "--roles", "office"]) == 0
    # No database to ask (a laptop without the stack): signed, with a warning.
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/postgres")
    assert cli.main([*args[:4], "NOPE", *args[5:]]) == 0
    assert "cannot reach the database" in capsys.readouterr().err
