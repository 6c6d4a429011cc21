"""抽查计划 — an annual plan, single-department or joint (联合抽查计划), with its batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.planner.domain.batches import batch_with_defaults, check_batches
from services.planner.domain.errors import (
    BatchOrderRefused,
    InvalidPlan,
    ItemNotPublished,
    PlanStateError,
    UnknownDepartment,
    UnknownItem,
)
from services.planner.domain.numbers import task_number

# What a plan copies of each item: enough for draws and disclosure without the registry.
ITEM_FIELDS = ("code", "department", "name", "category", "ratio")
# What a plan sets out besides its batches (000: 组织领导、抽查程序、检查方式、检查内容、
# 处理程序、抽查结果公开、后续监管衔接), as text.
CONTENT_KEYS = (
    "organisation",
    "procedure",
    "methods",
    "checks",
    "handling",
    "disclosure",
    "follow_up",
)


def check_content(content: Mapping[str, Any] | None) -> dict[str, str]:
    """The plan's text under :data:`CONTENT_KEYS` (each optional)."""
    content = content or {}
    unknown = sorted(set(content) - set(CONTENT_KEYS))
    if unknown:
        raise InvalidPlan(f"content: unknown keys {unknown}; known: {CONTENT_KEYS}")
    return {k: str(content[k]).strip() for k in CONTENT_KEYS if str(content.get(k) or "").strip()}


