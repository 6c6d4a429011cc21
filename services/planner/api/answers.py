"""Answers of the planner's API: what a route sends, field by field (the OpenAPI document
declares them and FastAPI checks every answer against them before it leaves).

Keys that only some records carry (a plan's content and a batch's programme keep the texts
given, a coverage class is drawn by ratio or by count, a drawing's numbers come after its
announcement) are optional fields, and the routes answering them leave unset fields out
(``response_model_exclude_unset``): an answer says what the record says, never a null it
does not hold.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from libs.common.answers import Answer

# -- the parts of a plan -------------------------------------------------------------------


class PoolView(Answer):
    """抽查对象范围 as recorded: every filter, empty lists restricting nothing."""

    region_prefixes: list[str]
    kinds: list[str]
    industries: list[str]
    risk_classes: list[str]
    tags: list[str]
    statuses: list[str]
    flags: list[str]


class ProgrammeView(Answer):
    """工作方案 of a batch: the texts given (a key without text is left out)."""

    scope: str = ""
    count: str = ""
    schedule: str = ""
    coordination: str = ""
    requirements: str = ""


class ContentView(Answer):
    """What a plan sets out besides its batches: the texts given (others left out)."""

    organisation: str = ""
    procedure: str = ""
    methods: str = ""
    checks: str = ""
    handling: str = ""
    disclosure: str = ""
    follow_up: str = ""


class BatchView(Answer):
    """批次 as the plan holds it, every key filled."""

    batch_id: str
    task_number: str = Field(description="任务编号; empty for a plan without a number")
    name: str
    pool: PoolView
    ratios: dict[str, float] = Field(description="share per credit-risk class")
    counts: dict[str, int] = Field(description="fixed number per credit-risk class, if any")
    full_list: list[str]
    directed: bool
    complaint_referral: bool
    cross_jurisdiction: bool
    avoid_previous_inspectors: bool
    min_group_size: int
    starts_on: str
    ends_on: str
    programme: ProgrammeView


class PlanItemView(Answer):
    """An item as the plan copied it from the item list."""

    code: str
    department: str
    name: str
    category: str
    ratio: float


class PlanView(Answer):
    """抽查计划 as it stands."""

    id: UUID
    version: int
    year: int
    title: str
    mode: str
    programme: str
    number: str
    region: str
    content: ContentView
    proposals: list[str] = Field(description="ids of the proposals merged into it")
    edition: int = Field(description="0 until published, then the edition in force")
    initiating_department: str
    participating_departments: list[str]
    items: list[PlanItemView]
    batches: list[BatchView]
    published: bool
    published_on: date | None


class PlanRow(PlanView):
    """A plan as the list (and GET /v1/plans/{id}) shows it."""

    created_at: datetime
    floor_overrides: dict[str, str] = Field(description="item code → the reason recorded")


class PlanPage(Answer):
    """A page of plans and the cursor of the next (null on the last page)."""

    items: list[PlanRow]
    next: str | None


# -- the share of each item's subjects a plan inspects (domain/coverage.py) ----------------


class ClassCoverage(Answer):
    """One credit-risk class of one batch: drawn by ``ratio`` or by ``count``."""

    pool: int
    of_item: int
    ratio: float | None = None
    count: int | None = None
    drawn: int
    planned: float


class BatchCoverage(Answer):
    """What one batch is expected to inspect of one item's subjects."""

    batch_id: str
    task_number: str
    name: str
    per_risk_class: dict[str, ClassCoverage]
    full_list: int = Field(description="subjects of its 100 % list (shown, not counted)")
    planned: float


class ItemCoverageFigures(Answer):
    """One item's figures: its subjects in the region and the share the plan inspects."""

    code: str
    name: str | None
    category: str | None
    item_ratio: float | None
    floor: float | None = Field(description="a general item's least share; null for key items")
    subjects: int
    planned: float
    share: float | None
    below_floor: bool


class ItemCoverage(ItemCoverageFigures):
    """One item's figures, batch by batch."""

    batches: list[BatchCoverage]


class CoverageView(Answer):
    """抽查比例 computed as publication would."""

    region: str
    region_prefix: str
    items: list[ItemCoverage]


class ItemCoverageSummary(ItemCoverageFigures):
    """One item's figures as publication records them; per batch [task number, planned]
    while the plan's item × batch pairs stay few (left out otherwise)."""

    batches: list[tuple[str, float]] | None = None


class CoverageSummary(Answer):
    """The computation a publication records."""

    region: str
    region_prefix: str
    items: list[ItemCoverageSummary]


# -- publication, editions, adjustments ----------------------------------------------------


class PlanPublished(Answer):
    """A plan published (edition 1), with the computation of its ratios."""

    id: UUID
    number: str
    published: bool
    version: int
    edition: int
    published_on: str
    floor_overrides: dict[str, str] = Field(description="item code → the reason recorded")
    coverage: CoverageSummary


class PlanAdjusted(PlanPublished):
    """A plan adjusted: its next edition, with the diff."""

    changes: dict[str, Any] = Field(description="what changed: field → {from, to}, batches")


class PlanSnapshot(Answer):
    """What an edition of a plan says."""

    title: str
    mode: str
    programme: str
    content: ContentView
    initiating_department: str
    participating_departments: list[str]
    items: list[PlanItemView]
    batches: list[BatchView]


class Edition(Answer):
    """版本: one publication of a plan."""

    edition: int
    published_on: str
    reason: str
    approved_by: str
    changes: dict[str, Any] = Field(description="what changed: field → {from, to}, batches")
    floor_overrides: dict[str, str]
    coverage: CoverageSummary
    plan: PlanSnapshot


class PlanEditions(Answer):
    """Every published edition of a plan."""

    id: UUID
    number: str
    editions: list[Edition]


class BatchOrder(Answer):
    """批次顺序: the drawing announced, then its numbers and the order they give."""

    protocol: str
    plan_number: str
    tasks: list[str]
    source: str
    source_name: str
    issue: str
    scheduled_at: str
    announced_at: str
    announcement_hash: str
    numbers: str | None = None
    order: list[str] | None = None
    drawn_at: str | None = None


class PlanOrder(Answer):
    """A plan's batch order."""

    id: UUID
    number: str
    batch_order: BatchOrder


class Mode(Answer):
    """联查模式."""

    code: str
    name: str
    needs_programme: bool


class ProposalItem(Answer):
    """An item a proposal names, as copied from the item list."""

    code: str
    department: str
    name: str
    category: str
    ratio: float
    methods: list[str]


class ItemKnown(ProposalItem):
    """An item of the registry as the planner knows it."""

    legal_basis: str
    subject_kinds: list[str]
    published: bool
