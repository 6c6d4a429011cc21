"""调整 — what an adjustment of a published plan may change, and the diff it discloses
(001: 调整年度抽查计划应严格履行相关工作程序，调整后的年度抽查计划要及时向社会公开).

Rules: a batch that has been drawn keeps its pool, ratios, counts, 100 % list and rules,
since its draw was announced on them; only its end date can be extended (and its work
programme's text completed). Batches not yet drawn change freely or are removed; batches
and participating departments (with the items they bring) can be added. Items added apply to
batches drawn from then on: a drawn batch's draw announced the items it carries.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from services.planner.domain.batches import batch_with_defaults, check_batch
from services.planner.domain.errors import BatchDrawn, BatchOrderRefused, InvalidPlan
from services.planner.domain.plan import (
    ITEM_FIELDS,
    Plan,
    check_content,
    check_departments,
    number_batches,
)

# What a drawn batch may still change.
DRAWN_MAY_CHANGE = ("ends_on", "programme")
# Keys compared for a batch's diff (its identity, batch_id and task_number, never changes).
BATCH_KEYS = (
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
)


def _change(before: Any, after: Any) -> dict[str, Any]:
    return {"from": before, "to": after}


def _changed_batch(
    year: int, batch: dict[str, Any], change: Mapping[str, Any], drawn: bool, index: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A batch after ``change`` and the diff of it."""
    keys = sorted(set(change) - {"batch_id"})
    if drawn:
        refused = [k for k in keys if k not in DRAWN_MAY_CHANGE]
        if refused:
            raise BatchDrawn(
                "drawn_batch_fixed",
                f"batch {batch['task_number'] or batch['batch_id']} has been drawn: its "
                f"{refused} cannot change (only its end date can be extended)",
            )
        if "ends_on" in change and str(change["ends_on"]) < batch["ends_on"]:
            raise BatchDrawn(
                "drawn_batch_fixed",
                f"batch {batch['task_number'] or batch['batch_id']} has been drawn: its end "
                f"date can be extended, not brought forward from {batch['ends_on']}",
            )
    merged = {**batch, **{k: change[k] for k in keys}}
    if "programme" in change:  # the keys given, over the programme as it stands
        merged["programme"] = {**batch["programme"], **(change["programme"] or {})}
    checked = check_batch(year, merged, index)
    checked["task_number"] = batch["task_number"]
    diff = {k: _change(batch[k], checked[k]) for k in BATCH_KEYS if batch[k] != checked[k]}
    return checked, diff


def adjusted(
    plan: Plan,
    changes: Mapping[str, Any],
    drawn: Collection[str],
    added_items: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan's next state and the diff, from ``changes``:

    ``title``, ``programme``, ``content`` (keys replaced); ``change_batches`` (each with its
    ``batch_id`` and the keys to change); ``remove_batches`` (ids, of batches not drawn);
    ``add_batches``; ``add_participants`` (departments) with ``added_items`` (their items,
    from :func:`~services.planner.domain.plan.select_items`). ``drawn``: ids of the plan's
    batches that have been drawn.
    """
    diff: dict[str, Any] = {}
    title = str(changes.get("title") or plan.title).strip()
    if title != plan.title:
        diff["title"] = _change(plan.title, title)
    programme = str(changes.get("programme", plan.programme)).strip()
    if programme != plan.programme:
        diff["programme"] = _change(plan.programme, programme)
    # Only the keys given change (an empty string clears one on purpose).
    content = check_content({**plan.content, **(changes.get("content") or {})})
    if content != plan.content:
        diff["content"] = _change(plan.content, content)

    batches = [batch_with_defaults(b) for b in plan.batches]
    by_id = {b["batch_id"]: n for n, b in enumerate(batches)}
    changed: dict[str, Any] = {}
    named: set[str] = set()
    for change in changes.get("change_batches") or []:
        batch_id = str(change.get("batch_id"))
        if batch_id not in by_id:
            raise InvalidPlan(f"change_batches: the plan has no batch {batch_id}")
        if batch_id in named:
            raise InvalidPlan(f"change_batches: batch {batch_id} is named twice")
        named.add(batch_id)
        n = by_id[batch_id]
        batches[n], batch_diff = _changed_batch(plan.year, batches[n], change, batch_id in drawn, n)
        if batch_diff:
            changed[batches[n]["task_number"] or batch_id] = batch_diff
    if changed:
        diff["changed_batches"] = changed

    if plan.batch_order is not None and (
        changes.get("remove_batches") or changes.get("add_batches")
    ):
        raise BatchOrderRefused(
            "batch_order_fixed",
            "the batches' order was announced for the batches as they were: none can be "
            "added or removed now",
        )
    removed = [str(b) for b in changes.get("remove_batches") or []]
    for batch_id in removed:
        if batch_id not in by_id:
            raise InvalidPlan(f"remove_batches: the plan has no batch {batch_id}")
        if batch_id in drawn:
            raise BatchDrawn(
                "drawn_batch_fixed", f"batch {batch_id} has been drawn: it cannot be removed"
            )
    if removed:
        diff["removed_batches"] = [
            batches[by_id[b]]["task_number"] or b for b in dict.fromkeys(removed)
        ]
        batches = [b for b in batches if b["batch_id"] not in removed]
    if not batches and not changes.get("add_batches"):
        raise InvalidPlan("a plan keeps at least one batch")

    numbered = plan.batches_numbered
    new = [
        check_batch(plan.year, b, len(batches) + n)
        for n, b in enumerate(changes.get("add_batches") or [])
    ]
    if new:
        number_batches(plan.number, new, first=numbered + 1)
        numbered += len(new)
        diff["added_batches"] = [b["task_number"] or b["batch_id"] for b in new]
    batches += new
    names = [b["name"] for b in batches]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidPlan(f"batch names must be unique within a plan: {repeated}")

    participants = list(plan.participating_departments)
    added = [str(d) for d in changes.get("add_participants") or []]
    known = {i["code"] for i in plan.items}
    items = list(plan.items) + [
        {k: i[k] for k in ITEM_FIELDS} for i in added_items if i["code"] not in known
    ]
    new_participants = [d for d in dict.fromkeys(added) if d not in participants]
    new_items = [i["code"] for i in items[len(plan.items) :]]
    if new_participants or new_items:
        participants += new_participants
        check_departments(plan.initiating_department, participants, items)
        if new_participants:
            diff["added_participants"] = new_participants
        if new_items:
            diff["added_items"] = new_items
    if not diff:
        raise InvalidPlan("the adjustment changes nothing")
    state = {
        "title": title,
        "programme": programme,
        "content": content,
        "participating_departments": participants,
        "items": items,
        "batches": batches,
        "batches_numbered": numbered,
    }
    return state, diff
