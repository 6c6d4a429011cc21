"""抽查比例 that add up — the share of each item's subjects a plan will inspect in its year.

The item list fixes each item's ratio and category (004: 一般检查事项 at least 5 %, 重点检查
事项 without upper limit); the batches spread the draws over credit-risk classes (A 1 %,
B 3 %, C 10 %, D 20 % by default). The two meet here: for every item, the subjects each
batch is expected to draw among the item's subjects, over the number of the item's subjects
in the plan's region. Precedence (the seeds' A 1 % and 5 % floor conflict): the class
ratios decide who is drawn, and the item's floor is checked on the year's total; a plan that
leaves a general item under its floor is refused unless the office records an override for
that item, with a reason disclosed with the plan.

Counts come from the registry (the planner holds no subjects): :func:`queries` says what to
ask, :func:`compute` turns the answers into the computation, shown as is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from services.planner.domain.errors import BelowFloor

CLASSES = ("A", "B", "C", "D")
# Item × batch figures an event keeps at most (about 40 bytes each).
MAX_SUMMARY_PAIRS = 5000
GENERAL_FLOOR = 0.05  # 一般检查事项: 抽查比例最低不能低于 5 %
Query = list[dict[str, list[str]]]  # pools a subject must all match


def region_prefix(region: str) -> str:
    """The prefix of a GB/T 2260 code's subjects: 420200 → 4202, 420000 → 42."""
    prefix = region
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def _kinds_key(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(item.get("subject_kinds") or []))


def queries(
    region: str, items: Sequence[Mapping[str, Any]], batches: Sequence[Mapping[str, Any]]
) -> list[Query]:
    """What to count, in this order: each item's subjects in the region; each batch's
    pool; each batch's pool among the subjects of each item's kinds in the region."""
    prefix = region_prefix(region)
    kinds = list(dict.fromkeys(_kinds_key(i) for i in items))
    out: list[Query] = [
        [{"region_prefixes": [prefix], "kinds": list(_kinds_key(i))}] for i in items
    ]
    out += [[dict(b["pool"])] for b in batches]
    # Only the item's subjects in the plan's region count towards its share: a batch that
    # draws elsewhere (or other kinds) inspects no subject of the denominator.
    out += [
        [dict(b["pool"]), {"region_prefixes": [prefix], "kinds": list(k)}]
        for b in batches
        for k in kinds
    ]
    return out


def _drawn(members: int, batch: Mapping[str, Any], risk_class: str) -> tuple[int, dict[str, Any]]:
    """How many of a class's members the draw takes (as the draw service counts them)."""
    counts = batch.get("counts") or {}
    if risk_class in counts:
        count = int(counts[risk_class])
        return min(members, count), {"count": count}
    ratio = batch["ratios"][risk_class]
    exact = Fraction(Decimal(str(ratio)))
    return min(members, math.ceil(members * exact)), {"ratio": ratio}


def floor_of(item: Mapping[str, Any]) -> float | None:
    """The least share a general item must reach (its ratio in the item list, 5 % at
    least); key items have none."""
    if item.get("category") != "general":
        return None
    return max(GENERAL_FLOOR, float(item.get("ratio") or 0))


def compute(
    region: str,
    items: Sequence[Mapping[str, Any]],
    batches: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The computation, from the registry's ``answers`` to :func:`queries` (each with
    ``per_risk_class``). Expected values: a batch drawing ``d`` of a class's ``n`` pool
    subjects draws ``d × m / n`` of the ``m`` of them that are the item's subjects in the
    plan's region; its 100 % list is shown and not counted."""
    kinds = list(dict.fromkeys(_kinds_key(i) for i in items))
    universe = answers[: len(items)]
    pools = answers[len(items) : len(items) + len(batches)]
    of_kinds = answers[len(items) + len(batches) :]
    rows: list[dict[str, Any]] = []
    for item in items:
        k = kinds.index(_kinds_key(item))
        subjects = sum(int(universe[len(rows)]["per_risk_class"][c]) for c in CLASSES)
        shown = []
        planned = 0.0
        for b, batch in enumerate(batches):
            per_class = {}
            batch_planned = 0.0
            for c in CLASSES:
                n = int(pools[b]["per_risk_class"][c])
                m = int(of_kinds[b * len(kinds) + k]["per_risk_class"][c])
                drawn, rule = _drawn(n, batch, c)
                expected = drawn * m / n if n else 0.0
                batch_planned += expected
                per_class[c] = {
                    "pool": n,
                    "of_item": m,
                    **rule,
                    "drawn": drawn,
                    "planned": round(expected, 2),
                }
            # The 100 % list is inspected in full, but the planner cannot tell which of its
            # subjects are the item's in the region: it is shown, not counted (the floor
            # is checked on the random draws alone; a list that matters gets an override).
            full = len(batch.get("full_list") or [])
            planned += batch_planned
            shown.append(
                {
                    "batch_id": batch.get("batch_id"),
                    "task_number": batch.get("task_number", ""),
                    "name": batch.get("name"),
                    "per_risk_class": per_class,
                    "full_list": full,
                    "planned": round(batch_planned, 2),
                }
            )
        share = planned / subjects if subjects else None
        floor = floor_of(item)
        rows.append(
            {
                "code": item["code"],
                "name": item.get("name"),
                "category": item.get("category"),
                "item_ratio": item.get("ratio"),
                "floor": floor,
                "subjects": subjects,
                "planned": round(planned, 2),
                "share": None if share is None else round(share, 6),
                "below_floor": bool(floor is not None and share is not None and share < floor),
                "batches": shown,
            }
        )
    return {"region": region, "region_prefix": region_prefix(region), "items": rows}


def summary(computation: Mapping[str, Any]) -> dict[str, Any]:
    """The computation as events record it: per item the figures and, while they stay few,
    per batch what it is expected to inspect (the per-class detail is
    GET /v1/plans/{id}/coverage's), so a plan of many items and batches fits one message."""
    rows = computation["items"]
    pairs = sum(len(row["batches"]) for row in rows)
    out = []
    for row in rows:
        item = {k: v for k, v in row.items() if k != "batches"}
        if pairs <= MAX_SUMMARY_PAIRS:
            item["batches"] = [
                [b["task_number"] or b["batch_id"], b["planned"]] for b in row["batches"]
            ]
        out.append(item)
    return {
        "region": computation["region"],
        "region_prefix": computation["region_prefix"],
        "items": out,
    }


def check_floor(computation: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """The overrides that publication needs (item code → reason); refused when a general
    item is under its floor without one. An override of an item above its floor is not
    recorded (it overrides nothing)."""
    under = [row for row in computation["items"] if row["below_floor"]]
    missing = [row for row in under if not str(overrides.get(row["code"], "")).strip()]
    if missing:
        shown = "; ".join(
            f"{r['code']} {r['share']:.2%} < {r['floor']:.0%} "
            f"({r['planned']} of {r['subjects']} subjects)"
            for r in missing
        )
        raise BelowFloor(
            "general_item_floor",
            f"general items under their floor (一般检查事项抽查比例不低于5%): {shown}; raise "
            "the batches' ratios, add a batch, or record an override with its reason "
            "(floor_overrides)",
        )
    return {row["code"]: str(overrides[row["code"]]).strip() for row in under}
