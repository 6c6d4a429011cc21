"""Answers of the results service's API: what a route sends, field by field (the OpenAPI
document declares them and FastAPI checks every answer against them before it leaves).

A task's report, forms and group are recorded as the domain checked them
(domain/inspection.py, domain/forms.py); they are declared here as objects.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from libs.common.answers import Answer

# -- inspection tasks 检查任务 ------------------------------------------------------------


class ReportView(Answer):
    """检查记录表 as recorded (the notes are internal)."""

    inspected_from: str
    inspected_to: str
    category: str
    pending_kind: str | None
    items: list[dict[str, Any]] = Field(description="per item: methods, reuse, points")
    notice: dict[str, Any] | None
    signature: dict[str, Any] | None
    non_cooperation: dict[str, Any] | None
    evidence: list[str]
    summary: str


class FileView(Answer):
    """A file named on the task (证据 or 文书)."""

    name: str
    media_type: str
    size: int
    purpose: str


class ReturnView(Answer):
    """退回, with the reviewer's reason."""

    reason: str
    returned_on: str


class PublishedView(Answer):
    """The result as published (公示)."""

    category: str
    category_text: str
    severity: str
    pending_kind: str | None
    non_cooperation_case: str | None
    inspected_to: str
    items: list[dict[str, Any]]
    edition: int
    decided_on: str | None
    published_on: str
    publication_due: str
    publication_due_provisional: bool
    late: bool


class PendingCorrection(Answer):
    """更正 waiting for review."""

    report: ReportView
    reason: str


class TaskCorrection(Answer):
    """An approved correction: the category from and to, why, when reviewed."""

    from_: str | None = Field(alias="from")
    to: str
    reason: str
    reviewed_on: str


class FollowUpStep(Answer):
    """A step of the follow-up, with its documents."""

    step: str
    on: str
    documents: list[str]


class FollowUpView(Answer):
    """后续处置: none → ordered → reinspected → closed."""

    state: str
    decided_on: str | None
    deadline: str | None
    corrected: bool | None
    reinspected_on: str | None
    outcome: str | None
    closed_on: str | None
    steps: list[FollowUpStep]


class RecountView(Answer):
    """期限重算: the deadlines counted again once the office loaded ``year``."""

    year: int
    due_on: str
    due_on_provisional: bool
    publication_due: str | None
    publication_due_provisional: bool | None


class TaskView(Answer):
    """A task as its readers see it: everything, the internal notes included."""

    id: UUID
    version: int
    draw_id: str
    subject_id: str
    batch_id: str
    plan_id: str
    subject_identifier: str
    subject_name: str
    implementing_department: str
    initiating_department: str
    group: list[dict[str, Any]] = Field(description="the group as dispatched")
    forms: list[dict[str, Any]] = Field(description="the check forms of its items")
    ends_on: str
    due_on: str | None
    dispatched_on: str
    state: str
    report: ReportView | None
    files: dict[str, FileView] = Field(description="by SHA-256")
    submitted_on: str | None
    late: bool
    returns: list[ReturnView]
    reviewed_on: str | None
    published: PublishedView | None
    pending_correction: PendingCorrection | None
    corrections: list[TaskCorrection]
    entrants: set[str] = Field(description="who entered or changed the result")
    previous_case: str | None
    recounted: RecountView | None = Field(
        description="the deadlines as last counted again after a year was loaded"
    )
    follow_up: FollowUpView


class TaskRow(Answer):
    """A task as the list shows it."""

    id: str
    task_id: UUID
    draw_id: UUID
    subject_id: UUID
    batch_id: str
    plan_id: UUID
    subject_identifier: str
    subject_name: str
    implementing_department: str
    initiating_department: str
    inspectors: list[dict[str, Any]] = Field(description="the group as the draw has it now")
    state: str
    ends_on: date
    due_on: date | None
    dispatched_on: date
    category: str | None
    inspected_to: date | None
    submitted_on: date | None
    late: bool
    returns: int
    reviewed_on: date | None
    published_on: date | None
    publication_due: date | None
    published_late: bool | None
    edition: int
    correction_pending: bool
    files: int
    follow_up: str
    decided_on: date | None
    follow_up_deadline: date | None
    follow_up_outcome: str | None
    publication_overdue_on: date | None
    follow_up_overdue_on: date | None
    version: int
    updated_at: datetime


class TaskPage(Answer):
    """A page of tasks and the cursor of the next (null on the last page)."""

    items: list[TaskRow]
    next: str | None


class ChainCheck(Answer):
    """A stream's hash chain recomputed."""

    id: str
    intact: bool
    problems: list[str]


class FileStored(Answer):
    """A file stored by its SHA-256 and named on the task (``added`` false: it was
    already)."""

    sha256: str
    size: int
    media_type: str
    added: bool


# -- records of before tasks, and assignments ----------------------------------------------


class RecordCorrection(Answer):
    """A correction of a record: the outcome from and to, and why."""

    from_: str = Field(alias="from")
    to: str
    reason: str


class RecordView(Answer):
    """A record from its events, with every correction."""

    id: UUID
    version: int
    draw_id: str
    batch_id: str
    plan_id: str
    subject_id: str
    subject_identifier: str
    subject_name: str
    inspected_on: str
    outcome: str
    findings: list[dict[str, Any]]
    due_on: str | None
    late: bool
    recorded_by_department: str
    inspecting_department: str
    corrections: list[RecordCorrection]


class RecordRow(Answer):
    """A record as the list shows it (``corrections``: how many)."""

    id: str
    record_id: UUID
    draw_id: UUID
    batch_id: str
    plan_id: UUID
    subject_id: UUID
    subject_identifier: str
    subject_name: str
    inspected_on: date
    outcome: str
    findings: list[dict[str, Any]]
    due_on: date | None
    late: bool
    recorded_by_department: str
    corrections: int
    recorded_at: datetime
    version: int


class RecordPage(Answer):
    """A page of records and the cursor of the next (null on the last page)."""

    items: list[RecordRow]
    next: str | None


class AssignmentRow(Answer):
    """A drawn subject with its result deadline."""

    draw_id: UUID
    subject_id: UUID
    batch_id: str
    plan_id: UUID
    identifier: str
    name: str
    region_code: str
    risk_class: str
    initiating_department: str
    items: list[dict[str, Any]]
    inspectors: list[dict[str, Any]]
    ends_on: date
    due_on: date | None
    due_on_unknown: str | None
    record_id: UUID | None
    replaced_by: UUID | None = Field(description="递补: the subject that replaced it")
    due_on_provisional: bool
    overdue_on: date | None
    task_id: UUID | None


class AssignmentPage(Answer):
    """A page of assignments and the cursor of the next (null on the last page)."""

    items: list[AssignmentRow]
    next: str | None


# -- the working calendar 工作日历 -----------------------------------------------------


class DeadlineView(Answer):
    """The day ``working_days`` working days after ``from`` are complete."""

    from_: date = Field(alias="from")
    working_days: int
    due_on: date
    provisional: bool = Field(description="counted over a year nobody has published yet")


class CalendarYearView(Answer):
    """A year's holidays and worked weekend days, and where they come from."""

    year: int
    source: str = Field(description="office (loaded), package (chinesecalendar) or weekdays")
    holidays: list[str]
    workdays: list[str]


class CalendarYearLoaded(CalendarYearView):
    """A year loaded (``changed`` false: it was loaded as it is already)."""

    changed: bool
