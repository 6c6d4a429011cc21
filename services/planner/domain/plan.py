"""抽查计划 — an annual plan, single-department or joint (联合抽查计划), with its batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.planner.domain.batches import batch_with_defaults, check_batches
from services.planner.domain.errors import (
    InvalidPlan,
    ItemNotPublished,
    PlanStateError,
    UnknownDepartment,
    UnknownItem,
)

# 综合大联查, 风险分类联查, 专项整治联查
MODES = ("comprehensive", "risk_based", "special")
# What a plan copies of each item: enough for draws and disclosure without the registry.
ITEM_FIELDS = ("code", "department", "name", "category", "ratio")


def select_items(
    codes: Sequence[str], catalogue: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """抽查事项 chosen for a plan, copied from the item list as it stands now.

    ``catalogue`` maps item codes to what the planner knows of them (including
    ``published``). Every code must be known and published; none may repeat.
    """
    if not codes:
        raise InvalidPlan("a plan needs at least one item")
    repeated = sorted({c for c in codes if list(codes).count(c) > 1})
    if repeated:
        raise InvalidPlan(f"items listed more than once: {repeated}")
    unknown = [c for c in codes if c not in catalogue]
    if unknown:
        raise UnknownItem(f"items not in the registry's item list: {unknown}")
    unpublished = [c for c in codes if not catalogue[c].get("published")]
    if unpublished:
        raise ItemNotPublished(
            f"items not published (only published items can be planned): {unpublished}"
        )
    return [{k: catalogue[c][k] for k in ITEM_FIELDS} for c in codes]


def check_registered(
    initiating: str, participating: Sequence[str], active: Mapping[str, bool]
) -> None:
    """Every department a plan names is an active department of the register (部门名录);
    ``active`` is what the planner knows of the register."""
    if not active.get(initiating, False):
        raise UnknownDepartment("initiating_department", [initiating])
    unknown = [d for d in participating if not active.get(d, False)]
    if unknown:
        raise UnknownDepartment("participating_departments", unknown)


def check_departments(
    initiating: str, participating: Sequence[str], items: Sequence[Mapping[str, Any]]
) -> None:
    """发起部门 and 参与部门: each brings at least one of its own items, no one else's."""
    if not initiating.strip():
        raise InvalidPlan("the initiating department must be named")
    if initiating in participating:
        raise InvalidPlan("the initiating department cannot also be a participating one")
    repeated = sorted({d for d in participating if list(participating).count(d) > 1})
    if repeated:
        raise InvalidPlan(f"participating departments listed more than once: {repeated}")
    departments = {initiating, *participating}
    strangers = sorted({i["department"] for i in items} - departments)
    if strangers:
        raise InvalidPlan(
            f"items of departments {strangers}, which do not take part in the plan: "
            f"{[i['code'] for i in items if i['department'] in strangers]}"
        )
    idle = [d for d in [initiating, *participating] if all(i["department"] != d for i in items)]
    if idle:
        raise InvalidPlan(f"departments {idle} take part in the plan but bring no item")


class Plan(Aggregate):
    """抽查计划 — a department's plan, or a joint plan led by an initiating department."""

    @classmethod
    def create(
        cls,
        *,
        year: int,
        title: str,
        mode: str,
        initiating_department: str,
        participating_departments: Sequence[str],
        items: Sequence[Mapping[str, Any]],
        batches: Sequence[Mapping[str, Any]],
    ) -> Plan:
        """Validate and record ``PlanCreated``; ``items`` come from :func:`select_items`."""
        if mode not in MODES:
            raise InvalidPlan(f"mode must be one of {MODES}, not {mode!r}")
        if not title.strip():
            raise InvalidPlan("the title must not be empty")
        if not items:
            raise InvalidPlan("a plan needs at least one item")
        check_departments(initiating_department, participating_departments, items)
        return cls(
            year=year,
            title=title.strip(),
            mode=mode,
            initiating_department=initiating_department,
            participating_departments=list(participating_departments),
            items=[{k: i[k] for k in ITEM_FIELDS} for i in items],
            batches=check_batches(year, list(batches)),
        )

    @event("PlanCreated")
    def __init__(
        self,
        year: int,
        title: str,
        mode: str,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        batches: list[dict[str, Any]],
    ) -> None:
        self.year = year
        self.title = title
        self.mode = mode
        self.initiating_department = initiating_department
        self.participating_departments = participating_departments
        self.items = items
        # Plans stored before a batch key existed lack it: fill its default, on read only.
        self.batches = [batch_with_defaults(b) for b in batches]
        self.published_on: str | None = None

    @property
    def published(self) -> bool:
        """Whether the office has published the plan (its batches can then be drawn)."""
        return self.published_on is not None

    def publish(self, today: date) -> None:
        """发布 — the joint-meeting office publishes the plan, once."""
        if self.published_on is not None:
            raise PlanStateError(f"the plan was already published on {self.published_on}")
        self._published(published_on=today.isoformat())

    @event("PlanPublished")
    def _published(self, published_on: str) -> None:
        self.published_on = published_on
