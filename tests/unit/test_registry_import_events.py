"""The bulk import writes new records' first events without their aggregates; they must be
exactly what the aggregates would record."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.registry.domain.inspectors import Inspector
from services.registry.domain.subjects import Subject
from services.registry.imports.importer import _Plan
from services.registry.imports.pipeline import key_of

SUBJECT = {
    "identifier": "91420100MA4K0000X1",
    "kind": "for_profit",
    "name": "武汉某某有限公司",
    "legal_form": "",
    "region_code": "420102",
    "industry": "C13",
    "address": "某路1号",
    "legal_representative": "",
    "status": "operating",
    "departments": ["SAMR"],
    "tags": [],
    "risk_class": "B",
    "abnormal_operation": False,
    "serious_violation": True,
}
INSPECTOR = {
    "department": "SAMR",
    "certificate_no": "42010001",
    "name": "张三",
    "level": "city",
    "region_code": "420100",
    "specialties": [],
    "categories": ["general"],
    "status": "active",
    "contact": "027-1",
}


@pytest.mark.parametrize(
    ("kind", "aggregate", "fields", "later"),
    [
        ("subjects", Subject, SUBJECT, {"supervising_unit": "江岸所"}),
        ("inspectors", Inspector, INSPECTOR, {"unit": "江岸所"}),
    ],
)
def test_first_events_made_without_the_aggregate_equal_the_aggregates_own(
    kind: str, aggregate: Any, fields: dict[str, Any], later: dict[str, str]
) -> None:
    plan = _Plan(kind, date(2026, 12, 1), partial=False)
    for row in (fields, {**fields, **later}):  # with and without the column added later
        expected = aggregate(**row).collect_events()[0]
        made = plan.registered(key_of(kind, row), dict(row))
        assert type(made) is type(expected)
        assert {k: v for k, v in vars(made).items() if k != "timestamp"} == {
            k: v for k, v in vars(expected).items() if k != "timestamp"
        }
        assert made.mutate(None).__dict__.keys() == expected.mutate(None).__dict__.keys()
