"""Answers of the public API and of the export records: what a route sends, field by field
(the OpenAPI document declares them and FastAPI checks every answer against them, except
``GET /v1/public/results``, whose page PostgreSQL writes: results_json.py, held to
``ResultPage`` by tests/integration/test_results_json.py).

They follow the allow-lists of ``domain/public.py`` and ``domain/national.py``: a field
listed there is declared here, and a field declared here but missing from the allow-lists
cannot be answered. Plans and draws are copies of the planner's and the draw service's
records, kept as those services recorded them; a batch of a plan recorded before one of
its keys existed lacks that key (the plan routes leave unset fields out,
``response_model_exclude_unset``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from libs.common.answers import Answer

# -- items 随机抽查事项清单 --------------------------------------------------------------


class PublicItem(Answer):
    """A published item (抽查事项)."""

    code: str
    department: str
    name: str
    category: str
    ratio: float
    methods: list[str]
    legal_basis: str
    published_at: datetime | None = Field(description="when the version shown took effect")


class ItemVersion(Answer):
    """One version of an item: when it took effect, its terms, whether it was published."""

    version: int
    at: datetime
    name: str
    category: str
    ratio: float
    methods: list[str]
    legal_basis: str
    published: bool


class ItemVersions(Answer):
    """An item from its first publication on."""

    department: str
    code: str
    versions: list[ItemVersion]


# -- plans 抽查计划 --------------------------------------------------------------------


class PlanItem(Answer):
    """An item as the plan copied it."""

    code: str
    department: str
    name: str
    category: str
    ratio: float


class PublicBatch(Answer):
    """批次 as the plan recorded it: the keys its record holds (a key newer than the record
    is left out, not shown as null)."""

    batch_id: str
    name: str
    task_number: str | None = Field(None, description="任务编号")
    directed: bool | None = Field(None, description="定向抽查 (true) or 不定向抽查")
    pool: dict[str, list[str]] | None = Field(None, description="抽查对象范围: filter → values")
    ratios: dict[str, float] | None = None
    counts: dict[str, int] | None = None
    full_list: list[str] | None = None
    complaint_referral: bool | None = None
    cross_jurisdiction: bool | None = None
    avoid_previous_inspectors: bool | None = None
    min_group_size: int | None = None
    starts_on: str | None = None
    ends_on: str | None = None
    programme: dict[str, str] | None = Field(None, description="工作方案: the texts given")


class FloorOverride(Answer):
    """A general item left under its floor, with the reason the office recorded."""

    item_code: str
    reason: str


class ItemShare(Answer):
    """The share of one item's subjects the plan inspects."""

    code: str
    name: str | None
    category: str | None
    floor: float | None
    subjects: int | None
    planned: float | None
    share: float | None
    below_floor: bool | None


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


class PublicPlan(Answer):
    """A published plan as it stands (its latest edition)."""

    plan_id: UUID
    number: str
    year: int
    title: str
    mode: str
    mode_text: str
    programme: str
    content: dict[str, str] = Field(description="组织领导, 抽查程序, …: the texts given")
    initiating_department: str
    participating_departments: list[str]
    items: list[PlanItem]
    batches: list[PublicBatch]
    edition: int
    floor_overrides: list[FloorOverride]
    coverage: list[ItemShare]
    batch_order: BatchOrder | None
    published_at: datetime
    adjusted_at: datetime | None


class PlanChange(Answer):
    """One change of an adjustment, leaf by leaf."""

    change: str
    task_number: str
    field: str
    from_: Any = Field(alias="from")
    to: Any


class PlanSnapshot(Answer):
    """What an edition of a plan says."""

    title: str
    mode: str
    programme: str
    content: dict[str, str]
    initiating_department: str
    participating_departments: list[str]
    items: list[PlanItem]
    batches: list[PublicBatch]


class PlanEdition(Answer):
    """版本: one publication of a plan, with the reason of its adjustment."""

    edition: int
    published_at: datetime
    reason: str
    approved_by: str
    changes: list[PlanChange]
    floor_overrides: list[FloorOverride]
    coverage: list[ItemShare]
    plan: PlanSnapshot


class PlanEditions(Answer):
    """Every published edition of a plan."""

    plan_id: str
    editions: list[PlanEdition]


