"""Every cell of the access matrix (tests/access/matrix.py) against the five running
services, with real tokens; and every operation of their OpenAPI documents has a row."""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from libs.common.auth import ALGORITHM
from tests.access.calls import CURRENT, call_for
from tests.access.conftest import OTHER, OWN, Stack
from tests.access.matrix import BY_KEY, CALLERS, RULES, SERVICES, Rule
from tests.support import wait_until

pytestmark = pytest.mark.e2e
LET_THROUGH = "let through"
METHODS = {"get", "post", "put", "patch", "delete"}


def _headers(stack: Stack) -> dict[str, dict[str, str]]:
    """An Authorization header per caller class."""
    leader = stack.fx["leader"]
    who = {
        "office": ("office-matrix", "OFFICE", "office"),
        "auditor": ("auditor-matrix", "OFFICE", "auditor"),
        "operator:own": ("op-matrix-own", OWN, "operator"),
        "operator:other": ("op-matrix-other", OTHER, "operator"),
        "inspector:group": (leader["inspector_id"], leader["department"], "inspector"),
        "inspector:own": (str(uuid.uuid4()), OWN, "inspector"),
        "inspector:other": (str(uuid.uuid4()), OTHER, "inspector"),
        "approver:own": ("ap-matrix-own", OWN, "approver"),
        "approver:other": ("ap-matrix-other", OTHER, "approver"),
        "reviewer:own": ("rv-matrix-own", OWN, "reviewer"),
        "reviewer:other": ("rv-matrix-other", OTHER, "reviewer"),
        "subject:own": (stack.fx["recorded_subject"]["identifier"], "SUBJECT", "subject"),
    }
    headers = {c: {"Authorization": f"Bearer {stack.token(*who[c])}"} for c in who}
    return {"anonymous": {}, **headers}


def _send(
    http: httpx.Client, stack: Stack, rule: Rule, auth: dict[str, str], n: int
) -> httpx.Response:
    call = call_for(rule.key, stack.fx, n)
    if call.headers.get("If-Match") == CURRENT:
        # The record's version as it stands, so that the version check cannot answer first.
        office = {"Authorization": f"Bearer {stack.token('office-etag', 'OFFICE', 'office')}"}
        current = http.get(stack.urls[rule.service] + call.path, headers=office)
        call.headers["If-Match"] = current.headers["etag"]
    return http.request(
        rule.method,
        stack.urls[rule.service] + call.path,
        json=call.json,
        content=call.content,
        params=call.params,
        headers={**call.headers, **auth},
    )


def _seen(response: httpx.Response, expected: str | int) -> str | int:
    """What a cell shows: the refusal's status, or that the request got through. A 404 or
    422 counts as a refusal only where the matrix expects one (422: for the department)."""
    status = response.status_code
    if status in (401, 403):
        return status
    if status == expected == 422 and "department_forbidden" not in response.text:
        return f"422 without department_forbidden: {response.text[:200]}"
    if status == expected:
        return status
    return LET_THROUGH


def _finds_fixture(stack: Stack, rule: Rule, response: httpx.Response) -> bool:
    """Whether a scoped list holds department A's fixture record."""
    assert response.status_code == 200, response.text
    if rule.path == "/v1/conflicts":
        return bool(response.json())  # filtered to the fixture inspector's records
    fixture = stack.fx["task_id"] if rule.path == "/v1/tasks" else stack.fx["record_id"]
    return fixture in {r["id"] for r in response.json()["items"]}


def _expected(rule: Rule, caller: str) -> str | int:
    if caller in rule.allowed:
        return LET_THROUGH
    return 401 if caller == "anonymous" else rule.refusal(caller)


def test_every_operation_of_every_service_has_a_row(stack: Stack) -> None:
    documented = set()
    for service in SERVICES:
        spec = httpx.get(f"{stack.urls[service]}/openapi.json").json()
        for path, operations in spec["paths"].items():
            documented |= {(service, m.upper(), path) for m in operations if m in METHODS}
    health = {r.key for r in RULES if r.path in ("/healthz", "/readyz", "/metrics")}
    assert sorted(documented - set(BY_KEY)) == [], "operations without a row in the matrix"
    assert sorted(set(BY_KEY) - documented - health) == [], "rows of operations that are gone"


