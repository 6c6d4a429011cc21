"""批次顺序 — the order of a plan's batches drawn at random (004: 抽查比例高的，可以通过随机抽取
的方式确定检查批次顺序), from a public drawing named before it takes place, as the draw
service draws its subjects from one (protocol ``ssj-batch-order-1``).

1. The office announces: the plan number, its task numbers in canonical order (sorted),
   the entropy source (a source the draw service keeps), the issue and the drawing's time,
   all before the drawing. The announcement's hash is SHA-256 of its canonical JSON (keys
   sorted, no spaces, UTF-8).
2. After the drawing, its numbers are entered in canonical form (the numbers as drawn,
   as plain decimals without leading zeros, separated by single spaces).
   ``seed = SHA-256("ssj-batch-order-1\\n" + announcement hash + "\\n" + numbers)``; the
   batches run in the order of ``SHA-256(seed + task number)`` (hex, ascending).

Anyone holding the published announcement and the drawing's official numbers recomputes the
order (:func:`verify`); nobody could know it when the announcement was made.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.planner.domain.errors import BatchOrderRefused, InvalidPlan

PROTOCOL = "ssj-batch-order-1"
NUMBERS = re.compile(r"(0|[1-9][0-9]{0,2})( (0|[1-9][0-9]{0,2})){0,49}")


def canonical_numbers(text: str) -> str:
    """The drawing's numbers as plain decimals (no leading zeros: 03 and 3 are one number,
    so nobody can pick among spellings) separated by single spaces; refused if anything
    else."""
    tokens = text.replace(",", " ").replace("|", " ").split()
    numbers = " ".join(str(int(t)) if t.isdigit() and len(t) <= 3 else t for t in tokens)
    if not NUMBERS.fullmatch(numbers):
        raise InvalidPlan(
            f"the drawing's numbers are 1 to 50 numbers of 1-3 digits, not {text[:80]!r}"
        )
    return numbers


def announcement(
    *,
    plan_number: str,
    task_numbers: Sequence[str],
    source: str,
    issue: str,
    scheduled_at: datetime,
    announced_at: datetime,
    lead_seconds: int,
) -> dict[str, Any]:
    """The announcement, refused when the drawing is not far enough ahead or the plan has
    fewer than two batches."""
    if len(task_numbers) < 2:
        raise BatchOrderRefused("batch_order_batches", "a plan of one batch has no order to draw")
    if (scheduled_at - announced_at).total_seconds() < lead_seconds:
        raise BatchOrderRefused(
            "batch_order_lead",
            f"the drawing must lie at least {lead_seconds} s after the announcement, so the "
            "announcement is public before the numbers exist (公告须在开奖前公开)",
        )
    return {
        "protocol": PROTOCOL,
        "plan_number": plan_number,
        "tasks": sorted(task_numbers),
        "source": source,
        "issue": issue,
        "scheduled_at": scheduled_at.isoformat(),
        "announced_at": announced_at.isoformat(),
    }


def announcement_hash(announced: Mapping[str, Any]) -> str:
    """SHA-256 of the announcement's canonical JSON."""
    text = json.dumps(announced, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def order(announced_hash: str, numbers: str, tasks: Sequence[str]) -> list[str]:
    """The batches' order from the announcement's hash and the drawing's numbers."""
    seed = hashlib.sha256(f"{PROTOCOL}\n{announced_hash}\n{numbers}".encode()).digest()
    return sorted(tasks, key=lambda task: hashlib.sha256(seed + task.encode()).hexdigest())


def verify(announced: Mapping[str, Any], numbers: str, claimed: Sequence[str]) -> bool:
    """Whether ``claimed`` is the order the announcement and the numbers give."""
    digest = announcement_hash(announced)
    return list(claimed) == order(digest, canonical_numbers(numbers), announced["tasks"])
