"""HTTP API of the subject directory 检查对象名录库."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import Field

from libs.common.answers import Answer
from libs.common.commands import Command
from libs.common.service import run_command
from libs.common.text import Code, Identifier, Line, Name, code, line
from services.registry.api.deps import App, Pool, Reader, Writer, etag, expected_version
from services.registry.domain.ids import subject_id
from services.registry.domain.subjects import Subject

router = APIRouter(prefix="/v1", tags=["subjects"])
Kind = Literal["for_profit", "non_profit", "non_market"]
RiskClass = Literal["A", "B", "C", "D"]
Status = Literal["operating", "deregistered", "revoked", "moved_out", "cancelled"]
Region = Annotated[str, Field(pattern=r"^\d{6}$", description="GB/T 2260 county-level code")]
# Departments supervising one subject: the members of a joint-meeting are a few dozen.
MAX_DEPARTMENTS = 50
# Tags on one subject (标签): a handful in practice.
MAX_TAGS = 100
# Tags one list query may name (each is a parameter of the query).
MAX_QUERY_TAGS = 50
Short = Annotated[str, line(64)]
# A unit (所) is a code of the department register (部门名录), registered under its
# department, so one unit cannot be spelt two ways (所所交叉 compares them); "" for none.
Unit = Annotated[str, code(32, min_length=0)]
Reason = Annotated[str, line(min_length=1)]
SubjectKey = Annotated[Identifier, Path(description="USCC or PREFIX-local-id")]


class SubjectIn(Command):
    """检查对象 to register."""

    identifier: Identifier = Field(description="USCC (统一社会信用代码) or non-market identifier")
    kind: Kind
    name: Name
    legal_form: Short = Field("", description="e.g. 有限责任公司, 个体工商户")
    region_code: Region
    industry: Annotated[str, line(3, min_length=1)] = Field(description="GB/T 4754: F or F52")
    address: Line = ""
    legal_representative: Short = Field("", description="disclosed masked")
    status: Status = "operating"
    departments: list[Code] = Field(
        default_factory=list, max_length=MAX_DEPARTMENTS, description="supervising departments"
    )
    tags: list[Code] = Field(
        default_factory=list, max_length=MAX_TAGS, description="codes from the tag dictionary"
    )
    risk_class: RiskClass
    abnormal_operation: bool = Field(False, description="经营异常名录")
    serious_violation: bool = Field(False, description="严重违法失信名单")
    supervising_unit: Unit = Field(
        "",
        description="日常监管单位: the code of the unit (所) that routinely supervises it, "
        "as registered in the department register under its department (e.g. "
        "420202-SAMR-HSG); 422 when the register has no such active unit",
    )


class SubjectChange(Command):
    """Fields to change; omitted fields stay as they are."""

    name: Name | None = None
    legal_form: Short | None = None
    region_code: Region | None = None
    industry: Annotated[str, line(3, min_length=1)] | None = None
    address: Line | None = None
    legal_representative: Short | None = None
    departments: list[Code] | None = Field(None, max_length=MAX_DEPARTMENTS)
    tags: list[Code] | None = Field(None, max_length=MAX_TAGS)
    supervising_unit: Unit | None = Field(
        None, description='a unit code of the department register; "" clears it'
    )


class StatusChange(Command):
    """Registration status change (登记状态)."""

    status: Status
    reason: Reason


class RiskClassification(Command):
    """A credit-risk classification decision."""

    risk_class: RiskClass
    reason: Reason
    effective_on: date


class Listing(Command):
    """On or off 经营异常名录 (abnormal_operation) or 严重违法失信名单 (serious_violation)."""

    list_name: Literal["abnormal_operation", "serious_violation"]
    listed: bool
    reason: Reason
    decided_on: date


class SubjectRow(Answer):
    """A subject as the directory lists it."""

    id: UUID
    version: int
    identifier: str
    kind: Kind
    name: str
    legal_form: str
    region_code: str
    industry: str
    address: str
    legal_representative: str
    status: Status
    departments: list[str]
    tags: list[str]
    risk_class: RiskClass
    abnormal_operation: bool
    serious_violation: bool
    supervising_unit: str


class RiskChange(Answer):
    """One credit-risk classification decision."""

    from_: RiskClass = Field(alias="from")
    to: RiskClass
    reason: str
    effective_on: str = Field(description="ISO 8601 date")


class SubjectView(SubjectRow):
    """A subject as it stands (ETag = version), with its risk-class history."""

    risk_history: list[RiskChange]


class SubjectPage(Answer):
    """A page of subjects and the cursor of the next (null on the last page)."""

    items: list[SubjectRow]
    next: str | None = Field(description="``after`` for the next page; null when no more")


class RiskClassCount(Answer):
    """Subjects in all and per credit-risk class (A, B, C, D)."""

    total: int
    per_risk_class: dict[str, int]


class SubjectEvent(Answer):
    """One stored event of a subject."""

    version: int
    type: str
    timestamp: datetime
    meta: dict[str, Any]
    data: dict[str, Any]


def _view(subject: Subject) -> dict[str, Any]:
    return {
        "id": str(subject.id),
        "version": subject.version,
        **{k: v for k, v in vars(subject).items() if not k.startswith("_")},
    }


@router.post("/subjects", status_code=201, response_model=SubjectView, summary="Register a subject")
async def register_subject(
    body: SubjectIn, request: Request, response: Response, who: Writer, app: App
) -> dict[str, Any]:
    """Add a subject; a second registration of the same identifier is a 409. A department
    registers subjects it supervises (its code among ``departments``), the office any."""
    subject = await run_command(request, who, app.register_subject, by=who, **body.model_dump())
    response.headers.update(etag(subject.version))
    return _view(subject)


@router.get(
    "/subjects/{identifier}", response_model=SubjectView, summary="One subject as it stands"
)
async def get_subject(
    identifier: SubjectKey, request: Request, response: Response, who: Reader, app: App
) -> dict[str, Any]:
    """The subject with its risk-class history (ETag = version)."""
    subject = await run_command(request, who, app.get_subject, identifier)
    response.headers.update(etag(subject.version))
    return _view(subject)


@router.patch(
    "/subjects/{identifier}",
    response_model=SubjectView,
    summary="Change a subject (If-Match: version)",
)
async def change_subject(
    identifier: SubjectKey,
    body: SubjectChange,
    request: Request,
    response: Response,
    who: Writer,
    app: App,
    if_match: str | None = Header(None, description="the ETag (version) you edited"),
) -> dict[str, Any]:
    """Record only the changed fields as ``SubjectChanged``; a stale If-Match is 409. Only
    a supervising department or the office (403); a department may add departments and
    remove itself, never another (see docs/api.md, "Who may write what")."""
    version = expected_version(if_match)
    fields = body.model_dump(exclude_none=True)
    subject = await run_command(
        request, who, app.change_subject, identifier, version, by=who, **fields
    )
    response.headers.update(etag(subject.version))
    return _view(subject)


@router.post(
    "/subjects/{identifier}/status",
    response_model=SubjectView,
    summary="Change registration status",
)
async def change_status(
    identifier: SubjectKey, body: StatusChange, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """存续, 注销, 吊销, 迁出, 撤销 — never a deletion; by a supervising department or the
    office (403)."""
    return _view(
        await run_command(
            request, who, app.change_subject_status, identifier, body.status, body.reason, by=who
        )
    )


@router.post(
    "/subjects/{identifier}/risk-class",
    response_model=SubjectView,
    summary="Classify credit risk",
)
async def classify(
    identifier: SubjectKey, body: RiskClassification, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """A new class, kept in ``risk_history`` with its reason and date; by a supervising
    department or the office (403)."""
    return _view(
        await run_command(
            request,
            who,
            app.classify_subject,
            identifier,
            body.risk_class,
            body.reason,
            body.effective_on,
            by=who,
        )
    )


@router.post(
    "/subjects/{identifier}/listings",
    response_model=SubjectView,
    summary="Put on or take off a list",
)
async def set_listing(
    identifier: SubjectKey, body: Listing, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """经营异常名录 / 严重违法失信名单 decisions, by a supervising department or the office
    (403)."""
    return _view(
        await run_command(
            request,
            who,
            app.set_subject_listing,
            identifier,
            body.list_name,
            body.listed,
            body.reason,
            body.decided_on,
            by=who,
        )
    )


def _filters(
    region_prefix: str,
    kind: str | None,
    industry: str | None,
    tag: list[str],
    risk_class: str | None,
    status: str | None,
    abnormal_operation: bool | None,
    serious_violation: bool | None,
) -> tuple[str, list[Any]]:
    clauses = ["region_code LIKE $1 || '%'"]
    args: list[Any] = [region_prefix]
    for column, value, op in (
        ("kind", kind, "="),
        ("industry", industry, "LIKE"),
        ("risk_class", risk_class, "="),
        ("status", status, "="),
        ("abnormal_operation", abnormal_operation, "="),
        ("serious_violation", serious_violation, "="),
    ):
        if value is not None:
            args.append(f"{value}%" if op == "LIKE" else value)
            clauses.append(f"{column} {op} ${len(args)}")
    if tag:
        args.append(tag)
        clauses.append(f"tags ?| ${len(args)}::text[]")
    return " AND ".join(clauses), args


async def subject_filter(
    region_prefix: str = Query("", pattern=r"^\d{0,6}$"),
    kind: Kind | None = None,
    industry: str | None = Query(None, pattern=r"^[A-T](\d{1,2})?$"),
    tag: list[Code] = Query([], max_length=MAX_QUERY_TAGS, description="any of these tags"),
    risk_class: RiskClass | None = None,
    status: Status | None = None,
    abnormal_operation: bool | None = None,
    serious_violation: bool | None = None,
) -> tuple[str, list[Any]]:
    """Query parameters of a subject filter → (SQL condition, arguments)."""
    return _filters(
        region_prefix,
        kind,
        industry,
        tag,
        risk_class,
        status,
        abnormal_operation,
        serious_violation,
    )


Filter = Annotated[tuple[str, list[Any]], Depends(subject_filter)]


@router.get("/subjects", response_model=SubjectPage, summary="Filter subjects (keyset pagination)")
async def list_subjects(
    who: Reader,
    db: Pool,
    query: Filter,
    after: UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Subjects matching every given filter, ordered by id."""
    where, args = query
    args = [*args, after, limit]
    rows = await db.fetch(
        f"""SELECT * FROM registry.subjects_view WHERE {where}
            AND (${len(args) - 1}::uuid IS NULL OR id > ${len(args) - 1})
            ORDER BY id LIMIT ${len(args)}""",
        *args,
    )
    items = [dict(r) for r in rows]
    return {"items": items, "next": str(items[-1]["id"]) if len(items) == limit else None}


@router.get(
    "/subjects-count",
    response_model=RiskClassCount,
    summary="Count subjects per risk class for a filter",
)
async def count_subjects(who: Reader, db: Pool, query: Filter) -> dict[str, Any]:
    """What the planner previews before setting ratios."""
    where, args = query
    rows = await db.fetch(
        f"SELECT risk_class, count(*) AS n FROM registry.subjects_view WHERE {where} "
        "GROUP BY risk_class",
        *args,
    )
    per_class = {c: 0 for c in ("A", "B", "C", "D")} | {r["risk_class"]: r["n"] for r in rows}
    return {"total": sum(per_class.values()), "per_risk_class": per_class}


@router.get(
    "/subjects/{identifier}/history",
    response_model=list[SubjectEvent],
    summary="A subject's events",
)
async def subject_history(identifier: SubjectKey, request: Request, who: Reader, app: App) -> Any:
    """Every event of the subject, oldest first, with who and when."""
    return await run_command(request, who, app.history, subject_id(identifier))