def number_batches(number: str, batches: list[dict[str, Any]], first: int = 1) -> None:
    """Give each batch its task number (任务编号), from position ``first`` on."""
    for position, batch in enumerate(batches, start=first):
        batch["task_number"] = task_number(number, position) if number else ""


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
    """抽查计划 — a department's plan, or a joint plan led by an initiating department.

    Its editions (版本): the first publication is edition 1; each adjustment (调整) is
    published as the next edition. Every edition stays readable (:attr:`editions`).
    """

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
        programme: str = "",
        number: str = "",
        region: str = "",
        content: Mapping[str, Any] | None = None,
        proposals: Sequence[str] = (),
    ) -> Plan:
        """Validate and record ``PlanCreated``; ``items`` come from :func:`select_items`;
        the mode is one the office keeps (checked by the application, domain/modes.py);
        ``proposals`` are the proposals the plan absorbs (合并安排)."""
        if not title.strip():
            raise InvalidPlan("the title must not be empty")
        if not items:
            raise InvalidPlan("a plan needs at least one item")
        check_departments(initiating_department, participating_departments, items)
        checked = check_batches(year, list(batches))
        number_batches(number, checked)
        return cls(
            year=year,
            title=title.strip(),
            mode=mode,
            initiating_department=initiating_department,
            participating_departments=list(participating_departments),
            items=[{k: i[k] for k in ITEM_FIELDS} for i in items],
            batches=checked,
            programme=programme.strip(),
            number=number,
            region=region,
            content=check_content(content),
            proposals=list(proposals),
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
        # Absent from plans created before modes were a list and plans were numbered:
        programme: str = "",
        number: str = "",
        region: str = "",
        content: dict[str, str] | None = None,
        proposals: list[str] | None = None,
    ) -> None:
        self.year = year
        self.programme = programme  # 工作方案 of a 专项整治 plan
        self.number = number  # 抽查计划编号
        self.region = region  # the initiating department's region (GB/T 2260)
        self.content = content or {}
        self.proposals = proposals or []  # proposals merged into the plan
        self.title = title
        self.mode = mode
        self.initiating_department = initiating_department
        self.participating_departments = participating_departments
        self.items = items
        # Plans stored before a batch key existed lack it: fill its default, on read only.
        self.batches = [batch_with_defaults(b) for b in batches]
        self.batches_numbered = len(batches)  # positions given; a removed one stays taken
        self.published_on: str | None = None
        self.edition = 0
        self.editions: list[dict[str, Any]] = []
        self.floor_overrides: dict[str, str] = {}
        self.batch_order: dict[str, Any] | None = None  # domain/batch_order.py

    @property
    def published(self) -> bool:
        """Whether the office has published the plan (its batches can then be drawn)."""
        return self.published_on is not None

    def snapshot(self) -> dict[str, Any]:
        """What an edition of the plan says."""
        return {
            "title": self.title,
            "mode": self.mode,
            "programme": self.programme,
            "content": self.content,
            "initiating_department": self.initiating_department,
            "participating_departments": self.participating_departments,
            "items": self.items,
            "batches": self.batches,
        }

    def publish(
        self,
        today: date,
        coverage: Mapping[str, Any] | None = None,
        floor_overrides: Mapping[str, str] | None = None,
    ) -> None:
        """发布 — the joint-meeting office publishes the plan, once, with the computation of
        its ratios and the overrides it recorded (both disclosed with it)."""
        if self.published_on is not None:
            raise PlanStateError(f"the plan was already published on {self.published_on}")
        self._published(
            published_on=today.isoformat(),
            coverage=dict(coverage or {}),
            floor_overrides=dict(floor_overrides or {}),
        )

    @event("PlanPublished")
    def _published(
        self,
        published_on: str,
        coverage: dict[str, Any] | None = None,
        floor_overrides: dict[str, str] | None = None,
    ) -> None:
        self.published_on = published_on
        self.floor_overrides = floor_overrides or {}
        self.edition = 1
        self.editions.append(
            {
                "edition": 1,
                "published_on": published_on,
                "reason": "",
                "approved_by": "",
                "changes": {},
                "floor_overrides": self.floor_overrides,
                "coverage": coverage or {},
                "plan": self.snapshot(),
            }
        )

    def adjust(
        self,
        *,
        today: date,
        reason: str,
        approved_by: str,
        state: Mapping[str, Any],
        changes: Mapping[str, Any],
        coverage: Mapping[str, Any],
        floor_overrides: Mapping[str, str],
    ) -> None:
        """调整 — publish the next edition; ``state`` and ``changes`` come from
        :func:`services.planner.domain.adjustments.adjusted`."""
        if self.published_on is None:
            raise PlanStateError("only a published plan is adjusted; publish it first")
        if not reason.strip() or not approved_by.strip():
            raise InvalidPlan("an adjustment states why and who approved it")
        self._adjusted(
            edition=self.edition + 1,
            published_on=today.isoformat(),
            reason=reason.strip(),
            approved_by=approved_by.strip(),
            changes=dict(changes),
            coverage=dict(coverage),
            floor_overrides=dict(floor_overrides),
            **state,
        )

    @event("PlanAdjusted")
    def _adjusted(
        self,
        edition: int,
        published_on: str,
        reason: str,
        approved_by: str,
        changes: dict[str, Any],
        coverage: dict[str, Any],
        floor_overrides: dict[str, str],
        title: str,
        programme: str,
        content: dict[str, str],
        participating_departments: list[str],
        items: list[dict[str, Any]],
        batches: list[dict[str, Any]],
        batches_numbered: int,
    ) -> None:
        self.edition = edition
        self.title = title
        self.programme = programme
        self.content = content
        self.participating_departments = participating_departments
        self.items = items
        self.batches = [batch_with_defaults(b) for b in batches]
        self.batches_numbered = batches_numbered
        self.floor_overrides = floor_overrides
        self.editions.append(
            {
                "edition": edition,
                "published_on": published_on,
                "reason": reason,
                "approved_by": approved_by,
                "changes": changes,
                "floor_overrides": floor_overrides,
                "coverage": coverage,
                "plan": self.snapshot(),
            }
        )

    # -- the batches' order drawn at random 批次顺序 (domain/batch_order.py) --------------

    def announce_batch_order(self, announced: Mapping[str, Any], digest: str) -> None:
        """Record the announcement of the order's drawing (once)."""
        if self.published_on is None:
            raise PlanStateError("the batches' order is drawn for a published plan")
        if self.batch_order is not None:
            raise BatchOrderRefused(
                "batch_order_once",
                f"the order was announced already (drawing {self.batch_order['issue']})",
            )
        self._order_announced(announcement=dict(announced), announcement_hash=digest)

    @event("BatchOrderAnnounced")
    def _order_announced(self, announcement: dict[str, Any], announcement_hash: str) -> None:
        self.batch_order = {**announcement, "announcement_hash": announcement_hash}

    def draw_batch_order(self, numbers: str, order: list[str], now: datetime) -> None:
        """Record the drawing's numbers and the order they give (once, after the drawing)."""
        if self.batch_order is None:
            raise BatchOrderRefused("batch_order_unannounced", "no drawing was announced")
        if "order" in self.batch_order:
            raise BatchOrderRefused("batch_order_once", "the order was drawn already")
        if now < datetime.fromisoformat(self.batch_order["scheduled_at"]):
            raise BatchOrderRefused(
                "batch_order_early",
                f"the drawing takes place at {self.batch_order['scheduled_at']}: its numbers "
                "cannot be known before",
            )
        self._order_drawn(numbers=numbers, order=order, drawn_at=now.isoformat())

    @event("BatchOrderDrawn")
    def _order_drawn(self, numbers: str, order: list[str], drawn_at: str) -> None:
        assert self.batch_order is not None
        self.batch_order = {**self.batch_order, "numbers": numbers, "order": order}
        self.batch_order["drawn_at"] = drawn_at
