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


def test_each_filter_counts_what_the_single_filter_count_counts(
    registry: tuple[httpx.Client, httpx.Client],
) -> None:
    op, _ = registry
    rng = random.Random(f"{RUN}-filters")
    tag = f"SAMR.CNT{RUN}"
    made = {"code": tag, "name": "计数用标签", "department": "SAMR"}
    assert op.post("/v1/tags", json=made).status_code == 201
    # Two counties of 宜昌市 (no other module registers there), every filter a pool has
    # taking more than one value among them, closed subjects included (never counted).
    population: list[tuple[str, str, str, dict[str, Any]]] = [
        ("420502", "F52", "A", {"tags": [tag]}),
        ("420502", "F52", "B", {"abnormal_operation": True}),
        ("420502", "F51", "C", {"kind": "non_profit"}),
        ("420502", "C13", "D", {"serious_violation": True, "tags": [tag]}),
        ("420503", "F52", "A", {"status": "moved_out"}),
        ("420503", "H62", "B", {"status": "deregistered", "tags": [tag]}),
        ("420503", "F", "A", {"status": "revoked", "abnormal_operation": True}),
        ("420503", "C13", "C", {}),
    ]
    for region, industry, risk, extra in population:
        body = subject_payload(rng, risk, region_code=region, industry=industry, **extra)
        assert op.post("/v1/subjects", json=body).status_code == 201, body
    everyone = {"region_prefix": "4205"}
    wait_until(lambda: op.get("/v1/subjects-count", params=everyone).json()["total"] == 8)
    cases: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
        ({}, {}),
        ({"region_prefix": "420502"}, {"region_prefixes": ["420502"]}),
        ({"kind": "non_profit"}, {"kinds": ["non_profit"]}),
        ({"industry": "F"}, {"industries": ["F"]}),
        ({"industry": "F52"}, {"industries": ["F52"]}),
        ({"risk_class": "A"}, {"risk_classes": ["A"]}),
        ({"tag": [tag]}, {"tags": [tag]}),
        ({"abnormal_operation": "true"}, {"flags": ["abnormal_operation"]}),
        ({"serious_violation": "true"}, {"flags": ["serious_violation"]}),
        ({"status": "moved_out"}, {"statuses": ["moved_out"]}),
    ]
    queries = [[{"region_prefixes": ["4205"], **pool}] for _, pool in cases]
    counted = _counts(op, *queries)
    for (params, pool), got in zip(cases, counted, strict=True):
        # The single count reads every status unless told: the pool's default is operating.
        single = op.get(
            "/v1/subjects-count", params={**everyone, "status": "operating", **params}
        ).json()
        assert got == single, (pool, got, single)
    assert [c["total"] for c in counted] == [5, 4, 1, 3, 2, 1, 2, 1, 1, 1]
    flags = [{"region_prefixes": ["4205"], "flags": ["abnormal_operation", "serious_violation"]}]
    tags_or_class = [{"region_prefixes": ["4205"], "tags": [tag]}, {"risk_classes": ["D"]}]
    closed = [{"region_prefixes": ["4205"], "statuses": ["deregistered", "revoked"]}]
    assert [c["total"] for c in _counts(op, flags, tags_or_class, closed)] == [2, 1, 0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"queries": [{"all_of": [{"region_prefixes": ["4x"]}]}]}, "region_prefixes"),
        ({"queries": [{"all_of": [{"tags": ["a\x00b"]}]}]}, "tags"),
        ({"queries": [{"all_of": [{}]}] * 1001}, "queries"),
        ({"queries": [{"all_of": []}]}, "all_of"),
        ({"queries": [{"all_of": [{"colour": ["red"]}]}]}, "colour"),
        ({"queries": [{"all_of": [{}] * 17}]}, "all_of"),
        ({"queries": [{"all_of": [{"risk_classes": ["E"]}]}]}, "risk_classes"),
        ({"queries": [{"all_of": [{"industries": ["F521"]}]}]}, "industries"),
        ({"queries": [{"all_of": [{"statuses": ["closed"]}]}]}, "statuses"),
        ({"queries": []}, "queries"),
    ],
)
def test_hostile_bodies_are_422(
    registry: tuple[httpx.Client, httpx.Client], body: dict[str, Any], field: str
) -> None:
    op, _ = registry
    response = op.post("/v1/subject-counts", json=body)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_readers_count_a_subject_token_is_403_and_no_token_401(
    registry: tuple[httpx.Client, httpx.Client], infra: Infra
) -> None:
    op, subject = registry
    body: dict[str, Any] = {"queries": [{"all_of": [{}]}]}
    assert subject.post("/v1/subject-counts", json=body).status_code == 403
    for role in ("office", "inspector", "auditor"):
        auth = {"Authorization": f"Bearer {token(infra, f'{role}-c', 'SAMR', role)}"}
        response = httpx.post(f"{op.base_url}/v1/subject-counts", json=body, headers=auth)
        assert response.status_code == 200, (role, response.text)
    assert httpx.post(f"{op.base_url}/v1/subject-counts", json=body).status_code == 401
