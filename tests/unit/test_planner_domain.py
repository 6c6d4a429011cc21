"""Planner domain: plans, joint plans and batches."""

from __future__ import annotations

from typing import Any

import pytest

from services.planner.domain.errors import InvalidPlan, PlanStateError
from services.planner.domain.plan import DEFAULT_RATIOS, Plan


def _item(code: str, dept: str, published: bool = True) -> dict[str, Any]:
    return {
        "code": code,
        "department": dept,
        "name": code,
        "category": "general",
        "ratio": 0.05,
        "published": published,
    }


def _plan(**overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "year": 2026,
        "title": "2026年度联合抽查",
        "mode": "comprehensive",
        "initiating_department": "SAMR",
        "participating_departments": ["TAX"],
        "items": [_item("S1", "SAMR"), _item("T1", "TAX")],
        "batches": [{"name": "第一批", "starts_on": "2026-03-01", "ends_on": "2026-06-30"}],
    }
    fields.update(overrides)
    return Plan.create(**fields)


def test_batch_gets_an_id_and_the_default_risk_ratios() -> None:
    (batch,) = _plan().batches
    assert batch["ratios"] == DEFAULT_RATIOS
    assert batch["batch_id"]
    assert batch["pool"] == {
        "region_prefixes": [],
        "kinds": [],
        "industries": [],
        "risk_classes": [],
    }


def test_ratio_overrides_keep_the_other_defaults() -> None:
    batch = {"name": "b", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "ratios": {"A": 0.02}}
    (out,) = _plan(batches=[batch]).batches
    assert out["ratios"] == {**DEFAULT_RATIOS, "A": 0.02}


def test_plan_with_unpublished_item_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="T1 is not published"):
        _plan(items=[_item("S1", "SAMR"), _item("T1", "TAX", published=False)])


def test_participating_department_without_item_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="bring no item"):
        _plan(items=[_item("S1", "SAMR")])


def test_item_of_a_department_outside_the_plan_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="EPB"):
        _plan(items=[_item("S1", "SAMR"), _item("T1", "TAX"), _item("E1", "EPB")])


def test_batch_outside_the_plan_year_is_rejected() -> None:
    batch = {"name": "b", "starts_on": "2026-12-01", "ends_on": "2027-01-31"}
    with pytest.raises(InvalidPlan, match="plan year"):
        _plan(batches=[batch])


def test_batch_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="before"):
        _plan(batches=[{"name": "b", "starts_on": "2026-05-01", "ends_on": "2026-04-01"}])


def test_plan_is_published_once() -> None:
    from datetime import date

    plan = _plan()
    plan.publish(date(2026, 2, 27))
    with pytest.raises(PlanStateError):
        plan.publish(date(2026, 2, 28))
