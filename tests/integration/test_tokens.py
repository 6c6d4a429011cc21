"""Tokens (issue 11, point 6) through the real registry, results and disclosure services.

- A token valid for a century, one without ``iat``, unknown roles (``superadmin``,
  ``system``) and an empty, null or missing ``dept`` are refused with 401 by every service.
- A department outside the register (部门名录) records no result (403) until the office
  registers it: the results service knows the register from the registry stream.
- The office revokes a token by its ``jti``; every service then refuses it (401).
- A result is disclosed under the draw's department, never the recorder's token's.

The draw service is not started: the test publishes the draw's CloudEvents itself, as its
relay would (see test_results_service.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from tests.builders import register_departments
from tests.integration.draw_events import publish_draw
from tests.integration.register_events import wait_for_departments
from tests.integration.task_flow import report, tasks_of
from tests.support import Infra, ServiceProcess, token, wait_until

# It fakes other services' events on their streams (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra

RUN = uuid.uuid4().hex[:6].upper()
YEAR = 365 * 24 * 3600
_MISSING = object()


@pytest.fixture(scope="module")
def procs(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    names = ("registry", "results", "disclosure")
    started = {n: ServiceProcess(infra, n).start(wait=False) for n in names}
    try:
        for proc in started.values():
            proc.wait_ready()
        office = token(infra, "office-1", "OFFICE", "office")
        register_departments(started["registry"].url, office, ["SAMR", "TAX"])
        wait_for_departments(infra, "results", ["SAMR", "TAX"])
        yield started
    finally:
        for proc in started.values():
            proc.stop()


def _bearer(signed: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed}"}


def _raw(infra: Infra, **overrides: object) -> str:
    """A token signed with the services' secret, claims as given (``_MISSING``: left out)."""
    settings = infra.settings()
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "op-samr",
        "dept": "SAMR",
        "roles": ["operator"],
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    kept = {k: v for k, v in claims.items() if v is not _MISSING}
    return jwt.encode(kept, settings.jwt_secret, algorithm="HS256")


FAULTS: dict[str, dict[str, object]] = {
    "valid-for-a-century": {"exp": int(time.time()) + 100 * YEAR},
    "no-iat": {"iat": _MISSING},
    "no-jti": {"jti": _MISSING},
    "role-superadmin": {"roles": ["superadmin"]},
    "role-system": {"roles": ["system"]},
    "no-roles": {"roles": []},
    "operator-dept-empty": {"dept": ""},
    "operator-dept-null": {"dept": None},
    "operator-dept-missing": {"dept": _MISSING},
    "inspector-dept-empty": {"roles": ["inspector"], "dept": ""},
    "office-dept-empty": {"roles": ["office"], "dept": ""},
    "office-dept-null": {"roles": ["office"], "dept": None},
}
READS = {"registry": "/v1/departments", "results": "/v1/assignments"}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_token_is_refused_by_every_service(
    procs: dict[str, ServiceProcess], infra: Infra, fault: str
) -> None:
    faulty = _raw(infra, **FAULTS[fault])
    for service, path in READS.items():
        answer = httpx.get(procs[service].url + path, headers=_bearer(faulty))
        assert answer.status_code == 401, (service, answer.text)
        assert answer.json()["title"] == "Unauthorized"
    sound = _raw(infra)
    for service, path in READS.items():
        assert httpx.get(procs[service].url + path, headers=_bearer(sound)).status_code == 200


