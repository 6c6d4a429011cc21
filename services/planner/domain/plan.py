"""抽查计划 — an annual plan, single-department or joint (联合抽查), with its batches."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.planner.domain.errors import InvalidPlan, PlanStateError

# 综合大联查, 风险分类联查, 专项整治联查
MODES = ("comprehensive", "risk_based", "special")
# Default share of each credit-risk class to inspect (seeds: A 1 %, B 3 %, C 10 %, D 20 %).
DEFAULT_RATIOS: dict[str, float] = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
POOL_KEYS = ("region_prefixes", "kinds", "industries", "risk_classes")


def check_batch(year: int, batch: dict[str, Any], index: int) -> dict[str, Any]:
    """Validate one batch (批次) and return it in canonical form with its id."""
    where = f"batches[{index}]"
    starts, ends = date.fromisoformat(batch["starts_on"]), date.fromisoformat(batch["ends_on"])
    if ends < starts:
        raise InvalidPlan(f"{where}: ends_on {ends} is before starts_on {starts}")
    if starts.year != year or ends.year != year:
        raise InvalidPlan(f"{where}: the batch must lie within the plan year {year}")
    ratios = {**DEFAULT_RATIOS, **(batch.get("ratios") or {})}
    for risk_class, ratio in ratios.items():
        if risk_class not in DEFAULT_RATIOS:
            raise InvalidPlan(f"{where}: unknown risk class {risk_class!r}")
        if not 0 < ratio <= 1:
            raise InvalidPlan(f"{where}: ratio of class {risk_class} must be in (0, 1]")
    pool = {key: list((batch.get("pool") or {}).get(key) or []) for key in POOL_KEYS}
    return {
        "batch_id": str(batch.get("batch_id") or uuid.uuid4()),
        "name": batch["name"],
        "pool": pool,
        "ratios": ratios,
        "directed": bool(batch.get("directed", False)),
        "starts_on": starts.isoformat(),
        "ends_on": ends.isoformat(),
    }


def check_items(initiating: str, participating: list[str], items: list[dict[str, Any]]) -> None:
    """Every item is published; every department brings an item and only its own."""
    if not items:
        raise InvalidPlan("a plan needs at least one published item")
    for item in items:
        if not item.get("published"):
            raise InvalidPlan(f"item {item['code']} is not published; only published items")
    departments = {initiating, *participating}
    strangers = sorted({i["department"] for i in items} - departments)
    if strangers:
        raise InvalidPlan(f"items of departments {strangers} that do not take part in the plan")
    idle = sorted(d for d in departments if not any(i["department"] == d for i in items))
    if idle:
        raise InvalidPlan(f"departments {idle} take part but bring no item")
    if initiating in participating:
        raise InvalidPlan("the initiating department cannot also be a participating one")


class Plan(Aggregate):
    """抽查计划 — filed by a department, or a joint plan led by an initiating department."""

    @classmethod
    def create(
        cls,
        *,
        year: int,
        title: str,
        mode: str,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        batches: list[dict[str, Any]],
    ) -> Plan:
        """Validate and record ``PlanCreated``."""
        if mode not in MODES:
            raise InvalidPlan(f"mode must be one of {MODES}, not {mode!r}")
        if not batches:
            raise InvalidPlan("a plan needs at least one batch")
        check_items(initiating_department, participating_departments, items)
        keep = ("code", "department", "name", "category", "ratio")
        return cls(
            year=year,
            title=title,
            mode=mode,
            initiating_department=initiating_department,
            participating_departments=list(participating_departments),
            items=[{k: i[k] for k in keep} for i in items],
            batches=[check_batch(year, b, n) for n, b in enumerate(batches)],
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
        self.batches = batches
        self.published_on: str | None = None

    def publish(self, today: date) -> None:
        """Publish the plan (the office's act); batches become drawable."""
        if self.published_on is not None:
            raise PlanStateError(f"plan was published on {self.published_on}")
        self._published(published_on=today.isoformat())

    @event("PlanPublished")
    def _published(self, published_on: str) -> None:
        self.published_on = published_on
