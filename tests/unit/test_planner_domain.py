"""Planner domain rules: plans, joint plans (联合抽查计划) and batches (批次). No I/O."""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import date
from typing import Any

import pytest

from services.planner.domain.batches import DEFAULT_RATIOS, MAX_FULL_LIST, batch_with_defaults
from services.planner.domain.errors import (
    InvalidPlan,
    ItemNotPublished,
    PlanStateError,
    UnknownItem,
)
from services.planner.domain.modes import PlanMode, check_mode
from services.planner.domain.plan import Plan, select_items
from tests.builders import make_uscc


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
        "counts",
        "full_list",
        "directed",
        "complaint_referral",
        "cross_jurisdiction",
        "avoid_previous_inspectors",
        "min_group_size",
        "starts_on",
        "ends_on",
        "programme",
        "task_number",
    }
    assert uuid.UUID(batch["batch_id"]).version == 4
    assert event.batches == plan.batches  # type: ignore[attr-defined]


def test_batch_gets_the_default_risk_ratios_and_an_unrestricted_pool() -> None:
    (batch,) = _plan().batches
    assert batch["ratios"] == {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
    assert batch["pool"] == {
        "region_prefixes": [],
        "kinds": [],
        "industries": [],
        "risk_classes": [],
        "tags": [],
        "statuses": [],
        "flags": [],
    }
    assert batch["directed"] is False


def test_batch_gets_the_default_draw_rules() -> None:
    (batch,) = _plan().batches
    assert batch["counts"] == {}
    assert batch["full_list"] == []
    assert batch["complaint_referral"] is False
    assert batch["cross_jurisdiction"] is False
    assert batch["avoid_previous_inspectors"] is True
    assert batch["min_group_size"] == 2


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


def test_unknown_mode_is_rejected_and_a_special_mode_needs_its_programme() -> None:
    with pytest.raises(InvalidPlan, match="not defined"):
        check_mode(None, "random", "")
    special = PlanMode.define(code="special", name="专项整治联查", needs_programme=True)
    with pytest.raises(InvalidPlan, match="工作方案"):
        check_mode(special, "special", "  ")
    check_mode(special, "special", "黄石市2026年食品安全专项整治工作方案")
    with pytest.raises(InvalidPlan, match="lower-case"):
        PlanMode.define(code="Market Order", name="市场秩序联查", needs_programme=False)


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


# -- pool filters: tags, registration statuses, lists (名录) ----------------------------------


def test_pool_takes_tags_statuses_and_flags() -> None:
    pool = {
        "tags": ["food.cold-chain", "SPECIAL_EQUIP"],
        "statuses": ["operating", "moved_out"],
        "flags": ["abnormal_operation", "serious_violation"],
    }
    (batch,) = _plan(batches=[_batch(pool=pool)]).batches
    assert {k: batch["pool"][k] for k in pool} == pool
    assert batch["pool"]["region_prefixes"] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tags", "bad tag"),
        ("tags", ""),
        ("tags", "x" * 65),
        ("statuses", "closed"),
        ("statuses", "Operating"),
        ("flags", "blacklist"),
        ("kinds", "company"),
    ],
)
def test_invalid_pool_values_are_rejected_with_their_path(key: str, value: str) -> None:
    with pytest.raises(InvalidPlan, match=rf"batches\[0\]\.pool\.{key}: invalid values"):
        _plan(batches=[_batch(pool={key: [value]})])


@pytest.mark.parametrize("key", ["tags", "statuses", "flags"])
def test_new_pool_filters_list_a_value_once(key: str) -> None:
    value = {"tags": "t1", "statuses": "revoked", "flags": "serious_violation"}[key]
    with pytest.raises(InvalidPlan, match=rf"pool\.{key}: values listed more than once"):
        _plan(batches=[_batch(pool={key: [value, value]})])


def test_pool_filter_must_be_a_list() -> None:
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.pool\.statuses: must be a list"):
        _plan(batches=[_batch(pool={"statuses": "operating"})])


def test_unknown_pool_filter_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match=r"pool: unknown filters \['colour'\]"):
        _plan(batches=[_batch(pool={"colour": ["red"]})])


@pytest.mark.parametrize(
    "pool", [{"tags": ["t1"]}, {"statuses": ["deregistered"]}, {"flags": ["abnormal_operation"]}]
)
def test_new_pool_filters_are_conditions_of_a_directed_batch(pool: dict[str, Any]) -> None:
    (batch,) = _plan(batches=[_batch(directed=True, pool=pool)]).batches
    assert batch["directed"] is True


# -- counts per risk class ----------------------------------------------------------------


def test_counts_replace_the_ratio_of_their_class_only() -> None:
    (batch,) = _plan(batches=[_batch(counts={"D": 5, "A": 0})]).batches
    assert batch["counts"] == {"A": 0, "D": 5}
    assert batch["ratios"] == DEFAULT_RATIOS  # kept; the draw uses counts where given


@pytest.mark.parametrize("count", [-1, 2.5, 3.0, "5", True, None])
def test_count_that_is_not_a_natural_number_is_rejected(count: Any) -> None:
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.counts\.C: .* is not an integer"):
        _plan(batches=[_batch(counts={"C": count})])


def test_count_of_an_unknown_risk_class_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.counts: unknown risk class 'E'"):
        _plan(batches=[_batch(counts={"E": 3})])


def test_count_of_a_class_the_pool_excludes_is_rejected() -> None:
    batch = _batch(pool={"risk_classes": ["C", "D"]}, counts={"B": 2})
    with pytest.raises(InvalidPlan, match=r"counts\.B: the pool's risk_classes"):
        _plan(batches=[batch])
    (ok,) = _plan(batches=[_batch(pool={"risk_classes": ["D"]}, counts={"D": 2})]).batches
    assert ok["counts"] == {"D": 2}


