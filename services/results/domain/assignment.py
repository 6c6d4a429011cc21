"""检查任务 — a drawn subject waiting for its result, as the draw service announced it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Assignment:
    """检查任务 — one subject of one draw, its inspection group and its result deadline.

    ``due_on`` is None while the holiday calendar does not cover the deadline yet.
    """

    draw_id: str
    subject_id: str
    batch_id: str
    plan_id: str
    identifier: str
    name: str
    initiating_department: str
    items: tuple[Mapping[str, Any], ...]
    inspectors: tuple[Mapping[str, Any], ...]
    ends_on: date
    due_on: date | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Assignment:
        """Build from a read-model row (or any mapping with the same keys)."""
        return cls(
            draw_id=str(fields["draw_id"]),
            subject_id=str(fields["subject_id"]),
            batch_id=str(fields["batch_id"]),
            plan_id=str(fields["plan_id"]),
            identifier=fields["identifier"],
            name=fields["name"],
            initiating_department=fields["initiating_department"],
            items=tuple(fields["items"]),
            inspectors=tuple(fields["inspectors"]),
            ends_on=_day(fields["ends_on"]),
            due_on=None if fields.get("due_on") is None else _day(fields["due_on"]),
        )

    @property
    def item_codes(self) -> set[str]:
        """Codes of the items this inspection covers (进一次门，查多项事)."""
        return {str(i["code"]) for i in self.items}

    @property
    def inspector_ids(self) -> set[str]:
        """Ids of the inspectors of this subject's group."""
        return set(inspector_ids(self.inspectors))


@dataclass(frozen=True)
class CurrentGroup:
    """What a task command needs of its subject's assignment: the ids of its inspection
    group (检查组) as the draw has it now, after any 递补, and the result deadline (None
    while the holiday calendar does not cover it yet)."""

    inspector_ids: frozenset[str]
    due_on: date | None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> CurrentGroup:
        """Build from the assignment's ``inspectors`` and ``due_on``."""
        due_on = fields.get("due_on")
        return cls(
            inspector_ids=inspector_ids(fields["inspectors"]),
            due_on=None if due_on is None else _day(due_on),
        )


def inspector_ids(members: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The ids of a group's members (检查组成员), as their records name them."""
    return frozenset(str(m["inspector_id"]) for m in members)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