# -- draws 抽取 ---------------------------------------------------------------------


class DrawItem(Answer):
    """An item of the drawn batch (null: the draw's record does not hold it)."""

    code: str | None
    category: str | None
    ratio: float | None


class Inspector(Answer):
    """An inspector of a group, as disclosed."""

    inspector_id: str
    name: str
    department: str
    role: str


class DrawnSubject(Answer):
    """A drawn subject and its group."""

    subject_id: str | None
    identifier: str | None
    name: str | None
    stratum: str | None
    inspectors: list[Inspector]


class Replacement(Answer):
    """递补: kind, subject, the reason's code and wording, when."""

    kind: str | None
    subject: str | None
    reason_code: str
    reason_text: str
    replaced_at: str | None


class StratumRoot(Answer):
    """A stratum of the pool: its size and Merkle root."""

    size: int
    root: str


class PublicDraw(Answer):
    """A draw as disclosed: its announcement, then its execution and replacements."""

    draw_id: UUID
    batch_id: str
    plan_id: UUID
    batch_name: str
    items: list[DrawItem]
    initiating_department: str
    announced_at: datetime
    announcement_hash: str
    protocol: str
    selection: str
    pool_hash: str | None
    pool_size: int
    strata_rules: dict[str, dict[str, Any]] = Field(description="per class: count or ratio")
    commitment: str
    entropy_source: str
    entropy_not_before: str | None
    executed_at: datetime | None
    secret: str | None
    entropy: str | None
    seed: str | None
    strata: dict[str, dict[str, int]] | None
    voided_at: datetime | None
    void_reason_code: str | None
    void_reason_text: str | None
    pool_spec: dict[str, Any] | None = Field(description="ssj-draw-3: how the pool was made")
    pool_roots: dict[str, StratumRoot] | None
    status: str = Field(description="announced, executed, voided or overdue")
    subjects: list[DrawnSubject]
    replacements: list[Replacement]
    proof_url: str


# -- results 抽查结果 (national system's fields) -----------------------------------------


class Finding(Answer):
    """One item's result."""

    item_code: str | None
    outcome: str
    outcome_text: str


class FollowUpStep(Answer):
    """后续处置: what, when, to whom."""

    step: str
    step_text: str
    on: str | None
    receiving_department: str | None


class Edition(Answer):
    """An edition of a result (a correction is the next)."""

    edition: int | None
    published_on: str | None
    outcome: str | None
    outcome_text: str | None


class PublicResult(Answer):
    """A result as disclosed, in the national system's fields."""

    record_id: UUID
    draw_id: UUID
    plan_id: UUID
    plan_number: str | None
    plan_name: str | None
    task_number: str | None
    task_name: str | None
    inspection_type: str
    inspecting_authority: str
    department: str
    region_code: str | None
    subject_identifier: str
    subject_name: str
    inspected_on: date
    outcome: str
    outcome_text: str
    remark: str = Field(description="备注")
    pending_kind: str | None
    non_cooperation_case: str | None
    non_cooperation_text: str | None
    decided_on: date | None
    published_on: date | None
    publication_due: date | None
    publication_due_provisional: bool
    late: bool
    corrections: int
    disclosed_at: datetime
    findings: list[Finding]
    follow_up: list[FollowUpStep]
    editions: list[Edition]


class ResultPage(Answer):
    """A page of results; ``next`` is the ``after`` of the next page (null: the last)."""

    items: list[PublicResult]
    next: str | None


class Overdue(Answer):
    """A deadline missed and not yet made good."""

    task_id: UUID
    kind: str
    kind_text: str
    due_on: str
    noticed_on: str
    subject_identifier: str
    department: str
    inspecting_authority: str


class OverduePage(Answer):
    """A page of missed deadlines; ``next`` is the ``after`` of the next page."""

    items: list[Overdue]
    next: str | None


# -- exports 报送 -------------------------------------------------------------------


class ExportView(Answer):
    """What was sent: the period, the format, the rows, the file's SHA-256 and size."""

    export_id: str
    period_from: str
    period_to: str
    format: str
    rows: int
    sha256: str
    size: int
    file_name: str
    recorded_at: str