def test_a_department_outside_the_register_records_no_result_until_registered(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    stranger = f"G{RUN}"
    event = publish_draw(infra, "2026-09-30", initiating_department=stranger)
    auth = _bearer(token(infra, f"op-{stranger}", stranger, "operator"))
    with httpx.Client(base_url=procs["results"].url, headers=auth, timeout=10) as operator:
        task = tasks_of(operator, event["subject"], 2)[0]
        path = f"/v1/tasks/{task['id']}/inspection"
        refused = operator.post(path, json=report(task))
        assert refused.status_code == 403, refused.text
        assert refused.json()["title"] == "Unknown department"
        office = token(infra, "office-1", "OFFICE", "office")
        register_departments(procs["registry"].url, office, [stranger])
        # The results service learns of it from the registry stream, a moment later.
        wait_for_departments(infra, "results", [stranger])
        accepted = operator.post(path, json=report(task))
        assert accepted.status_code == 200, accepted.text


def test_a_result_recorded_by_the_office_is_disclosed_under_the_draws_department(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    event = publish_draw(infra, "2026-09-30")
    auth = _bearer(token(infra, "office-1", "OFFICE", "office"))
    with httpx.Client(base_url=procs["results"].url, headers=auth, timeout=10) as office:
        task = tasks_of(office, event["subject"], 2)[1]
        created = office.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)})
        assert created.status_code == 200, created.text
    # Reviewed by the implementing department (the group leader's, SAMR).
    auth = _bearer(token(infra, "rev-samr", "SAMR", "reviewer"))
    with httpx.Client(base_url=procs["results"].url, headers=auth, timeout=10) as reviewer:
        approved = reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"})
        assert approved.status_code == 200, approved.text

    def disclosed() -> list[dict[str, Any]] | None:
        url = f"{procs['disclosure'].url}/v1/public/results"
        items = httpx.get(url, params={"draw_id": event["subject"]}).json()["items"]
        return items or None

    (row,) = wait_until(disclosed)
    assert row["department"] == "SAMR"


