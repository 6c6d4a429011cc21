"""What every answer of a service says besides its body, and how lists and the registry's
conflict records are read (issue 11, points 4, 8 and 9), through the registry as a real
process (``python -m services.registry.main``, uvicorn as deployed) on real PostgreSQL and
NATS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from tests.builders import inspector_payload, register_departments, subject_payload
from tests.integration.door import assert_refused
from tests.support import Infra, ServiceProcess, token, wait_until

RUN = uuid.uuid4().hex[:6]
DETAIL = "配偶为该公司法定代表人"


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "registry").start()
    register_departments(proc.url, token(infra, "office", "OFFICE", "office"), ["SAMR", "TAX"])
    yield proc
    proc.stop()


def _client(url: str, infra: Infra, sub: str, dept: str, *roles: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}
    return httpx.Client(base_url=url, headers=auth, timeout=30)


@pytest.fixture(scope="module")
def conflict(registry: ServiceProcess, infra: Infra) -> dict[str, str]:
    """A SAMR inspector's declared conflict of interest, with a private detail."""
    import random

    with _client(registry.url, infra, "op-samr", "SAMR", "operator") as samr:
        inspector = samr.post("/v1/inspectors", json=inspector_payload("SAMR", 7301)).json()
        subject = subject_payload(random.Random(RUN))
        subject_id = samr.post("/v1/subjects", json=subject).json()["id"]
        declared = samr.post(
            "/v1/conflicts",
            json={
                "inspector_id": inspector["id"],
                "subject_identifier": subject["identifier"],
                "reason": "relative",
                "detail": DETAIL,
                "declared_on": date.today().isoformat(),
            },
        )
        assert declared.status_code == 201, declared.text
        wait_until(lambda: samr.get("/v1/conflicts", params={"subject_id": subject_id}).json())
    return {"inspector": inspector["id"], "subject": subject_id}


def test_an_unassigned_inspector_of_another_department_reads_no_conflict_record(
    registry: ServiceProcess, infra: Infra, conflict: dict[str, str]
) -> None:
    for who in (
        ("insp-tax", "TAX", "inspector"),
        ("insp-samr-colleague", "SAMR", "inspector"),
        ("op-tax", "TAX", "operator"),
    ):
        with _client(registry.url, infra, *who) as reader:
            listed = reader.get("/v1/conflicts", params={"subject_id": conflict["subject"]})
            assert listed.status_code == 200
            assert listed.json() == [] and DETAIL not in listed.text, who
            assert DETAIL not in reader.get("/v1/conflicts", params={"limit": 1000}).text


def test_the_department_the_inspector_the_office_and_auditors_read_it(
    registry: ServiceProcess, infra: Infra, conflict: dict[str, str]
) -> None:
    for who in (
        ("op-samr", "SAMR", "operator"),
        (conflict["inspector"], "SAMR", "inspector"),
        ("office", "OFFICE", "office"),
        ("audit", "OFFICE", "auditor"),
    ):
        with _client(registry.url, infra, *who) as reader:
            listed = reader.get("/v1/conflicts", params={"subject_id": conflict["subject"]})
            assert [r["detail"] for r in listed.json()] == [DETAIL], who


def test_lists_are_paged_with_a_link_to_the_next_page(
    registry: ServiceProcess, infra: Infra
) -> None:
    with _client(registry.url, infra, "op-tax", "TAX", "operator") as tax:
        for n in range(3):
            body = {"code": f"TAX-P{RUN}-{n}", "name": f"分页标签{n}", "department": "TAX"}
            assert tax.post("/v1/tags", json=body).status_code == 201

        def everything() -> list[str]:
            codes = [t["code"] for t in tax.get("/v1/tags", params={"limit": 1000}).json()]
            return codes if sum(c.startswith(f"TAX-P{RUN}") for c in codes) == 3 else []

        codes = wait_until(everything)
        first = tax.get("/v1/tags", params={"limit": 2})
        assert [t["code"] for t in first.json()] == codes[:2]
        link = first.links["next"]["url"]
        assert link.startswith("/v1/tags?") and "offset=2" in link and "limit=2" in link
        second = tax.get(link)
        assert [t["code"] for t in second.json()] == codes[2:4]
        last = tax.get("/v1/tags", params={"limit": 1000})
        assert "link" not in last.headers
        assert len(tax.get("/v1/tags").json()) == min(len(codes), 100)  # the default page
        for path in ("/v1/items", "/v1/inspectors", "/v1/conflicts", "/v1/tags", "/v1/experts"):
            assert_refused(tax.get(path, params={"limit": 1001}), "limit")
            assert_refused(tax.get(path, params={"offset": 100_001}), "offset")


def test_every_answer_carries_the_security_headers_and_no_server_banner(
    registry: ServiceProcess, infra: Infra
) -> None:
    with _client(registry.url, infra, "op-tax", "TAX", "operator") as tax:
        answers = [
            tax.get("/v1/tags"),
            tax.get("/v1/subjects/nobody"),  # a problem answer
            httpx.get(f"{registry.url}/v1/tags"),  # 401
            httpx.get(f"{registry.url}/healthz"),
        ]
    for answer in answers:
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", answer.request.url
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert "server" not in headers
    docs = httpx.get(f"{registry.url}/docs")
    assert docs.status_code == 200
    assert (
        "script-src 'unsafe-inline' https://cdn.jsdelivr.net"
        in docs.headers["content-security-policy"]
    )


def test_readyz_tells_anyone_the_status_and_only_the_office_or_auditors_the_details(
    registry: ServiceProcess, infra: Infra
) -> None:
    anonymous = httpx.get(f"{registry.url}/readyz")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready"}
    forged = httpx.get(f"{registry.url}/readyz", headers={"Authorization": "Bearer x.y.z"})
    assert forged.json() == {"status": "ready"}
    for who, details in (
        (("op-tax", "TAX", "operator"), False),
        (("office", "OFFICE", "office"), True),
        (("audit", "OFFICE", "auditor"), True),
    ):
        with _client(registry.url, infra, *who) as reader:
            answer = reader.get("/readyz").json()
        assert ("checks" in answer) is details, who
        if details:
            assert answer["checks"]["database"] == "ok" and "relay_lag" in answer["checks"]


def test_an_unknown_field_is_a_422_naming_it(registry: ServiceProcess, infra: Infra) -> None:
    with _client(registry.url, infra, "op-tax", "TAX", "operator") as tax:
        body = {"code": f"TAX-T{RUN}", "name": "拼写", "department": "TAX", "descripton": "x"}
        refused = tax.post("/v1/tags", json=body)
        assert_refused(refused, "descripton")
        assert refused.json()["errors"][0]["code"] == "extra_forbidden"
        inspector = inspector_payload("TAX", 7302, departmnet="SAMR")
        assert_refused(tax.post("/v1/inspectors", json=inspector), "departmnet")