def test_every_cell_answers_as_the_matrix_says(stack: Stack) -> None:
    headers = _headers(stack)
    counter = itertools.count(int(time.time()) % 100000 * 1000)
    differ = []
    with httpx.Client(timeout=30) as http:
        for rule in RULES:
            # Refused callers first: a write let through may change the record.
            for caller in sorted(CALLERS, key=lambda c: c in rule.allowed):
                response = _send(http, stack, rule, headers[caller], next(counter))
                expected = _expected(rule, caller)
                if _seen(response, expected) != expected:
                    differ.append(
                        f"{rule.method} {rule.service}{rule.path} as {caller}: "
                        f"{response.status_code}, matrix says {expected}"
                    )
                elif rule.sees is not None and expected == LET_THROUGH:
                    found = _finds_fixture(stack, rule, response)
                    if found != (caller in rule.sees):
                        differ.append(
                            f"{rule.method} {rule.service}{rule.path} as {caller}: the record "
                            f"is {'' if found else 'not '}listed, matrix says the opposite"
                        )
    assert differ == [], "\n".join(differ)


# The department roles whose writes a token of an unregistered department tries.
DEPARTMENT_WRITERS = {
    "operator:own": "operator",
    "approver:own": "approver",
    "reviewer:own": "reviewer",
}


def test_a_department_outside_the_register_writes_nothing(stack: Stack) -> None:
    """An operator (approver, reviewer) whose token names a well-formed department the
    office never registered is refused every write that role of a department may make
    (403 Unknown department)."""
    counter = itertools.count(int(time.time()) % 100000 * 1000 + 900)
    differ = []
    with httpx.Client(timeout=30) as http:
        for rule in RULES:
            if rule.method == "GET" or rule.reads:
                continue
            for caller, role in DEPARTMENT_WRITERS.items():
                if caller not in rule.allowed:
                    continue
                token = stack.token(f"{role}-nowhere", "NOWHERE", role)
                auth = {"Authorization": f"Bearer {token}"}
                status = _send(http, stack, rule, auth, next(counter)).status_code
                if status != 403:
                    differ.append(f"{rule.method} {rule.service}{rule.path} as {role}: {status}")
    assert differ == [], "\n".join(differ)


def _segment(part: dict[str, Any]) -> str:
    raw = json.dumps(part, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _faulty_tokens(stack: Stack) -> dict[str, str]:
    settings = stack.infra.settings()
    now = int(time.time())
    claims = {
        "sub": "op-faulty",
        "dept": OWN,
        "roles": ["operator"],
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }

    def signed(**change: Any) -> str:
        return jwt.encode({**claims, **change}, settings.jwt_secret, algorithm=ALGORITHM)

    unsigned = _segment({"alg": "none", "typ": "JWT"}) + "." + _segment(claims) + "."
    return {
        "expired": signed(iat=now - 7200, exp=now - 3600),
        "wrong issuer": signed(iss="someone-else"),
        "wrong signature": jwt.encode(claims, "not-the-secret-" * 4, algorithm=ALGORITHM),
        "alg none": unsigned,
        "unknown role": signed(roles=["superadmin"]),
        "empty dept": signed(dept=""),
        "null dept": signed(dept=None),
        "century": signed(exp=now + 100 * 365 * 86400),
        "office, no dept": signed(roles=["office"], dept=""),
    }


def _revoked_token(stack: Stack, http: httpx.Client) -> str:
    """A valid operator token of department A that the office has revoked (吊销), once every
    service knows it (each copies the deny-list from the registry's events)."""
    value = stack.token("op-revoked", OWN, "operator")
    claims = jwt.decode(value, options={"verify_signature": False})
    office = {"Authorization": f"Bearer {stack.token('office-revoker', 'OFFICE', 'office')}"}
    revocation = {
        "jti": claims["jti"],
        "expires_at": datetime.fromtimestamp(claims["exp"], UTC).isoformat(),
        "reason": "访问控制矩阵：吊销测试",
    }
    revoked = http.post(
        f"{stack.urls['registry']}/v1/tokens/revocations", json=revocation, headers=office
    )
    assert revoked.status_code == 201, revoked.text
    auth = {"Authorization": f"Bearer {value}"}
    # One authenticated list per service (the disclosure service has none to refuse).
    probes = {
        r.service: stack.urls[r.service] + r.path
        for r in reversed(RULES)
        if r.method == "GET" and "{" not in r.path and not r.public
    }
    for url in probes.values():
        wait_until(lambda url=url: http.get(url, headers=auth).status_code == 401)
    return value


def test_a_faulty_token_is_401_on_every_authenticated_operation(stack: Stack) -> None:
    counter = itertools.count(int(time.time()) % 100000 * 1000 + 500)
    differ = []
    with httpx.Client(timeout=30) as http:
        faulty = {**_faulty_tokens(stack), "revoked": _revoked_token(stack, http)}
        for fault, value in faulty.items():
            auth = {"Authorization": f"Bearer {value}"}
            for rule in RULES:
                if rule.public:
                    continue
                status = _send(http, stack, rule, auth, next(counter)).status_code
                if status != 401:
                    differ.append(f"{rule.method} {rule.service}{rule.path} ({fault}): {status}")
    assert differ == [], "\n".join(differ)
