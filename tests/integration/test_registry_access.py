"""Issue 11: each department writes only its own registry records, through the real
registry service with real tokens, PostgreSQL and NATS (services/registry/domain/writing.py).

Subjects are written by the departments supervising them or the office; a department's
bulk import stays within the department; a full sync is the office's and names its scope;
an id of another type of record is a 404; inspector ids are not derivable from
certificate numbers.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.builders import inspector_payload, item_payload, register_departments, subject_payload
from tests.support import Infra, ServiceProcess, token

RUN = uuid.uuid4().hex[:6].upper()
# The namespace of the registry's name-based ids (services/registry/domain/ids.py).
NAMESPACE = uuid.UUID("5f3c8e0a-7d1b-4c52-9a8e-2b6f0d4e1a77")
SUBJECT_HEADER = "统一社会信用代码,主体类型,名称,行政区划代码,行业,信用风险分类,监管部门\n"
PEOPLE_HEADER = "部门,执法证号,姓名,执法层级,行政区划代码,可检查事项类别,状态,电话\n"


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "registry").start()
    register_departments(proc.url, token(infra, "office-1", "OFFICE", "office"), ["SAMR", "TAX"])
    yield proc
    proc.stop()


def _client(registry: ServiceProcess, bearer: str) -> httpx.Client:
    return httpx.Client(
        base_url=registry.url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30
    )


@pytest.fixture(scope="module")
def office(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(registry, token(infra, "office-1", "OFFICE", "office")) as c:
        yield c


@pytest.fixture(scope="module")
def samr(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(registry, token(infra, "op-samr", "SAMR", "operator")) as c:
        yield c


@pytest.fixture(scope="module")
def tax(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(registry, token(infra, "op-tax", "TAX", "operator")) as c:
        yield c


def _forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def _subject(client: httpx.Client, seed: str, departments: list[str]) -> dict:
    payload = subject_payload(random.Random(f"{seed}-{RUN}"), "B", departments=departments)
    created = client.post("/v1/subjects", json=payload)
    assert created.status_code == 201, created.text
    return created.json()


def _row(subject: dict, risk_class: str, departments: str) -> str:
    """A line of a subject import file (SUBJECT_HEADER's columns)."""
    cells = [subject[k] for k in ("identifier", "name", "region_code", "industry")]
    return ",".join([cells[0], "营利性", *cells[1:], risk_class, departments])


DECISIONS = {
    "status": {"status": "revoked", "reason": "吊销营业执照"},
    "listings": {
        "list_name": "serious_violation",
        "listed": True,
        "reason": "列入严重违法失信名单",
        "decided_on": "2026-01-05",
    },
    "risk-class": {"risk_class": "D", "reason": "信用风险高", "effective_on": "2026-01-05"},
}


def test_another_departments_operator_changes_nothing_of_a_subject(
    samr: httpx.Client, tax: httpx.Client
) -> None:
    subject = _subject(samr, "other", ["SAMR"])
    key = subject["identifier"]
    patch = tax.patch(
        f"/v1/subjects/{key}",
        json={"name": "税务改过的名称", "departments": ["TAX"]},
        headers={"If-Match": '"1"'},
    )
    _forbidden(patch)
    for path, body in DECISIONS.items():
        _forbidden(tax.post(f"/v1/subjects/{key}/{path}", json=body))
    stored = samr.get(f"/v1/subjects/{key}").json()
    assert stored["version"] == 1
    assert (stored["name"], stored["departments"], stored["status"]) == (
        subject["name"],
        ["SAMR"],
        "operating",
    )
    assert (stored["serious_violation"], stored["risk_class"]) == (False, "B")
    assert [e["type"] for e in samr.get(f"/v1/subjects/{key}/history").json()] == [
        "SubjectRegistered"
    ]


def test_a_supervising_department_and_the_office_take_the_subjects_decisions(
    samr: httpx.Client, office: httpx.Client
) -> None:
    key = _subject(samr, "own", ["SAMR"])["identifier"]
    assert samr.post(f"/v1/subjects/{key}/listings", json=DECISIONS["listings"]).status_code == 200
    assert office.post(f"/v1/subjects/{key}/risk-class", json=DECISIONS["risk-class"]).is_success
    revoked = samr.post(f"/v1/subjects/{key}/status", json=DECISIONS["status"])
    assert revoked.status_code == 200, revoked.text
    stored = revoked.json()
    assert (stored["status"], stored["serious_violation"], stored["risk_class"]) == (
        "revoked",
        True,
        "D",
    )


def test_a_department_adds_departments_but_takes_the_subject_from_no_other(
    samr: httpx.Client, tax: httpx.Client, office: httpx.Client
) -> None:
    key = _subject(samr, "joint", ["SAMR", "TAX"])["identifier"]
    _forbidden(
        tax.patch(f"/v1/subjects/{key}", json={"departments": ["TAX"]}, headers={"If-Match": '"1"'})
    )
    # TAX supervises it too, so it changes its fields and may step back itself.
    renamed = tax.patch(
        f"/v1/subjects/{key}", json={"address": "黄石市某路1号"}, headers={"If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    left = tax.patch(
        f"/v1/subjects/{key}", json={"departments": ["SAMR"]}, headers={"If-Match": '"2"'}
    )
    assert left.status_code == 200 and left.json()["departments"] == ["SAMR"]
    # Now it is SAMR's alone: TAX no longer writes it, and SAMR cannot orphan it.
    _forbidden(tax.post(f"/v1/subjects/{key}/status", json=DECISIONS["status"]))
    _forbidden(
        samr.patch(f"/v1/subjects/{key}", json={"departments": []}, headers={"If-Match": '"3"'})
    )
    moved = office.patch(
        f"/v1/subjects/{key}", json={"departments": ["TAX"]}, headers={"If-Match": '"3"'}
    )
    assert moved.status_code == 200 and moved.json()["departments"] == ["TAX"]


def test_a_department_registers_only_subjects_it_supervises(
    tax: httpx.Client, samr: httpx.Client
) -> None:
    payload = subject_payload(random.Random(f"register-{RUN}"), "A", departments=["SAMR"])
    _forbidden(tax.post("/v1/subjects", json=payload))
    assert samr.get(f"/v1/subjects/{payload['identifier']}").status_code == 404


def test_a_token_without_a_department_writes_no_subject(
    registry: ServiceProcess, infra: Infra, samr: httpx.Client
) -> None:
    key = _subject(samr, "nodept", ["SAMR"])["identifier"]
    settings = infra.settings()
    now = int(time.time())
    for dept in ("", None):
        claims = {
            "sub": "op-nobody",
            "dept": dept,
            "roles": ["operator"],
            "iss": settings.jwt_issuer,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        bearer = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
        with _client(registry, bearer) as nobody:
            answer = nobody.post(
                f"/v1/subjects/{key}/status", json={"status": "cancelled", "reason": "x"}
            )
        assert answer.status_code in (401, 403), answer.text
    assert samr.get(f"/v1/subjects/{key}").json()["status"] == "operating"


def test_an_import_of_another_departments_inspectors_changes_none_of_them(
    samr: httpx.Client, tax: httpx.Client
) -> None:
    real = inspector_payload("SAMR", 900, certificate_no=f"SAMR-{RUN}-900")
    created = samr.post("/v1/inspectors", json=real)
    assert created.status_code == 201, created.text
    rows = [
        f"SAMR,{real['certificate_no']},冒名顶替,县级,420202,一般;重点,暂停,13999999999",
        f"SAMR,SAMR-{RUN}-FAKE,假检查员,县级,420202,一般;重点,在岗,13999999998",
        f"TAX,TAX-{RUN}-1,税务检查员,县级,420202,一般,在岗,13900000001",
    ]
    body = (PEOPLE_HEADER + "\n".join(rows)).encode()
    rejected = tax.post("/v1/imports/inspectors", params={"filename": "p.csv"}, content=body)
    assert rejected.status_code == 422, rejected.text
    errors = [(e["row"], e["column"], e["code"]) for e in rejected.json()["errors"]]
    assert errors == [
        (2, "department", "department_forbidden"),
        (3, "department", "department_forbidden"),
    ]
    partial = tax.post(
        "/v1/imports/inspectors", params={"filename": "p.csv", "partial": "true"}, content=body
    )
    assert partial.status_code == 200 and partial.json()["rows_applied"] == 1
    mine = samr.get("/v1/inspectors", params={"department": "SAMR", "limit": 1000}).json()
    (stored,) = [i for i in mine if i["id"] == created.json()["id"]]
    assert (stored["name"], stored["status"]) == (real["name"], "active")
    assert all(i["certificate_no"] != f"SAMR-{RUN}-FAKE" for i in mine)


def test_an_import_touches_no_subject_of_another_department(
    samr: httpx.Client, tax: httpx.Client
) -> None:
    theirs = _subject(samr, "import-theirs", ["SAMR"])
    joint = _subject(samr, "import-joint", ["SAMR", "TAX"])
    new = subject_payload(random.Random(f"import-new-{RUN}"), "C", region_code="420205")
    lines = [
        _row({**theirs, "name": "改名"}, "D", "SAMR;TAX"),
        _row(joint, "D", "TAX"),
        _row(new, "C", "SAMR"),
    ]
    body = (SUBJECT_HEADER + "\n".join(lines)).encode()
    rejected = tax.post("/v1/imports/subjects", params={"filename": "s.csv"}, content=body)
    assert rejected.status_code == 422, rejected.text
    errors = [(e["row"], e["column"], e["code"]) for e in rejected.json()["errors"]]
    assert sorted(errors) == [
        (2, "departments", "department_forbidden"),
        (3, "departments", "department_forbidden"),
        (4, "departments", "department_forbidden"),
    ]
    for subject in (theirs, joint):
        stored = samr.get(f"/v1/subjects/{subject['identifier']}").json()
        assert (stored["version"], stored["risk_class"]) == (1, "B")
    assert samr.get(f"/v1/subjects/{new['identifier']}").status_code == 404
    # A row that keeps SAMR and adds nothing it may not is TAX's to import.
    own = _row(joint, "C", "SAMR;TAX")
    applied = tax.post(
        "/v1/imports/subjects",
        params={"filename": "s.csv"},
        content=(SUBJECT_HEADER + own).encode(),
    )
    assert applied.status_code == 200, applied.text
    assert samr.get(f"/v1/subjects/{joint['identifier']}").json()["risk_class"] == "C"


def test_a_full_sync_is_the_offices_and_names_its_scope(
    samr: httpx.Client, office: httpx.Client
) -> None:
    kept = _subject(samr, "sync-kept", ["SAMR"])
    absent = subject_payload(random.Random(f"sync-absent-{RUN}"), "B", region_code="420281")
    assert samr.post("/v1/subjects", json=absent).status_code == 201
    row = _row(kept, "B", "SAMR")
    body = (SUBJECT_HEADER + row).encode()
    params = {"filename": "s.csv", "mark_missing": "deregistered"}
    _forbidden(
        samr.post("/v1/imports/subjects", params={**params, "scope": "420281"}, content=body)
    )
    empty = office.post("/v1/imports/subjects", params=params, content=body)
    assert empty.status_code == 422, empty.text
    assert samr.get(f"/v1/subjects/{absent['identifier']}").json()["status"] == "operating"
    synced = office.post("/v1/imports/subjects", params={**params, "scope": "420281"}, content=body)
    assert synced.status_code == 200, synced.text
    assert samr.get(f"/v1/subjects/{absent['identifier']}").json()["status"] == "deregistered"


def test_an_id_of_another_type_of_record_is_no_inspector(samr: httpx.Client) -> None:
    code = f"T-{RUN}-TYPE"
    item = samr.post("/v1/items", json=item_payload(code, "SAMR"))
    assert item.status_code == 201, item.text
    item_id = item.json()["id"]
    subject = _subject(samr, "typed", ["SAMR"])
    declared = samr.post(
        "/v1/conflicts",
        json={
            "inspector_id": item_id,
            "subject_identifier": subject["identifier"],
            "reason": "relative",
            "declared_on": "2026-01-05",
        },
    )
    assert declared.status_code == 404, declared.text
    assert declared.headers["content-type"].startswith("application/problem+json")
    status = samr.post(
        f"/v1/inspectors/{item_id}/status", json={"status": "suspended", "reason": "x"}
    )
    assert status.status_code == 404, status.text
    assert samr.get(f"/v1/items/{code}").json()["version"] == 1


def test_an_inspector_id_is_not_derivable_from_the_certificate_number(
    samr: httpx.Client,
) -> None:
    payload = inspector_payload("SAMR", 901, certificate_no=f"SAMR-{RUN}-901")
    created = samr.post("/v1/inspectors", json=payload)
    assert created.status_code == 201, created.text
    public_id = uuid.UUID(created.json()["id"])
    guessed = uuid.uuid5(NAMESPACE, f"inspector:SAMR:{payload['certificate_no']}")
    assert public_id != guessed
    # Re-importing the same inspector still finds the same record: no duplicate.
    row = f"SAMR,{payload['certificate_no']},{payload['name']},县级,420202,一般;重点,在岗,"
    again = samr.post(
        "/v1/imports/inspectors",
        params={"filename": "p.csv"},
        content=(PEOPLE_HEADER + row).encode(),
    )
    assert again.status_code == 200, again.text
    # Every page: other modules of the session register SAMR inspectors too.
    listed: list[dict] = []
    for offset in range(0, 100_000, 1000):
        page = samr.get(
            "/v1/inspectors", params={"department": "SAMR", "limit": 1000, "offset": offset}
        ).json()
        listed += page
        if len(page) < 1000:
            break
    assert [i["id"] for i in listed if i["certificate_no"] == payload["certificate_no"]] == [
        str(public_id)
    ]