def test_a_revoked_token_is_refused_by_every_service(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    leaked = token(infra, "op-samr", "SAMR", "operator")
    other = token(infra, "op-samr", "SAMR", "operator")
    for service, path in READS.items():
        assert httpx.get(procs[service].url + path, headers=_bearer(leaked)).status_code == 200
    claims = jwt.decode(leaked, options={"verify_signature": False})
    body = {
        "jti": claims["jti"],
        "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        "reason": "令牌泄露",
    }
    registry = procs["registry"].url
    office = _bearer(token(infra, "office-1", "OFFICE", "office"))
    operator_try = httpx.post(
        f"{registry}/v1/tokens/revocations", json=body, headers=_bearer(other)
    )
    assert operator_try.status_code == 403
    revoked = httpx.post(f"{registry}/v1/tokens/revocations", json=body, headers=office)
    assert revoked.status_code == 201, revoked.text
    assert revoked.json()["jti"] == claims["jti"]

    for service, path in READS.items():

        def refused(url: str = procs[service].url + path) -> httpx.Response | None:
            answer = httpx.get(url, headers=_bearer(leaked))
            return answer if answer.status_code == 401 else None

        assert "revoked" in wait_until(refused).json()["detail"]
        # Only that token: the same person's other token still works.
        assert httpx.get(procs[service].url + path, headers=_bearer(other)).status_code == 200

    again = httpx.post(f"{registry}/v1/tokens/revocations", json=body, headers=office)
    assert again.status_code == 409
    auditor = _bearer(token(infra, "audit-1", "AUDIT", "auditor"))
    shown = httpx.get(f"{registry}/v1/tokens/revocations/{claims['jti']}", headers=auditor)
    assert shown.status_code == 200 and shown.json()["reason"] == "令牌泄露"


def test_a_revocation_with_a_mistaken_past_expiry_still_refuses_the_token(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    leaked = token(infra, "op-tax", "TAX", "operator")
    claims = jwt.decode(leaked, options={"verify_signature": False})
    body = {"jti": claims["jti"], "expires_at": "2020-01-01T00:00:00+08:00", "reason": "泄露"}
    office = _bearer(token(infra, "office-1", "OFFICE", "office"))
    registry = procs["registry"].url
    assert httpx.post(f"{registry}/v1/tokens/revocations", json=body, headers=office).is_success

    def refused() -> bool:
        url = procs["results"].url + READS["results"]
        return httpx.get(url, headers=_bearer(leaked)).status_code == 401

    wait_until(refused)


def test_a_revoked_auditor_token_no_longer_sees_the_readiness_details(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    leaked = token(infra, "audit-2", "AUDIT", "auditor")
    registry = procs["registry"].url
    assert "checks" in httpx.get(f"{registry}/readyz", headers=_bearer(leaked)).json()
    claims = jwt.decode(leaked, options={"verify_signature": False})
    body = {
        "jti": claims["jti"],
        "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        "reason": "令牌泄露",
    }
    office = _bearer(token(infra, "office-1", "OFFICE", "office"))
    assert httpx.post(f"{registry}/v1/tokens/revocations", json=body, headers=office).is_success

    def status_only() -> dict[str, object] | None:
        answer = httpx.get(f"{registry}/readyz", headers=_bearer(leaked)).json()
        return answer if "checks" not in answer else None

    assert set(wait_until(status_only)) == {"status"}


def test_a_revocation_written_with_any_iso_offset_is_applied_everywhere(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    """+23:00 is valid ISO 8601, but PostgreSQL's timestamptz takes ±15:59 at most: the door
    stores the instant in UTC, so no service's register consumer stops on it (it did, and
    every later revocation was then ignored)."""
    registry = procs["registry"].url
    office = _bearer(token(infra, "office-1", "OFFICE", "office"))
    far = {"jti": "far-offset", "expires_at": "2030-01-01T00:00:00+23:00", "reason": "测试"}
    answer = httpx.post(f"{registry}/v1/tokens/revocations", json=far, headers=office)
    assert answer.status_code == 201, answer.text
    assert answer.json()["expires_at"].startswith("2029-12-31T01:00:00")
    out_of_range = {**far, "jti": "year-9999", "expires_at": "9999-12-31T00:00:00+00:00"}
    refused = httpx.post(f"{registry}/v1/tokens/revocations", json=out_of_range, headers=office)
    assert refused.status_code == 422, refused.text

    # A revocation after it still takes effect in every service.
    leaked = token(infra, "op-tax", "TAX", "operator")
    claims = jwt.decode(leaked, options={"verify_signature": False})
    body = {
        "jti": claims["jti"],
        "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        "reason": "令牌泄露",
    }
    assert httpx.post(f"{registry}/v1/tokens/revocations", json=body, headers=office).is_success
    for service, path in READS.items():

        def refused_there(url: str = procs[service].url + path) -> bool:
            return httpx.get(url, headers=_bearer(leaked)).status_code == 401

        wait_until(refused_there)
    auditor = _bearer(token(infra, "audit-1", "AUDIT", "auditor"))
    for proc in procs.values():
        checks = httpx.get(f"{proc.url}/readyz", headers=auditor).json().get("checks", {})
        assert not checks.get("alarms"), checks


def test_a_revoked_token_replays_no_stored_answer(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    registry = procs["registry"].url
    leaked = token(infra, "office-9", "OFFICE", "office")
    department = {"code": "IDEMP", "name": "幂等测试局", "level": "city", "region_code": "420200"}
    first = httpx.post(
        f"{registry}/v1/departments",
        json=department,
        headers={**_bearer(leaked), "Idempotency-Key": "k-revoked"},
    )
    assert first.status_code == 201, first.text
    claims = jwt.decode(leaked, options={"verify_signature": False})
    body = {
        "jti": claims["jti"],
        "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        "reason": "令牌泄露",
    }
    office = _bearer(token(infra, "office-1", "OFFICE", "office"))
    assert httpx.post(f"{registry}/v1/tokens/revocations", json=body, headers=office).is_success

    def refused() -> httpx.Response | None:
        retry = httpx.post(
            f"{registry}/v1/departments",
            json=department,
            headers={**_bearer(leaked), "Idempotency-Key": "k-revoked"},
        )
        return retry if retry.status_code == 401 else None

    assert "idempotent-replayed" not in wait_until(refused).headers
