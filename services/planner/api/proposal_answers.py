"""Answers of the proposal routes (部门拟发起的年度联合抽查计划), their deadline, merge
suggestions and the annual plan: what a route sends, field by field (see answers.py)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import Field

from libs.common.answers import Answer
from services.planner.api.answers import PoolView, ProposalItem

# -- proposals, deadlines, merge suggestions, the annual plan ------------------------------


class ProposalView(Answer):
    """A proposal as it stands."""

    id: UUID
    version: int
    year: int
    region: str
    department: str
    status: str
    title: str
    items: list[ProposalItem]
    pool: PoolView
    methods: list[str]
    starts_on: str
    ends_on: str
    ratios: dict[str, float]
    counts: dict[str, int]
    partners: list[str]
    note: str
    late_reason: str
    plan_id: str | None = Field(description="the plan it was merged into")
    plan_number: str | None


class ProposalAmended(ProposalView):
    """A proposal amended, and the fields that changed."""

    changed: list[str]


class LateReason(Answer):
    """A step taken after the deadline, with its reason."""

    step: str
    reason: str


class ProposalRow(Answer):
    """A proposal as the list shows it."""

    id: UUID
    year: int
    region: str
    department: str
    title: str
    items: list[ProposalItem]
    pool: PoolView
    methods: list[str]
    starts_on: date
    ends_on: date
    ratios: dict[str, float]
    counts: dict[str, int]
    partners: list[str]
    note: str
    status: str
    late_reasons: list[LateReason]
    withdrawal_reason: str
    plan_id: UUID | None
    plan_number: str
    filed_at: datetime
    updated_at: datetime
    version: int


class ProposalPage(Answer):
    """A page of proposals and the cursor of the next (null on the last page)."""

    items: list[ProposalRow]
    next: str | None


class Deadline(Answer):
    """报送截止日期 in force, and who set it (``office``, or the seeds' ``default``)."""

    region: str
    year: int
    deadline: date
    set_by: str


class OverlapView(Answer):
    """The scope the proposals share; tags and flags one list per member."""

    region_prefixes: list[str]
    kinds: list[str]
    industries: list[str]
    risk_classes: list[str]
    statuses: list[str]
    tags_all_of: list[list[str]]
    flags_all_of: list[list[str]]


class Member(Answer):
    """A proposal of a suggested group."""

    id: str
    department: str
    title: str


class SuggestedBatch(Answer):
    """One batch inside the overlap, from the earliest start to the latest end."""

    pool: PoolView
    starts_on: str
    ends_on: str


class Suggestion(Answer):
    """合并安排建议: proposals worth merging."""

    region: str
    proposals: list[Member]
    reason: str
    overlap: OverlapView
    subjects_in_overlap: int
    per_risk_class: dict[str, int]
    shared_methods: list[str]
    suggested_batch: SuggestedBatch


class Suggestions(Answer):
    """The year's merge suggestions, most subjects first."""

    year: int
    suggestions: list[Suggestion]


class CompiledPlan(Answer):
    """A plan compiled for the year."""

    plan_id: str
    number: str
    published: bool


class Publication(Answer):
    """汇总公示: the plans published together."""

    plan_ids: list[str]
    published_on: str


class AnnualPlan(Answer):
    """年度部门联合抽查计划."""

    region: str
    year: int
    plans: list[CompiledPlan]
    publications: list[Publication]


class PublishedPlan(Answer):
    """A plan published with the annual plan."""

    id: UUID
    number: str
    title: str


class AnnualPublished(Answer):
    """The plans an annual publication published."""

    region: str
    year: int
    published_on: date
    plans: list[PublishedPlan]