def test_counts_must_be_an_object() -> None:
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.counts: must be an object"):
        _plan(batches=[_batch(counts=[5])])


# -- full list (全覆盖/重点检查对象) ------------------------------------------------------------


def test_full_list_takes_usccs_and_non_market_identifiers_in_registry_form() -> None:
    rng = random.Random(7)
    first, second = make_uscc(rng), make_uscc(rng)
    full = [f" {first.lower()} ", second, "PROJ-2026-0001"]
    (batch,) = _plan(batches=[_batch(full_list=full)]).batches
    assert batch["full_list"] == [first, second, "PROJ-2026-0001"]


@pytest.mark.parametrize("identifier", ["91110000600037341X", "12345", "", "proj-0001"])
def test_full_list_identifier_that_is_neither_uscc_nor_non_market_is_rejected(
    identifier: str,
) -> None:
    full = ["PROJ-2026-0001", identifier]
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.full_list\[1\]: .* neither"):
        _plan(batches=[_batch(full_list=full)])


def test_full_list_names_a_subject_once() -> None:
    uscc = make_uscc(random.Random(8))
    with pytest.raises(InvalidPlan, match=rf"full_list: subjects listed more than once .*{uscc}"):
        _plan(batches=[_batch(full_list=[uscc, uscc.lower()])])


def test_full_list_must_be_a_list() -> None:
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.full_list: must be a list"):
        _plan(batches=[_batch(full_list="PROJ-2026-0001")])


def test_full_lists_of_a_plan_are_limited() -> None:
    half = MAX_FULL_LIST // 2 + 1
    batches = [
        _batch(full_list=[f"PROJ-{n:06d}" for n in range(half)]),
        _batch(name="第二批", full_list=[f"PROJ-{n:06d}" for n in range(half)]),
    ]
    with pytest.raises(InvalidPlan, match=f"at most {MAX_FULL_LIST}"):
        _plan(batches=batches)


# -- inspector rules -------------------------------------------------------------------------


def test_inspector_rules_are_recorded() -> None:
    batch = _batch(
        complaint_referral=True,
        cross_jurisdiction=True,
        avoid_previous_inspectors=False,
        min_group_size=3,
    )
    (checked,) = _plan(batches=[batch]).batches
    assert checked["complaint_referral"] is True
    assert checked["cross_jurisdiction"] is True
    assert checked["avoid_previous_inspectors"] is False
    assert checked["min_group_size"] == 3


@pytest.mark.parametrize(
    "key", ["complaint_referral", "cross_jurisdiction", "avoid_previous_inspectors"]
)
@pytest.mark.parametrize("value", ["false", 1, 0])
def test_rule_switch_that_is_not_a_boolean_is_rejected(key: str, value: Any) -> None:
    with pytest.raises(InvalidPlan, match=rf"batches\[0\]\.{key}: .* is not true or false"):
        _plan(batches=[_batch(**{key: value})])


@pytest.mark.parametrize("size", [1, 0, -2, 2.5, "3", True])
def test_group_of_fewer_than_two_or_not_a_number_is_rejected(size: Any) -> None:
    with pytest.raises(InvalidPlan, match=r"batches\[0\]\.min_group_size: .* integer ≥ 2"):
        _plan(batches=[_batch(min_group_size=size)])


def test_errors_name_the_batch_they_are_in() -> None:
    second = _batch(name="第二批", counts={"A": -1})
    with pytest.raises(InvalidPlan, match=r"batches\[1\]\.counts\.A"):
        _plan(batches=[_batch(), second])


# -- plans stored before these keys existed ------------------------------------------------

_OLD_KEYS = ("batch_id", "name", "pool", "ratios", "directed", "starts_on", "ends_on")
_OLD_POOL = ("region_prefixes", "kinds", "industries", "risk_classes")


def _as_stored_before(batch: dict[str, Any]) -> dict[str, Any]:
    old = {k: batch[k] for k in _OLD_KEYS}
    old["pool"] = {k: batch["pool"][k] for k in _OLD_POOL}
    return old


def test_plan_created_before_the_new_batch_keys_loads_with_their_defaults() -> None:
    pool = {"region_prefixes": ["4202"], "risk_classes": ["D"]}
    plan = _plan(batches=[_batch(directed=True, pool=pool, ratios={"D": 0.3})])
    created: Any = plan.collect_events()[0]
    (new,) = plan.batches
    old = _as_stored_before(new)
    legacy = dataclasses.replace(created, batches=[old])
    loaded = legacy.mutate(None)
    (batch,) = loaded.batches
    assert batch == {
        **old,
        "pool": {**old["pool"], "tags": [], "statuses": [], "flags": []},
        "counts": {},
        "full_list": [],
        "complaint_referral": False,
        "cross_jurisdiction": False,
        "avoid_previous_inspectors": True,
        "min_group_size": 2,
        "task_number": "",
        "programme": {},
    }
    assert batch == new  # a plan made today with the same input reads the same
    assert set(legacy.batches[0]) == set(_OLD_KEYS)  # the event itself is left alone
    assert set(legacy.batches[0]["pool"]) == set(_OLD_POOL)


def test_reading_a_batch_with_defaults_keeps_what_it_carries() -> None:
    (batch,) = _plan(
        batches=[_batch(counts={"D": 4}, full_list=["PROJ-0001"], min_group_size=4)]
    ).batches
    assert batch_with_defaults(batch) == batch
    assert batch_with_defaults({"name": "x"})["pool"]["flags"] == []
