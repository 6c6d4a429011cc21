"""Proposals 部门拟发起的年度联合抽查计划, their deadline, numbers and the annual plan. No I/O."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.planner.domain.annual import AnnualPlan
from services.planner.domain.errors import (
    DeadlinePassed,
    InvalidPlan,
    PlanStateError,
    ProposalClosed,
)
from services.planner.domain.numbers import PLAN_NUMBER, TASK_NUMBER, task_number
from services.planner.domain.proposals import (
    Proposal,
    check_mergeable,
    default_batch,
    default_deadline,
    lateness,
)

ITEM = {
    "code": "SAMR-1",
    "department": "SAMR",
    "name": "企业公示信息抽查",
    "category": "general",
    "ratio": 0.05,
    "methods": ["on_site", "documentary"],
}
CONTENT: dict[str, Any] = {
    "title": "食品销售者抽查",
    "items": [ITEM],
    "pool": {"region_prefixes": ["4202"], "industries": ["F52"]},
    "methods": ["on_site"],
    "starts_on": "2027-04-01",
    "ends_on": "2027-06-30",
    "ratios": {"C": 0.15},
    "partners": ["TAX"],
}
ON_TIME = date(2027, 1, 15)


def _file(**overrides: Any) -> Proposal:
    fields: dict[str, Any] = {
        "year": 2027,
        "region": "420200",
        "department": "SAMR",
        "content": CONTENT,
        "today": ON_TIME,
        "deadline": default_deadline(2027),
    }
    fields.update(overrides)
    return Proposal.file(**fields)


def test_default_deadline_is_the_end_of_february_leap_years_included() -> None:
    assert default_deadline(2027) == date(2027, 2, 28)
    assert default_deadline(2028) == date(2028, 2, 29)


def test_proposal_is_filed_with_its_defaults_and_no_late_reason_on_time() -> None:
    proposal = _file()
    assert proposal.status == "filed" and proposal.late_reason == ""
    assert proposal.ratios == {"A": 0.01, "B": 0.03, "C": 0.15, "D": 0.20}
    assert proposal.pool["statuses"] == [] and proposal.items[0]["methods"] == ITEM["methods"]
    assert [type(e).__name__ for e in proposal.collect_events()] == ["ProposalFiled"]


def test_late_proposal_is_refused_without_a_reason_and_recorded_with_one() -> None:
    late = date(2027, 3, 1)
    with pytest.raises(DeadlinePassed) as refused:
        _file(today=late)
    assert refused.value.rule == "proposal_deadline" and "2027-02-28" in str(refused.value)
    proposal = _file(today=late, late_reason="机构改革后新增职责")
    assert proposal.late_reason == "机构改革后新增职责"


def test_lateness_is_counted_from_the_day_after_the_deadline() -> None:
    deadline = date(2027, 2, 28)
    assert lateness(deadline, deadline, "", "file") == ""
    with pytest.raises(DeadlinePassed):
        lateness(date(2027, 3, 1), deadline, "  ", "amend")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"items": [{**ITEM, "department": "TAX", "code": "TAX-1"}]}, "own items"),
        ({"methods": ["sampling"]}, "not methods of the proposed items"),
        ({"methods": ["on_site", "on_site"]}, "each once"),
        ({"starts_on": "2026-12-01"}, "within 2027"),
        ({"partners": ["SAMR"]}, "other departments"),
        ({"title": "  "}, "title"),
    ],
)
def test_proposal_content_rules(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPlan, match=message):
        _file(content={**CONTENT, **change})


def test_amendment_records_only_what_changed_and_late_amendment_needs_a_reason() -> None:
    proposal = _file()
    proposal.collect_events()
    deadline = default_deadline(2027)
    changed = proposal.amend(
        {"title": CONTENT["title"], "ratios": {"C": 0.2}}, today=ON_TIME, deadline=deadline
    )
    assert changed == {"ratios": {"A": 0.01, "B": 0.03, "C": 0.2, "D": 0.20}}
    assert proposal.amend({"title": CONTENT["title"]}, today=ON_TIME, deadline=deadline) == {}
    assert [type(e).__name__ for e in proposal.collect_events()] == ["ProposalAmended"]
    with pytest.raises(DeadlinePassed):
        proposal.amend({"note": "补充"}, today=date(2027, 3, 2), deadline=deadline)
    with pytest.raises(InvalidPlan, match="cannot be amended"):
        proposal.amend({"year": 2028}, today=ON_TIME, deadline=deadline)


def test_withdrawn_or_merged_proposal_changes_no_more() -> None:
    deadline = default_deadline(2027)
    withdrawn = _file()
    withdrawn.withdraw("并入市级专项", today=ON_TIME, deadline=deadline)
    with pytest.raises(ProposalClosed) as closed:
        withdrawn.amend({"note": "x"}, today=ON_TIME, deadline=deadline)
    assert closed.value.rule == "proposal_closed"
    with pytest.raises(ProposalClosed):
        check_mergeable([withdrawn])

    merged = _file()
    merged.absorb("plan-1", "JH-420200-2027-0001")
    with pytest.raises(ProposalClosed, match="JH-420200-2027-0001"):
        merged.absorb("plan-2", "JH-420200-2027-0002")
    with pytest.raises(ProposalClosed):
        merged.withdraw("x", today=ON_TIME, deadline=deadline)


def test_proposals_of_different_regions_or_repeated_do_not_merge() -> None:
    one, other = _file(), _file(region="420300")
    with pytest.raises(InvalidPlan, match="years or regions"):
        check_mergeable([one, other])
    with pytest.raises(InvalidPlan, match="more than once"):
        check_mergeable([one, one])
    with pytest.raises(InvalidPlan, match="at least one"):
        check_mergeable([])


def test_annual_plan_numbers_plans_in_order_and_publishes_the_compiled_ones() -> None:
    annual = AnnualPlan(region="420200", year=2027)
    first = annual.number("p1", compiled=True)
    second = annual.number("p2", compiled=False)
    assert (first, second) == ("JH-420200-2027-0001", "JH-420200-2027-0002")
    assert PLAN_NUMBER.fullmatch(first) and TASK_NUMBER.fullmatch(task_number(first, 3))
    assert task_number(first, 3) == "JH-420200-2027-0001-003"
    assert annual.unpublished() == ["p1"]  # p2 was filed directly, not compiled
    annual.publish(["p1"], date(2027, 3, 10))
    assert annual.unpublished() == []
    with pytest.raises(PlanStateError):
        annual.publish([], date(2027, 3, 11))


def test_default_batch_is_the_proposal_itself_or_the_overlap_at_the_higher_ratios() -> None:
    one = _file()
    single = default_batch([one])
    assert single["pool"] == one.pool and single["ratios"]["C"] == 0.15
    assert (single["starts_on"], single["ends_on"]) == ("2027-04-01", "2027-06-30")
    wider = _file(
        department="TAX",
        content={
            **CONTENT,
            "items": [{**ITEM, "code": "TAX-1", "department": "TAX"}],
            "pool": {"region_prefixes": ["42"], "kinds": ["for_profit"]},
            "ratios": {"A": 0.02},
            "ends_on": "2027-09-30",
            "partners": [],
        },
    )
    merged = default_batch([one, wider])
    assert merged["pool"]["region_prefixes"] == ["4202"] and merged["pool"]["kinds"] == [
        "for_profit"
    ]
    assert merged["ratios"] == {"A": 0.02, "B": 0.03, "C": 0.15, "D": 0.2}
    assert merged["ends_on"] == "2027-09-30" and merged["directed"] is True
    apart = _file(content={**CONTENT, "pool": {"region_prefixes": ["4203"]}})
    with pytest.raises(InvalidPlan, match="do not overlap"):
        default_batch([one, apart])


def test_default_batch_refuses_an_overlap_one_pool_cannot_hold() -> None:
    cold = _file(content={**CONTENT, "pool": {"region_prefixes": ["4202"], "tags": ["cold"]}})
    hot = _file(
        department="TAX",
        content={
            **CONTENT,
            "items": [{**ITEM, "code": "TAX-1", "department": "TAX"}],
            "pool": {"region_prefixes": ["4202"], "tags": ["hot"]},
            "partners": [],
        },
    )
    with pytest.raises(InvalidPlan, match="different tags"):
        default_batch([cold, hot])
