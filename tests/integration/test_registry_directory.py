"""Subject and inspector directories through the registry API (real PostgreSQL and NATS)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.builders import (
    department_payload,
    inspector_payload,
    register_departments,
    subject_payload,
)
from tests.support import Infra, ServiceProcess, token, wait_until


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "registry").start()
    register_departments(proc.url, token(infra, "office-1", "OFFICE", "office"), ["SAMR", "TAX"])
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {token(infra, 'op-tax', 'TAX', 'operator')}"}
    with httpx.Client(base_url=registry.url, headers=auth, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def office(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {token(infra, 'office-1', 'OFFICE', 'office')}"}
    with httpx.Client(base_url=registry.url, headers=auth, timeout=10) as c:
        yield c


def tax_subject(rng: random.Random, *args: Any, **overrides: Any) -> dict:
    """A subject TAX supervises (the client is TAX's operator: it writes its own)."""
    return subject_payload(rng, *args, **{"departments": ["TAX"], **overrides})


def test_tags_must_come_from_the_dictionary(client: httpx.Client) -> None:
    payload = tax_subject(random.Random(11), tags=["TAX.KEY"])
    rejected = client.post("/v1/subjects", json=payload)
    assert rejected.status_code == 422 and "TAX.KEY" in rejected.json()["detail"]
    tag = {"code": "TAX.KEY", "name": "重点税源企业", "department": "TAX"}
    assert client.post("/v1/tags", json=tag).status_code == 201
    other = {"code": "SAMR.FOOD", "name": "食品经营", "department": "SAMR"}
    assert client.post("/v1/tags", json=other).status_code == 403
    assert client.post("/v1/subjects", json=payload).status_code == 201


def test_filters_and_counts_per_risk_class_follow_every_change(client: httpx.Client) -> None:
    rng = random.Random(12)
    # A county no builder picks at random (樊城区): other modules' subjects share the database.
    made = [
        tax_subject(rng, cls, region_code="420606", industry="C13") for cls in ("A", "A", "B", "C")
    ]
    for payload in made:
        assert client.post("/v1/subjects", json=payload).status_code == 201
    params = {"region_prefix": "420606", "industry": "C13"}

    def counts() -> dict | None:
        body = client.get("/v1/subjects-count", params=params).json()
        return body if body["total"] == 4 else None

    assert wait_until(counts)["per_risk_class"] == {"A": 2, "B": 1, "C": 1, "D": 0}

    target = made[0]["identifier"]
    reclass = {"risk_class": "D", "reason": "抽查发现严重问题", "effective_on": "2026-05-01"}
    assert client.post(f"/v1/subjects/{target}/risk-class", json=reclass).status_code == 200
    listing = {
        "list_name": "abnormal_operation",
        "listed": True,
        "reason": "未按时公示年报",
        "decided_on": "2026-06-01",
    }
    assert client.post(f"/v1/subjects/{target}/listings", json=listing).status_code == 200

    def moved() -> bool:
        per_class = client.get("/v1/subjects-count", params=params).json()["per_risk_class"]
        listed = client.get("/v1/subjects", params={**params, "abnormal_operation": "true"}).json()[
            "items"
        ]
        return per_class["D"] == 1 and [s["identifier"] for s in listed] == [target]

    assert wait_until(moved)
    subject = client.get(f"/v1/subjects/{target}").json()
    assert subject["risk_history"][0]["to"] == "D"
    types = [e["type"] for e in client.get(f"/v1/subjects/{target}/history").json()]
    assert types == ["SubjectRegistered", "RiskClassChanged", "SubjectListingChanged"]


def test_keyset_pages_cover_every_subject_once(client: httpx.Client) -> None:
    rng = random.Random(13)
    for _ in range(7):
        body = tax_subject(rng, "B", region_code="420205")
        assert client.post("/v1/subjects", json=body).status_code == 201
    wait_until(
        lambda: (
            client.get("/v1/subjects-count", params={"region_prefix": "420205"}).json()["total"]
            >= 7
        )
    )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"region_prefix": "420205", "limit": 3}
        if cursor:
            params["after"] = cursor
        page = client.get("/v1/subjects", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 7


def test_concurrent_edits_of_one_subject_conflict(client: httpx.Client) -> None:
    payload = tax_subject(random.Random(14))
    created = client.post("/v1/subjects", json=payload)
    etag = created.headers["etag"]
    url = f"/v1/subjects/{payload['identifier']}"
    first = client.patch(url, json={"address": "新地址1号"}, headers={"If-Match": etag})
    second = client.patch(url, json={"address": "新地址2号"}, headers={"If-Match": etag})
    assert first.status_code == 200
    assert second.status_code == 409


def test_unknown_region_is_rejected_by_the_code_table(client: httpx.Client) -> None:
    response = client.post(
        "/v1/subjects", json=tax_subject(random.Random(15), region_code="429999")
    )
    assert response.status_code == 422
    assert "429999" in response.json()["detail"]


def test_conflicts_of_interest_are_declared_listed_and_lifted(client: httpx.Client) -> None:
    inspector = client.post("/v1/inspectors", json=inspector_payload("TAX", 901)).json()
    subject = tax_subject(random.Random(16))
    subject_id = client.post("/v1/subjects", json=subject).json()["id"]
    declared = client.post(
        "/v1/conflicts",
        json={
            "inspector_id": inspector["id"],
            "subject_identifier": subject["identifier"],
            "reason": "relative",
            "detail": "配偶任该公司监事",
            "declared_on": "2026-03-01",
        },
    )
    assert declared.status_code == 201 and declared.json()["active"] is True

    def listed() -> list:
        return client.get("/v1/conflicts", params={"subject_id": subject_id}).json()

    assert wait_until(listed)[0]["reason"] == "relative"
    lift = {
        "inspector_id": inspector["id"],
        "subject_identifier": subject["identifier"],
        "reason": "关系已解除",
    }
    assert client.post("/v1/conflicts/lift", json=lift).json()["active"] is False
    assert wait_until(lambda: not listed()[0]["active"])


def test_inspector_status_and_contact_stay_internal(client: httpx.Client) -> None:
    created = client.post("/v1/inspectors", json=inspector_payload("TAX", 902)).json()
    assert "contact" not in created
    changed = client.post(
        f"/v1/inspectors/{created['id']}/status",
        json={"status": "suspended", "reason": "借调"},
    )
    assert changed.status_code == 200 and changed.json()["status"] == "suspended"


def test_import_over_http_reports_json_or_csv(client: httpx.Client, office: httpx.Client) -> None:
    rng = random.Random(17)
    subjects = [tax_subject(rng, "C") for _ in range(3)]
    header = "统一社会信用代码,主体类型,名称,行政区划代码,行业,信用风险分类,监管部门\n"
    lines = [
        f"{s['identifier']},营利性,{s['name']},{s['region_code']},{s['industry']},C,TAX"
        for s in subjects
    ]
    body = (header + "\n".join(lines)).encode()
    applied = client.post("/v1/imports/subjects", params={"filename": "a.csv"}, content=body)
    assert applied.status_code == 200, applied.text
    assert applied.json()["events_written"] == 3

    broken = (header + lines[0].replace(",C", ",Z")).encode()
    rejected = client.post(
        "/v1/imports/subjects", params={"filename": "b.csv", "format": "csv"}, content=broken
    )
    assert rejected.status_code == 422
    assert rejected.headers["content-type"].startswith("text/csv")
    assert rejected.text.splitlines()[1].startswith("2,risk_class,invalid_choice")

    # A full sync over HTTP: the one subject of 110108 (海淀区) left out is marked.
    region = [tax_subject(rng, "B", region_code="110108") for _ in range(2)]
    rows = [
        f"{s['identifier']},营利性,{s['name']},{s['region_code']},{s['industry']},B,TAX"
        for s in region
    ]
    assert (
        client.post(
            "/v1/imports/subjects",
            params={"filename": "c.csv"},
            content=(header + "\n".join(rows)).encode(),
        ).json()["events_written"]
        == 2
    )
    sync = office.post(
        "/v1/imports/subjects",
        params={"filename": "d.csv", "mark_missing": "cancelled", "scope": "110108"},
        content=(header + rows[0]).encode(),
    )
    assert sync.status_code == 200, sync.text
    assert sync.json()["missing_marked"] == 1
    assert client.get(f"/v1/subjects/{region[1]['identifier']}").json()["status"] == "cancelled"
    for params in ({"mark_missing": "operating"}, {"mark_missing": "revoked", "scope": "42x"}):
        bad = office.post(
            "/v1/imports/subjects", params={"filename": "e.csv", **params}, content=body
        )
        assert bad.status_code == 422, params
    wrong_kind = office.post(
        "/v1/imports/inspectors",
        params={"filename": "f.csv", "mark_missing": "revoked"},
        content=body,
    )
    assert wrong_kind.status_code == 422


def test_units_are_registered_changed_and_listed(
    client: httpx.Client, office: httpx.Client
) -> None:
    """所所交叉 needs the inspector's unit and the subject's supervising unit: codes of
    units (所) of the department register, never typed names (one unit, one spelling)."""
    unit, other = "420281-TAX-1", "420281-TAX-2"
    named = client.post(
        "/v1/inspectors", json=inspector_payload("TAX", 902, unit="黄石市税务局第一分局")
    )
    assert named.status_code == 422, named.text  # a name, not a code
    unknown = client.post("/v1/inspectors", json=inspector_payload("TAX", 902, unit=unit))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "unit"
    for code in (unit, other):  # the office registers the units under their department
        answer = office.post("/v1/departments", json=department_payload(code, parent="TAX"))
        assert answer.status_code in (201, 409), answer.text
    inspector = client.post("/v1/inspectors", json=inspector_payload("TAX", 903, unit=unit))
    assert inspector.status_code == 201 and inspector.json()["unit"] == unit
    plain = client.post("/v1/inspectors", json=inspector_payload("TAX", 904)).json()
    assert plain["unit"] == ""

    def listed_inspectors() -> dict[str, str] | None:
        rows = client.get("/v1/inspectors", params={"department": "TAX"}).json()
        units = {r["id"]: r["unit"] for r in rows}
        return units if plain["id"] in units else None

    units = wait_until(listed_inspectors)
    assert (units[inspector.json()["id"]], units[plain["id"]]) == (unit, "")

    payload = tax_subject(random.Random(18), region_code="420281", supervising_unit=unit)
    refused = client.post("/v1/subjects", json={**payload, "supervising_unit": "420281-TAX-9"})
    assert refused.status_code == 422 and "supervising_unit" in refused.text
    created = client.post("/v1/subjects", json=payload)
    assert created.status_code == 201 and created.json()["supervising_unit"] == unit
    url = f"/v1/subjects/{payload['identifier']}"
    etag = created.headers["etag"]
    changed = client.patch(url, json={"supervising_unit": other}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["supervising_unit"] == other
    last = client.get(f"{url}/history").json()[-1]
    assert (last["type"], last["data"]["changes"]) == (
        "SubjectChanged",
        {"supervising_unit": other},
    )

    def listed_subject() -> dict | None:
        page = client.get("/v1/subjects", params={"region_prefix": "420281"}).json()
        found = [s for s in page["items"] if s["identifier"] == payload["identifier"]]
        return found[0] if found and found[0]["version"] == 2 else None

    assert wait_until(listed_subject)["supervising_unit"] == other


def test_a_service_reads_a_large_import_in_a_second_process(infra: Infra) -> None:
    """The registry service (uvicorn, threads) spawns the reading process; here every file
    counts as large."""
    proc = ServiceProcess(infra, "registry", SSJ_IMPORT_PARALLEL_BYTES="0").start()
    register_departments(proc.url, token(infra, "office-1", "OFFICE", "office"), ["SAMR", "TAX"])
    auth = {"Authorization": f"Bearer {token(infra, 'op-tax', 'TAX', 'operator')}"}
    try:
        with httpx.Client(base_url=proc.url, headers=auth, timeout=60) as client:
            rng = random.Random(18)
            subjects = [tax_subject(rng, "A", region_code="110114") for _ in range(3)]
            header = "统一社会信用代码,主体类型,名称,行政区划代码,行业,信用风险分类,监管部门\n"
            lines = [
                f"{s['identifier']},营利性,{s['name']},{s['region_code']},{s['industry']},A,TAX"
                for s in subjects
            ]
            lines.append(lines[0])  # a duplicate, reported like any other error
            body = (header + "\n".join(lines)).encode()
            partial = client.post(
                "/v1/imports/subjects",
                params={"filename": "big.csv", "partial": "true"},
                content=body,
            )
            assert partial.status_code == 200, partial.text
            assert partial.json()["events_written"] == 3
            assert [(e["row"], e["code"]) for e in partial.json()["errors"]] == [(5, "duplicate")]
            unreadable = client.post(
                "/v1/imports/subjects", params={"filename": "big.xlsx"}, content=b"not a workbook"
            )
            assert unreadable.status_code == 422
            assert unreadable.json()["title"] == "Unreadable file"
    finally:
        proc.stop()
