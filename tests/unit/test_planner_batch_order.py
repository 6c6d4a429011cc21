"""The random order of a plan's batches (ssj-batch-order-1): announced ahead, drawn once
after the drawing, recomputable by anyone. No I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from services.planner.domain import batch_order
from services.planner.domain.errors import BatchOrderRefused, InvalidPlan, PlanStateError
from services.planner.domain.plan import Plan

NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
TASKS = [f"JH-420200-2027-0001-00{n}" for n in (3, 1, 2)]


def _announced(**change: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "plan_number": "JH-420200-2027-0001",
        "task_numbers": TASKS,
        "source": "cwl-ssq",
        "issue": "2027015",
        "scheduled_at": NOW + timedelta(hours=12),
        "announced_at": NOW,
        "lead_seconds": 600,
    }
    fields.update(change)
    return batch_order.announcement(**fields)  # type: ignore[arg-type]


def test_the_order_follows_the_published_formula_and_verifies() -> None:
    announced = _announced()
    assert announced["tasks"] == sorted(TASKS)
    text = json.dumps(announced, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert batch_order.announcement_hash(announced) == digest
    numbers = batch_order.canonical_numbers("03, 11  19 22 28 31 12")
    assert numbers == "3 11 19 22 28 31 12"
    # One spelling per drawing: nobody can pick an order among 3, 03 and 003.
    assert batch_order.canonical_numbers("003 011 19 22 28 31 012") == numbers
    seed = hashlib.sha256(f"ssj-batch-order-1\n{digest}\n{numbers}".encode()).digest()
    expected = sorted(TASKS, key=lambda t: hashlib.sha256(seed + t.encode()).hexdigest())
    got = batch_order.order(digest, numbers, announced["tasks"])  # type: ignore[arg-type]
    assert got == expected and sorted(got) == sorted(TASKS)
    assert batch_order.verify(announced, numbers, got)
    swapped = [got[1], got[0], got[2]]
    assert not batch_order.verify(announced, numbers, swapped)


def test_other_numbers_or_another_announcement_give_other_orders() -> None:
    """Over many drawings every batch comes first sometimes: the numbers decide."""
    announced = _announced()
    digest = batch_order.announcement_hash(announced)
    firsts = {
        batch_order.order(digest, f"{n:02d} 07", announced["tasks"])[0]  # type: ignore[arg-type]
        for n in range(60)
    }
    assert firsts == set(TASKS)
    other = batch_order.announcement_hash(_announced(issue="2027016"))
    assert other != digest


def test_announcement_needs_the_lead_and_two_batches() -> None:
    with pytest.raises(BatchOrderRefused) as refused:
        _announced(scheduled_at=NOW + timedelta(seconds=599))
    assert refused.value.rule == "batch_order_lead"
    with pytest.raises(BatchOrderRefused):
        _announced(task_numbers=TASKS[:1])
    with pytest.raises(InvalidPlan):
        batch_order.canonical_numbers("1 2 x")


def test_plan_records_the_order_once_and_only_after_the_drawing() -> None:
    plan = Plan.create(
        year=2027,
        title="2027年度联合抽查",
        mode="comprehensive",
        initiating_department="SAMR",
        participating_departments=[],
        items=[{"code": "S-1", "department": "SAMR", "name": "n", "category": "key", "ratio": 0.2}],
        batches=[
            {"name": f"第{n}批", "starts_on": "2027-03-01", "ends_on": "2027-04-30"} for n in (1, 2)
        ],
        number="JH-420200-2027-0001",
    )
    announced = _announced(task_numbers=[b["task_number"] for b in plan.batches])
    digest = batch_order.announcement_hash(announced)
    with pytest.raises(PlanStateError):
        plan.announce_batch_order(announced, digest)
    plan.publish(date(2027, 1, 20))
    plan.announce_batch_order(announced, digest)
    with pytest.raises(BatchOrderRefused) as twice:
        plan.announce_batch_order(announced, digest)
    assert twice.value.rule == "batch_order_once"
    order = batch_order.order(digest, "1 2", announced["tasks"])  # type: ignore[arg-type]
    with pytest.raises(BatchOrderRefused) as early:
        plan.draw_batch_order("1 2", order, NOW)
    assert early.value.rule == "batch_order_early"
    plan.draw_batch_order("1 2", order, NOW + timedelta(hours=13))
    assert plan.batch_order is not None and plan.batch_order["order"] == order
    with pytest.raises(BatchOrderRefused):
        plan.draw_batch_order("1 2", order, NOW + timedelta(hours=14))
