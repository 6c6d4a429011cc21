"""The registry as a real process against real PostgreSQL and NATS."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from tests.builders import inspector_payload, item_payload, register_departments, subject_payload
from tests.support import Infra, ServiceProcess, token, wait_until


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "registry").start()
    register_departments(proc.url, token(infra, "office-1", "OFFICE", "office"), ["SAMR", "TAX"])
    yield proc
    proc.stop()


@pytest.fixture
def client(registry: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {token(infra, 'op-samr', 'SAMR', 'operator')}"}
    with httpx.Client(base_url=registry.url, headers=auth, timeout=10) as c:
        yield c


def test_registered_subject_reaches_the_read_model_through_jetstream(client: httpx.Client) -> None:
    payload = subject_payload(random.Random(1), "B")
    created = client.post("/v1/subjects", json=payload)
    assert created.status_code == 201, created.text

    def listed() -> list[dict]:
        page = client.get("/v1/subjects", params={"region_prefix": payload["region_code"]}).json()
        return [s for s in page["items"] if s["identifier"] == payload["identifier"]]

    (row,) = wait_until(listed)
    assert row["risk_class"] == "B"
    history = client.get(f"/v1/subjects/{payload['identifier']}/history").json()
    assert history[0]["type"] == "SubjectRegistered"
    assert history[0]["meta"]["actor"] == {"sub": "op-samr", "dept": "SAMR", "roles": ["operator"]}


def test_bad_uscc_is_rejected_with_problem_json(client: httpx.Client) -> None:
    payload = subject_payload(random.Random(2))
    payload["identifier"] = payload["identifier"][:-1] + (
        "0" if payload["identifier"][-1] != "0" else "1"
    )
    response = client.post("/v1/subjects", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "USCC" in response.json()["detail"]


def test_second_registration_of_one_uscc_is_a_conflict(client: httpx.Client) -> None:
    payload = subject_payload(random.Random(3))
    assert client.post("/v1/subjects", json=payload).status_code == 201
    again = client.post("/v1/subjects", json=payload)
    assert again.status_code == 409
    assert again.json()["status"] == 409


def test_validation_errors_name_the_field(client: httpx.Client) -> None:
    payload = subject_payload(random.Random(4), region_code="42020")
    body = client.post("/v1/subjects", json=payload).json()
    assert body["status"] == 422
    assert {"field": "region_code", "in": "body"}.items() <= body["errors"][0].items()


def test_general_item_ratio_below_five_percent_is_rejected(client: httpx.Client) -> None:
    response = client.post("/v1/items", json=item_payload("T-LOW", "SAMR", ratio=0.04))
    assert response.status_code == 422
    assert "5 %" in response.json()["detail"]


def test_department_cannot_register_for_another(client: httpx.Client) -> None:
    response = client.post("/v1/inspectors", json=inspector_payload("TAX", 1))
    assert response.status_code == 403


def test_missing_token_is_401(registry: ServiceProcess) -> None:
    response = httpx.post(f"{registry.url}/v1/items", json=item_payload("X", "SAMR"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_idempotency_key_replays_the_first_answer(client: httpx.Client) -> None:
    payload = item_payload("T-IDEM", "SAMR")
    headers = {"Idempotency-Key": "k-item-idem"}
    first = client.post("/v1/items", json=payload, headers=headers)
    second = client.post("/v1/items", json=payload, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    other = client.post("/v1/items", json={**payload, "name": "changed"}, headers=headers)
    assert other.status_code == 422


def test_item_changes_need_the_current_version_and_keep_the_history(
    client: httpx.Client,
) -> None:
    created = client.post("/v1/items", json=item_payload("T-VER", "SAMR"))
    assert created.status_code == 201
    etag = created.headers["etag"]

    missing = client.patch("/v1/items/T-VER", json={"ratio": 0.1})
    assert missing.status_code == 428
    changed = client.patch("/v1/items/T-VER", json={"ratio": 0.1}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["ratio"] == 0.1 and changed.json()["version"] == 2
    stale = client.patch("/v1/items/T-VER", json={"ratio": 0.2}, headers={"If-Match": etag})
    assert stale.status_code == 409

    today = client.get("/v1/items/T-VER", params={"as_of": "2099-01-01"}).json()
    assert today["ratio"] == 0.1
    before = client.get("/v1/items/T-VER", params={"as_of": "2000-01-01"})
    assert before.status_code == 404


def test_withdrawn_item_leaves_the_published_list(client: httpx.Client) -> None:
    client.post("/v1/items", json=item_payload("T-WD", "SAMR"))
    assert client.post("/v1/items/T-WD/publish").status_code == 200
    withdrawn = client.post("/v1/items/T-WD/withdraw", json={"reason": "法规废止"})
    assert withdrawn.status_code == 200 and withdrawn.json()["published"] is False

    def unpublished() -> bool:
        listed = client.get("/v1/items", params={"published": "false"}).json()
        return any(i["code"] == "T-WD" and i["version"] == 3 for i in listed)

    assert wait_until(unpublished)
