"""The registry's subject counts (POST /v1/subject-counts) through the real process: the
same numbers as the single-filter count, overlaps of pools, fresh after every change of
the subjects (its groups are rebuilt when the subjects' stream position moves), and
hostile bodies refused with 422."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.builders import make_uscc, register_departments, subject_payload
from tests.support import Infra, ServiceProcess, token, wait_until

REGION = "420281"  # 大冶市
RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    proc = ServiceProcess(infra, "registry").start()
    office = token(infra, "office-c", "OFFICE", "office")
    register_departments(proc.url, office, ["SAMR"])
    op = httpx.Client(
        base_url=proc.url,
        headers={"Authorization": f"Bearer {token(infra, 'op-c', 'SAMR', 'operator')}"},
        timeout=30,
    )
    subject = httpx.Client(
        base_url=proc.url,
        headers={"Authorization": f"Bearer {token(infra, 'S1', 'SUBJECT', 'subject')}"},
        timeout=30,
    )
    yield op, subject
    op.close()
    subject.close()
    proc.stop()


def _counts(http: httpx.Client, *queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = {"queries": [{"all_of": q} for q in queries]}
    response = http.post("/v1/subject-counts", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["counts"])


def _register(http: httpx.Client, rng: random.Random, risk: str, **extra: Any) -> None:
    body = subject_payload(rng, risk, region_code=REGION, **extra)
    body["identifier"] = make_uscc(rng, REGION)
    assert http.post("/v1/subjects", json=body).status_code == 201


def test_counts_follow_every_change_of_the_subjects(
    registry: tuple[httpx.Client, httpx.Client],
) -> None:
    op, _ = registry
    rng = random.Random(RUN)
    pool = [{"region_prefixes": [REGION], "industries": ["F52"]}]
    before = _counts(op, pool)[0]["total"]
    for risk in ("A", "B"):
        _register(op, rng, risk, industry="F52")
    after = wait_until(lambda: (c := _counts(op, pool)[0])["total"] == before + 2 and c)
    params = {"region_prefix": REGION, "industry": "F52", "status": "operating"}
    single = op.get("/v1/subjects-count", params=params).json()
    assert after["per_risk_class"] == single["per_risk_class"]
    _register(op, rng, "C", industry="C13", tags=[])
    overlap = [{"region_prefixes": ["42"]}, {"region_prefixes": [REGION], "industries": ["F"]}]
    made = [{"region_prefixes": [REGION], "industries": ["C13"]}]
    both, _ = wait_until(lambda: (c := _counts(op, overlap, made))[1]["total"] >= 1 and c)
    assert both["total"] == after["total"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"queries": [{"all_of": [{"region_prefixes": ["4x"]}]}]}, "region_prefixes"),
        ({"queries": [{"all_of": [{"tags": ["a\x00b"]}]}]}, "tags"),
        ({"queries": [{"all_of": [{}]}] * 1001}, "queries"),
        ({"queries": [{"all_of": []}]}, "all_of"),
        ({"queries": [{"all_of": [{"colour": ["red"]}]}]}, "colour"),
    ],
)
def test_hostile_bodies_are_422(
    registry: tuple[httpx.Client, httpx.Client], body: dict[str, Any], field: str
) -> None:
    op, _ = registry
    response = op.post("/v1/subject-counts", json=body)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_a_subject_token_counts_nothing(registry: tuple[httpx.Client, httpx.Client]) -> None:
    _, subject = registry
    body = {"queries": [{"all_of": [{}]}]}
    assert subject.post("/v1/subject-counts", json=body).status_code == 403
