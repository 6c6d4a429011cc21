"""Merge suggestions' scopes, ratios that add up (the 5 % floor) and adjustments. No I/O:
the registry's counts come from a small population counted here by the pool rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from services.planner.domain import coverage
from services.planner.domain.adjustments import adjusted
from services.planner.domain.errors import BatchDrawn, BatchOrderRefused, BelowFloor, InvalidPlan
from services.planner.domain.merging import candidates, methods_closeness, overlap
from services.planner.domain.plan import Plan

# (region, kind, industry, class, status, tags)
Subject = tuple[str, str, str, str, str, tuple[str, ...]]


def _matches(s: Subject, pool: Mapping[str, Sequence[str]]) -> bool:
    region, kind, industry, risk, status, tags = s
    statuses = [
        x for x in (pool.get("statuses") or ["operating"]) if x in ("operating", "moved_out")
    ]
    return (
        status in statuses
        and (
            not pool.get("region_prefixes")
            or any(region.startswith(p) for p in pool["region_prefixes"])
        )
        and (not pool.get("kinds") or kind in pool["kinds"])
        and (not pool.get("industries") or any(industry.startswith(p) for p in pool["industries"]))
        and (not pool.get("risk_classes") or risk in pool["risk_classes"])
        and (not pool.get("tags") or bool(set(tags) & set(pool["tags"])))
    )


def counter(population: list[Subject]):  # type: ignore[no-untyped-def]
    def count(queries: Sequence[Sequence[Mapping[str, Sequence[str]]]]) -> list[dict[str, Any]]:
        out = []
        for query in queries:
            per = {c: 0 for c in "ABCD"}
            for s in population:
                if all(_matches(s, p) for p in query):
                    per[s[3]] += 1
            out.append({"total": sum(per.values()), "per_risk_class": per})
        return out

    return count


# 1,000 food sellers of 黄石 (F52) in four classes, 200 restaurants (H62), 100 closed ones.
POPULATION: list[Subject] = (
    [("420202", "for_profit", "F5221", "A", "operating", ())] * 600
    + [("420202", "for_profit", "F5221", "B", "operating", ())] * 300
    + [("420203", "for_profit", "F5222", "C", "operating", ("food",))] * 80
    + [("420203", "non_profit", "F5222", "D", "operating", ("food",))] * 20
    + [("420204", "for_profit", "H6210", "B", "operating", ("food",))] * 200
    + [("420204", "for_profit", "F5221", "A", "deregistered", ())] * 100
)
ITEM = {
    "code": "SAMR-1",
    "department": "SAMR",
    "name": "食品销售抽查",
    "category": "general",
    "ratio": 0.05,
    "subject_kinds": ["for_profit"],
}
KEY_ITEM = {**ITEM, "code": "SAMR-K", "category": "key", "ratio": 0.2}


def _batch(**overrides: Any) -> dict[str, Any]:
    return {
        "batch_id": "b1",
        "task_number": "JH-420200-2027-0001-001",
        "name": "第一批次",
        "pool": {"region_prefixes": ["4202"], "industries": ["F52"]},
        "ratios": {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20},
        "counts": {},
        "full_list": [],
        **overrides,
    }


def _compute(items: list[dict[str, Any]], batches: list[dict[str, Any]]) -> dict[str, Any]:
    answers = counter(POPULATION)(coverage.queries("420200", items, batches))
    return coverage.compute("420200", items, batches, answers)


def test_region_prefix_drops_trailing_zero_pairs() -> None:
    assert [coverage.region_prefix(r) for r in ("420200", "420000", "420202")] == [
        "4202",
        "42",
        "420202",
    ]


def test_default_class_ratios_leave_a_general_item_under_its_floor_and_show_why() -> None:
    row = _compute([ITEM], [_batch()])["items"][0]
    # The item's subjects: 1,180 operating for-profit subjects in 4202 (non-profits and the
    # closed ones are not its subjects).
    assert row["subjects"] == 1180
    per_class = row["batches"][0]["per_risk_class"]
    # Pool: F52 operating = 600 A, 300 B, 80 C, 20 D; draws ceil(n × ratio).
    assert {c: per_class[c]["drawn"] for c in "ABCD"} == {"A": 6, "B": 9, "C": 8, "D": 4}
    # D: 4 drawn of 20, none of them for-profit: 0 expected of the item's subjects.
    assert per_class["D"]["planned"] == 0 and per_class["C"]["planned"] == 8
    assert row["planned"] == 23 and row["share"] == pytest.approx(23 / 1180, abs=1e-6)
    assert row["below_floor"] and row["floor"] == 0.05
    with pytest.raises(BelowFloor) as refused:
        coverage.check_floor(_compute([ITEM], [_batch()]), {})
    assert refused.value.rule == "general_item_floor" and "SAMR-1" in str(refused.value)


def test_override_records_a_reason_for_the_items_under_the_floor_only() -> None:
    computed = _compute([ITEM, KEY_ITEM], [_batch()])
    applied = coverage.check_floor(computed, {"SAMR-1": "首年试点", "SAMR-K": "无需"})
    assert applied == {"SAMR-1": "首年试点"}  # a key item has no floor to override
    assert computed["items"][1]["floor"] is None and not computed["items"][1]["below_floor"]


def test_raised_ratios_counts_and_full_lists_reach_the_floor() -> None:
    raised = _batch(ratios={"A": 0.06, "B": 0.05, "C": 0.10, "D": 0.20})
    row = _compute([ITEM], [raised])["items"][0]
    assert row["planned"] == 36 + 15 + 8 and row["share"] == 0.05 and not row["below_floor"]
    by_count = _batch(counts={"A": 60})
    row = _compute([ITEM], [by_count])["items"][0]
    assert row["batches"][0]["per_risk_class"]["A"] == {
        "pool": 600,
        "of_item": 600,
        "count": 60,
        "drawn": 60,
        "planned": 60.0,
    }
    # A 100 % list is shown, not counted: the planner cannot tell whose subjects it names.
    listed = _compute([ITEM], [_batch(full_list=["X"] * 50)])["items"][0]
    assert listed["planned"] == 23 and listed["batches"][0]["full_list"] == 50
    two = _compute([ITEM], [_batch(), _batch(batch_id="b2", name="第二批次")])
    assert two["items"][0]["planned"] == 46


def test_item_with_a_higher_ratio_has_that_ratio_as_its_floor() -> None:
    assert coverage.floor_of({**ITEM, "ratio": 0.08}) == 0.08
    assert coverage.floor_of(ITEM) == 0.05 and coverage.floor_of(KEY_ITEM) is None


def test_item_without_subjects_is_not_under_a_floor() -> None:
    nobody = {**ITEM, "subject_kinds": ["non_market"]}
    row = _compute([nobody], [_batch()])["items"][0]
    assert row["subjects"] == 0 and row["share"] is None and not row["below_floor"]


# -- merging ------------------------------------------------------------------------------


def _proposal(pid: str, dept: str, pool: dict[str, Any], methods: list[str]) -> dict[str, Any]:
    return {"id": pid, "department": dept, "pool": pool, "methods": methods}


def test_overlap_narrows_each_dimension_and_keeps_tag_lists_apart() -> None:
    scope = overlap(
        [
            {"region_prefixes": ["42"], "industries": ["F"], "tags": ["food"]},
            {"region_prefixes": ["4202", "4301"], "industries": ["F52", "H62"], "tags": ["cold"]},
        ]
    )
    assert scope is not None
    assert scope.region_prefixes == ["4202"] and scope.industries == ["F52"]
    assert scope.tags == [["cold"], ["food"]] and scope.statuses == ["operating"]
    assert overlap([{"region_prefixes": ["4202"]}, {"region_prefixes": ["4203"]}]) is None
    assert overlap([{"kinds": ["for_profit"]}, {"kinds": ["non_profit"]}]) is None
    assert overlap([{"statuses": ["revoked"]}, {}]) is None


def test_candidates_group_overlapping_proposals_of_other_departments_with_close_methods() -> None:
    food = {"region_prefixes": ["4202"], "industries": ["F52"]}
    found = candidates(
        [
            _proposal("1", "SAMR", food, ["on_site", "documentary"]),
            _proposal("2", "TAX", {"region_prefixes": ["42"]}, ["on_site", "documentary"]),
            _proposal("3", "SAMR", food, ["on_site"]),  # same department as 1
            _proposal("4", "EPB", {"region_prefixes": ["4203"]}, ["on_site"]),  # elsewhere
            _proposal("5", "HEALTH", food, ["sampling"]),  # other methods
            _proposal("6", "FIRE", food, ["on_site", "documentary", "online"]),
        ]
    )
    assert [[m["id"] for m in c.members] for c in found] == [["1", "2", "6"]]
    assert found[0].methods == ["documentary", "on_site"]
    assert "进一次门、查多项事" in found[0].reason(42)
    assert methods_closeness(["on_site"], ["on_site", "online"]) == 0.5


# -- adjustments ---------------------------------------------------------------------------


def _published_plan() -> Plan:
    plan = Plan.create(
        year=2027,
        title="2027年度联合抽查",
        mode="comprehensive",
        initiating_department="SAMR",
        participating_departments=[],
        items=[ITEM],
        batches=[
            {"name": "第一批次", "starts_on": "2027-03-01", "ends_on": "2027-05-31"},
            {"name": "第二批次", "starts_on": "2027-06-01", "ends_on": "2027-08-31"},
        ],
        number="JH-420200-2027-0001",
        region="420200",
    )
    plan.publish(__import__("datetime").date(2027, 2, 20))
    return plan


def test_drawn_batch_keeps_its_pool_but_its_end_can_be_extended() -> None:
    plan = _published_plan()
    first, second = (b["batch_id"] for b in plan.batches)
    with pytest.raises(BatchDrawn) as refused:
        adjusted(plan, {"change_batches": [{"batch_id": first, "ratios": {"A": 0.5}}]}, {first})
    assert refused.value.rule == "drawn_batch_fixed"
    with pytest.raises(BatchDrawn, match="extended"):
        adjusted(plan, {"change_batches": [{"batch_id": first, "ends_on": "2027-04-30"}]}, {first})
    with pytest.raises(BatchDrawn):
        adjusted(plan, {"remove_batches": [first]}, {first})
    state, diff = adjusted(
        plan,
        {
            "change_batches": [
                {"batch_id": first, "ends_on": "2027-06-30"},
                {"batch_id": second, "ratios": {"A": 0.05}},
            ],
            "add_batches": [
                {"name": "第三批次", "starts_on": "2027-09-01", "ends_on": "2027-11-30"}
            ],
        },
        {first},
    )
    assert diff["changed_batches"]["JH-420200-2027-0001-001"] == {
        "ends_on": {"from": "2027-05-31", "to": "2027-06-30"}
    }
    assert diff["changed_batches"]["JH-420200-2027-0001-002"]["ratios"]["to"]["A"] == 0.05
    assert diff["added_batches"] == ["JH-420200-2027-0001-003"]
    assert [b["batch_id"] for b in state["batches"][:2]] == [first, second]
    assert state["batches_numbered"] == 3


def test_removed_batch_number_is_never_given_again() -> None:
    plan = _published_plan()
    second = plan.batches[1]["batch_id"]
    state, _ = adjusted(
        plan,
        {
            "remove_batches": [second],
            "add_batches": [
                {"name": "补充批次", "starts_on": "2027-09-01", "ends_on": "2027-09-30"}
            ],
        },
        set(),
    )
    assert [b["task_number"][-3:] for b in state["batches"]] == ["001", "003"]


def test_adjustment_that_changes_nothing_or_adds_an_idle_department_is_refused() -> None:
    plan = _published_plan()
    with pytest.raises(InvalidPlan, match="changes nothing"):
        adjusted(plan, {"title": plan.title}, set())
    with pytest.raises(InvalidPlan, match="bring no item"):
        adjusted(plan, {"add_participants": ["TAX"]}, set())
    tax_item = {**ITEM, "code": "TAX-1", "department": "TAX"}
    state, diff = adjusted(plan, {"add_participants": ["TAX"]}, set(), [tax_item])
    assert state["participating_departments"] == ["TAX"] and diff["added_items"] == ["TAX-1"]


def test_adjusted_plan_is_its_next_edition_with_every_edition_kept() -> None:
    plan = _published_plan()
    state, diff = adjusted(plan, {"title": "2027年度联合抽查（调整）"}, set())
    plan.adjust(
        today=__import__("datetime").date(2027, 6, 1),
        reason="新增专项任务",
        approved_by="联席会议第3次会议",
        state=state,
        changes=diff,
        coverage={},
        floor_overrides={},
    )
    assert plan.edition == 2 and [e["edition"] for e in plan.editions] == [1, 2]
    assert plan.editions[0]["plan"]["title"] == "2027年度联合抽查"
    assert plan.editions[1]["changes"]["title"]["to"] == "2027年度联合抽查（调整）"


def test_a_batch_drawing_outside_the_plans_region_counts_nothing_towards_the_floor() -> None:
    elsewhere = POPULATION + [("420102", "for_profit", "F5221", "A", "operating", ())] * 900
    items, batches = [ITEM], [_batch(), _batch(batch_id="b2", pool={"region_prefixes": ["4201"]})]
    answers = counter(elsewhere)(coverage.queries("420200", items, batches))
    row = coverage.compute("420200", items, batches, answers)["items"][0]
    assert row["subjects"] == 1180 and row["planned"] == 23 and row["below_floor"]


def test_the_events_summary_keeps_per_batch_figures_while_they_are_few() -> None:
    computed = _compute([ITEM, KEY_ITEM], [_batch()])
    small = coverage.summary(computed)
    assert small["items"][0]["batches"] == [["JH-420200-2027-0001-001", 23.0]]
    many = [_batch(batch_id=f"b{n}", name=f"批{n}") for n in range(2600)]
    big = coverage.summary(
        coverage.compute(
            "420200",
            [ITEM, KEY_ITEM],
            many,
            counter(POPULATION[:50])(coverage.queries("420200", [ITEM, KEY_ITEM], many)),
        )
    )
    assert "batches" not in big["items"][0] and big["items"][0]["code"] == "SAMR-1"


def test_a_batch_named_twice_in_one_adjustment_is_refused() -> None:
    plan = _published_plan()
    first = plan.batches[0]["batch_id"]
    twice = [{"batch_id": first, "ratios": {"A": 0.5}}, {"batch_id": first, "name": "改名"}]
    with pytest.raises(InvalidPlan, match="named twice"):
        adjusted(plan, {"change_batches": twice}, set())


def test_adding_what_the_plan_has_changes_nothing_and_the_order_fixes_the_batches() -> None:
    plan = _published_plan()
    with pytest.raises(InvalidPlan, match="changes nothing"):
        adjusted(plan, {"add_participants": []}, set(), [ITEM])
    plan.announce_batch_order({"issue": "1", "tasks": []}, "h")
    more = {"name": "补充", "starts_on": "2027-09-01", "ends_on": "2027-09-30"}
    with pytest.raises(BatchOrderRefused) as fixed:
        adjusted(plan, {"add_batches": [more]}, set())
    assert fixed.value.rule == "batch_order_fixed"


def test_a_suggestion_groups_sixteen_proposals_at_most() -> None:
    food = {"region_prefixes": ["4202"]}
    found = candidates([_proposal(str(n), f"D{n}", food, ["on_site"]) for n in range(20)])
    assert [len(c.members) for c in found] == [16, 4]
