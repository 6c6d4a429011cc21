"""What the public sees of a plan's ratios and adjustments: flat lists with field names
only (the planner's records key some maps by item code or task number)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Per item of the ratio computation (the per-batch detail is the planner's, for staff).
PUBLIC_COVERAGE_FIELDS = (
    "code",
    "name",
    "category",
    "floor",
    "subjects",
    "planned",
    "share",
    "below_floor",
)
PUBLIC_CHANGE_FIELDS = ("change", "task_number", "field", "from", "to")


def public_overrides(overrides: Mapping[str, str]) -> list[dict[str, str]]:
    """Floor overrides as ``{item_code, reason}`` (their reasons are disclosed by rule)."""
    return [{"item_code": code, "reason": reason} for code, reason in sorted(overrides.items())]


def public_coverage(computation: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The share of each item's subjects the plan inspects, per item."""
    return [{k: row.get(k) for k in PUBLIC_COVERAGE_FIELDS} for row in computation.get("items", [])]


def _flat(change: str, task: str, field: str, before: Any, after: Any) -> list[dict[str, Any]]:
    """One entry per leaf: a changed map (pool, ratios, content) is shown key by key."""
    if isinstance(before, Mapping) or isinstance(after, Mapping):
        before, after = dict(before or {}), dict(after or {})
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                out += _flat(change, task, f"{field}.{key}", before.get(key), after.get(key))
        return out
    return [{"change": change, "task_number": task, "field": field, "from": before, "to": after}]


def public_changes(diff: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An adjustment's diff (domain/adjustments.py of the planner) as a flat list of
    ``{change, task_number, field, from, to}``."""
    out: list[dict[str, Any]] = []
    for field in ("title", "programme", "content"):
        if field in diff:
            out += _flat("plan", "", field, diff[field]["from"], diff[field]["to"])
    for task, fields in (diff.get("changed_batches") or {}).items():
        for field, change in fields.items():
            out += _flat("batch", task, field, change["from"], change["to"])
    out += [
        {"change": "batch_added", "task_number": t, "field": "", "from": None, "to": None}
        for t in diff.get("added_batches") or []
    ]
    out += [
        {"change": "batch_removed", "task_number": t, "field": "", "from": None, "to": None}
        for t in diff.get("removed_batches") or []
    ]
    out += [
        {"change": "participant_added", "task_number": "", "field": "", "from": None, "to": d}
        for d in diff.get("added_participants") or []
    ]
    out += [
        {"change": "item_added", "task_number": "", "field": "", "from": None, "to": c}
        for c in diff.get("added_items") or []
    ]
    return out
