"""Request bodies of the task API (检查任务): parsed and bounded before any rule runs; the
rules themselves are in domain/inspection.py and domain/followup.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from libs.common.commands import Command, Part
from libs.common.text import Code, TextRule, line, multiline

NOTE_MAX = 2_000  # what an inspector writes of one point or step: a paragraph or two
MAX_ITEMS = 100  # a plan has at most 100 items
MAX_POINTS = 200  # base and item-specific points of one item
MAX_REFERENCES = 200  # files cited by one step (a task holds at most 200)

Note = Annotated[str, multiline(NOTE_MAX)]
Text = Annotated[str, line(200)]
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]
PointCode = Annotated[str, TextRule(80, 6, pattern=r"^(base|form):[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Category = Literal[
    "no_problem",
    "problem_corrected",
    "problem_pending",
    "no_activity",
    "unreachable",
    "closed",
    "refused",
    "deregistered",
    "licence_revoked",
    "moved_out",
    "registration_cancelled",
]
CATEGORY_HELP = (
    "no_problem 未发现问题, problem_corrected 发现问题已责令改正, problem_pending "
    "发现问题待后续处理, no_activity 未发现开展本次抽查涉及的经营活动, unreachable "
    "通过登记的住所（经营场所）无法联系, closed 已关闭停业或正在组织清算, refused "
    "不配合检查情节严重, deregistered 已注销, licence_revoked 已被吊销营业执照, moved_out "
    "已迁出, registration_cancelled 已撤销登记"
)
Method = Literal["on_site", "documentary", "online", "sampling", "expert", "other_department"]


class PointIn(Part):
    """One check point (检查要点) of an item's form, and what it showed."""

    point: PointCode = Field(description="`base:…` or `form:…`, as in the task's forms")
    state: Literal["conforming", "not_conforming", "not_applicable"]
    method: Method = Field(description="how this point was checked (one method: 002 第十六条)")
    finding: Note = Field("", description="required when not conforming; internal")


class ReuseIn(Part):
    """A conclusion of another department or a professional body, referenced."""

    issuer_kind: Literal["department", "professional_body"]
    issuer: Annotated[str, line(200, min_length=1)]
    document_no: Annotated[str, line(100, min_length=1)]
    issued_on: date
    sha256: Sha256 | None = None


class ItemIn(Part):
    """One item of the inspection: its methods and every point of its form."""

    item_code: Code
    methods: list[Method] = Field(min_length=1, max_length=6)
    reuse: ReuseIn | None = None
    points: list[PointIn] = Field([], max_length=MAX_POINTS)


class NoticeIn(Part):
    """告知 — how and when the subject was told, or the legal ground for not telling."""

    given: bool
    way: Literal["phone", "fax", "email", "sms", "letter", "platform"] | None = None
    on: date | None = None
    ground: Note = ""


class SignatureIn(Part):
    """签字 — signed by the subject's representative, or refused (reason and witness)."""

    signed: bool
    signatory: Text = ""
    refusal_reason: Note = ""
    witness: Text = ""


class NonCooperationIn(Part):
    """不配合检查情节严重 — which case of 002 第十八条, and what happened."""

    case: Literal[
        "denied_entry",
        "refused_inquiry",
        "withheld_materials",
        "false_information",
        "other_obstruction",
    ]
    description: Annotated[str, multiline(NOTE_MAX, min_length=1)]


class ReportIn(Command):
    """检查记录表 of one visit."""

    inspected_from: date
    inspected_to: date = Field(description="检查完成日期: the inspection's end")
    category: Category = Field(description=CATEGORY_HELP)
    pending_kind: Literal["correction_ordered", "case_filed", "transferred", "referred"] | None = (
        Field(None, description="for problem_pending: how it is to be handled")
    )
    items: list[ItemIn] = Field([], max_length=MAX_ITEMS)
    notice: NoticeIn | None = None
    signature: SignatureIn | None = None
    non_cooperation: NonCooperationIn | None = None
    evidence: list[Sha256] = Field([], max_length=MAX_REFERENCES)
    summary: Note = Field("", description="internal note")


class SubmissionIn(Command):
    """提交 for review: the recorded inspection, or this report recorded and submitted."""

    report: ReportIn | None = None


class ReviewIn(Command):
    """审核 of a submitted result or of a correction."""

    decision: Literal["approve", "return"]
    reason: Note = Field("", description="required to return; internal")


class CorrectionIn(Command):
    """更正 of a published result: the whole corrected report, and why."""

    report: ReportIn
    reason: Annotated[str, multiline(NOTE_MAX, min_length=1)]


class OrderIn(Command):
    """责令限期改正."""

    decided_on: date
    deadline: date
    decision_no: Text = Field("", description="文书编号")
    documents: list[Sha256] = Field([], max_length=MAX_REFERENCES)


class ReinspectionIn(Command):
    """复查."""

    reinspected_on: date
    corrected: bool
    finding: Note = ""
    documents: list[Sha256] = Field([], max_length=MAX_REFERENCES)


class ClosureIn(Command):
    """The follow-up's outcome."""

    outcome: Literal["corrected", "case_filed", "transferred", "referred"]
    decided_on: date
    receiving_department: Annotated[str, line(200)] = Field(
        "", description="for transferred: the department with jurisdiction (有管辖权的部门)"
    )
    decision_no: Text = ""
    documents: list[Sha256] = Field([], max_length=MAX_REFERENCES)
