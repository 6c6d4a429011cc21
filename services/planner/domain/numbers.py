"""抽查计划编号 and 任务编号 — the numbers the national disclosure system shows for a plan
and for each of its batches (tasks).

A plan number is ``JH-<region>-<year>-<sequence>``: the six-digit GB/T 2260 code of the
initiating department's region, the plan year and a four-digit sequence within that region
and year, given in the order plans are filed (``JH-420200-2026-0007``). A task number is the
plan number and the batch's three-digit position in the order batches were added
(``JH-420200-2026-0007-002``); a batch added by an adjustment takes the next position, so
no number ever changes or returns.
"""

from __future__ import annotations

import re

PLAN_NUMBER = re.compile(r"JH-(\d{6})-(\d{4})-(\d{4,})")
TASK_NUMBER = re.compile(r"JH-\d{6}-\d{4}-\d{4,}-\d{3}")


def plan_number(region: str, year: int, sequence: int) -> str:
    """抽查计划编号 of the ``sequence``-th plan of ``region`` in ``year``."""
    return f"JH-{region}-{year}-{sequence:04d}"


def task_number(plan: str, position: int) -> str:
    """任务编号 of the batch at ``position`` (1-based) of the plan numbered ``plan``."""
    return f"{plan}-{position:03d}"
