"""Planner domain rules: plans, joint plans (联合抽查计划) and batches (批次). No I/O."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.planner.domain.batches import DEFAULT_RATIOS
from services.planner.domain.errors import (
    InvalidPlan,
    ItemNotPublished,
    PlanStateError,
    UnknownItem,
)
from services.planner.domain.plan import Plan, select_items


def _item(code: str, dept: str, published: bool = True) -> dict[str, Any]:
    return {
        "code": code,
        "department": dept,
        "name": f"{dept} 抽查事项 {code}",
        "category": "general",
        "ratio": 0.05,
        "methods": ["on_site"],
        "published": published,
    }


CATALOGUE = {i["code"]: i for i in (_item("SAMR-1", "SAMR"), _item("TAX-1", "TAX"))}


def _batch(**overrides: Any) -> dict[str, Any]:
    return {"name": "第一批", "starts_on": "2026-03-01", "ends_on": "2026-06-30", **overrides}


def _plan(**overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "year": 2026,
        "title": "2026年度跨部门联合抽查",
        "mode": "comprehensive",
        "initiating_department": "SAMR",
        "participating_departments": ["TAX"],
        "items": list(CATALOGUE.values()),
        "batches": [_batch()],
    }
    fields.update(overrides)
    return Plan.create(**fields)


def test_plan_created_carries_the_items_and_batches_the_contract_names() -> None:
    plan = _plan()
    (event,) = plan.collect_events()
    assert type(event).__name__ == "PlanCreated"
    assert plan.items[0] == {
        "code": "SAMR-1",
        "department": "SAMR",
        "name": "SAMR 抽查事项 SAMR-1",
        "category": "general",
        "ratio": 0.05,
    }
    (batch,) = plan.batches
    assert set(batch) == {
        "batch_id",
        "name",
        "pool",
        "ratios",
        "directed",
        "starts_on",
        "ends_on",
    }
    assert uuid.UUID(batch["batch_id"]).version == 4


def test_batch_gets_the_default_risk_ratios_and_an_unrestricted_pool() -> None:
    (batch,) = _plan().batches
    assert batch["ratios"] == {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
    assert batch["pool"] == {
        "region_prefixes": [],
        "kinds": [],
        "industries": [],
        "risk_classes": [],
    }
    assert batch["directed"] is False


def test_ratio_override_keeps_the_other_defaults() -> None:
    (batch,) = _plan(batches=[_batch(ratios={"D": 0.5})]).batches
    assert batch["ratios"] == {**DEFAULT_RATIOS, "D": 0.5}


@pytest.mark.parametrize("ratio", [0, -0.1, 1.5])
def test_ratio_outside_zero_to_one_is_rejected(ratio: float) -> None:
    with pytest.raises(InvalidPlan, match=r"ratios\.B"):
        _plan(batches=[_batch(ratios={"B": ratio})])


def test_unknown_risk_class_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="unknown risk class 'E'"):
        _plan(batches=[_batch(ratios={"E": 0.5})])


def test_batches_get_distinct_ids() -> None:
    plan = _plan(
        batches=[_batch(), _batch(name="第二批", starts_on="2026-07-01", ends_on="2026-09-30")]
    )
    assert len({b["batch_id"] for b in plan.batches}) == 2


def test_plan_without_batch_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="at least one batch"):
        _plan(batches=[])


def test_batch_names_are_unique_within_a_plan() -> None:
    with pytest.raises(InvalidPlan, match="unique"):
        _plan(batches=[_batch(), _batch()])


def test_batch_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="before starts_on"):
        _plan(batches=[_batch(starts_on="2026-05-01", ends_on="2026-04-30")])


def test_one_day_batch_is_allowed() -> None:
    (batch,) = _plan(batches=[_batch(starts_on="2026-05-06", ends_on="2026-05-06")]).batches
    assert batch["starts_on"] == batch["ends_on"] == "2026-05-06"


def test_batch_outside_the_plan_year_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="plan year 2026"):
        _plan(batches=[_batch(starts_on="2026-12-01", ends_on="2027-01-31")])


def test_pool_filters_are_validated() -> None:
    with pytest.raises(InvalidPlan, match=r"pool\.risk_classes"):
        _plan(batches=[_batch(pool={"risk_classes": ["E"]})])
    with pytest.raises(InvalidPlan, match=r"pool\.region_prefixes"):
        _plan(batches=[_batch(pool={"region_prefixes": ["42020"]})])
    with pytest.raises(InvalidPlan, match=r"pool\.industries"):
        _plan(batches=[_batch(pool={"industries": ["Z99"]})])


def test_directed_batch_needs_a_pool_condition() -> None:
    with pytest.raises(InvalidPlan, match="定向"):
        _plan(batches=[_batch(directed=True)])
    pool = {"industries": ["F52"], "risk_classes": ["C", "D"]}
    (batch,) = _plan(batches=[_batch(directed=True, pool=pool)]).batches
    assert batch["pool"]["industries"] == ["F52"] and batch["directed"] is True


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="mode"):
        _plan(mode="random")


def test_plan_with_unpublished_item_is_rejected() -> None:
    catalogue = {**CATALOGUE, "TAX-2": _item("TAX-2", "TAX", published=False)}
    with pytest.raises(ItemNotPublished, match="TAX-2"):
        select_items(["SAMR-1", "TAX-2"], catalogue)


def test_plan_with_item_unknown_to_the_registry_is_rejected() -> None:
    with pytest.raises(UnknownItem, match="EPB-1"):
        select_items(["SAMR-1", "EPB-1"], CATALOGUE)


def test_item_listed_twice_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="more than once"):
        select_items(["SAMR-1", "SAMR-1"], CATALOGUE)


def test_selected_items_are_copied_without_registry_only_fields() -> None:
    (item,) = select_items(["TAX-1"], CATALOGUE)
    assert set(item) == {"code", "department", "name", "category", "ratio"}


def test_participating_department_without_item_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match=r"\['TAX'\].*bring no item"):
        _plan(items=[_item("SAMR-1", "SAMR")])


def test_item_of_a_department_outside_the_plan_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="EPB"):
        _plan(items=[*CATALOGUE.values(), _item("EPB-1", "EPB")])


def test_single_department_plan_has_no_participants() -> None:
    plan = _plan(participating_departments=[], items=[_item("SAMR-1", "SAMR")], mode="special")
    assert plan.participating_departments == []


def test_initiating_department_cannot_also_participate() -> None:
    with pytest.raises(InvalidPlan, match="initiating"):
        _plan(participating_departments=["SAMR", "TAX"])


def test_plan_is_published_once() -> None:
    plan = _plan()
    assert not plan.published
    plan.publish(date(2026, 2, 27))
    assert plan.published and plan.published_on == "2026-02-27"
    with pytest.raises(PlanStateError, match="2026-02-27"):
        plan.publish(date(2026, 2, 28))
    assert [type(e).__name__ for e in plan.collect_events()] == ["PlanCreated", "PlanPublished"]
