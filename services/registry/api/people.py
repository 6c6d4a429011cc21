"""HTTP API of inspectors 执法检查人员, experts 专家, tags 标签字库 and conflicts 回避关系."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field

from libs.common.answers import Answer
from libs.common.commands import Command
from libs.common.paging import DEFAULT_LIMIT, Limit, Offset, page
from libs.common.service import run_command
from libs.common.text import Code, Identifier, Line, Name, code, line
from services.registry.api.deps import App, Pool, Reader, Writer, own_department
from services.registry.domain.inspectors import Inspector
from services.registry.domain.reading import may_read_conflict

router = APIRouter(prefix="/v1", tags=["inspectors, experts, tags, conflicts"])
InspectorStatus = Literal["active", "suspended", "transferred"]
# An inspector's specialties (专业特长): a few fields of law or technique.
MAX_SPECIALTIES = 20
Short = Annotated[str, line(64)]
# A unit (所) is a code of the department register (部门名录), registered under its
# department, so one unit cannot be spelt two ways (所所交叉 compares them); "" for none.
Unit = Annotated[str, code(32, min_length=0)]
Reason = Annotated[str, line(min_length=1)]


class InspectorIn(Command):
    """执法检查人员 to register."""

    department: Code
    certificate_no: Annotated[str, line(64, min_length=1)] = Field(description="执法证号")
    name: Annotated[str, line(64, min_length=1)]
    level: Literal["province", "city", "county"] = Field(description="执法层级 省/市/县")
    region_code: str = Field(pattern=r"^\d{6}$", description="jurisdiction (GB/T 2260)")
    specialties: list[Annotated[str, line(64, min_length=1)]] = Field(
        [], max_length=MAX_SPECIALTIES
    )
    categories: list[Literal["general", "key"]] = Field(
        min_length=1, max_length=2, description="item categories the inspector is qualified for"
    )
    status: InspectorStatus = "active"
    contact: Short = Field(default="", description="never disclosed")
    unit: Unit = Field(
        default="",
        description="执法机构/所 the inspector belongs to: its code in the department "
        "register, under the inspector's department (e.g. 420202-SAMR-HSG for "
        "黄石市市场监管局黄石港所); 所所交叉: not drawn for subjects this unit routinely "
        "supervises. 422 when the register has no such active unit",
    )


class InspectorStatusChange(Command):
    """在岗 / 暂停 / 调离."""

    status: InspectorStatus
    reason: Reason


class ExpertIn(Command):
    """专家 to register."""

    field: Annotated[str, line(100, min_length=1)] = Field(description="专业领域")
    name: Annotated[str, line(64, min_length=1)]
    organisation: Name
    status: InspectorStatus = "active"
    contact: Short = Field(default="", description="never disclosed")


class TagIn(Command):
    """A tag of the dictionary 标签字库."""

    code: Code
    name: Annotated[str, line(100, min_length=1)]
    department: Code
    description: Line = ""


class ConflictIn(Command):
    """A conflict of interest 回避关系 between an inspector and a subject."""

    inspector_id: UUID
    subject_identifier: Identifier
    reason: Literal["relative", "former_employment", "financial_interest", "other"]
    detail: Line = ""
    declared_on: date


class ConflictLift(Command):
    """Ending a conflict-of-interest record."""

    inspector_id: UUID
    subject_identifier: Identifier
    reason: Reason


class InspectorView(Answer):
    """An inspector as recorded, without the contact details (the list holds the same)."""

    id: UUID
    version: int
    department: str
    certificate_no: str
    name: str
    level: Literal["province", "city", "county"]
    region_code: str
    specialties: list[str]
    categories: list[Literal["general", "key"]]
    status: InspectorStatus
    unit: str


class ExpertView(Answer):
    """An expert of the pool, without the contact details."""

    id: UUID
    field: str
    name: str
    organisation: str
    status: InspectorStatus
    version: int


class TagView(Answer):
    """A tag of the dictionary."""

    id: UUID
    code: str
    name: str
    department: str
    description: str


class ConflictView(Answer):
    """A conflict-of-interest record, active or lifted."""

    id: UUID
    inspector_id: UUID
    subject_id: UUID
    reason: str
    detail: str
    declared_on: date
    active: bool
    lifted_reason: str | None = Field(description="why it was lifted (null while active)")


class Registered(Answer):
    """An expert registered: its id and version."""

    id: UUID
    version: int


class TagDefined(Registered):
    """A tag defined."""

    code: str


class ConflictState(Registered):
    """A conflict record declared or lifted."""

    active: bool


def _inspector_view(inspector: Inspector) -> dict[str, Any]:
    return {
        "id": str(inspector.id),
        "version": inspector.version,
        **{k: v for k, v in vars(inspector).items() if not k.startswith("_") and k != "contact"},
    }


@router.post(
    "/inspectors",
    status_code=201,
    response_model=InspectorView,
    summary="Register an inspector",
)
async def register_inspector(
    body: InspectorIn, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """Add an inspector to the department's directory."""
    own_department(who, body.department)
    return _inspector_view(
        await run_command(request, who, app.register_inspector, **body.model_dump())
    )


@router.post(
    "/inspectors/{inspector_id}/status",
    response_model=InspectorView,
    summary="Change an inspector's status",
)
async def change_inspector_status(
    inspector_id: UUID, body: InspectorStatusChange, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """在岗 / 暂停 / 调离; only active inspectors are drawn."""
    return _inspector_view(
        await run_command(
            request,
            who,
            app.change_inspector_status,
            inspector_id,
            body.status,
            body.reason,
            by=who,
        )
    )


@router.get(
    "/inspectors",
    response_model=list[InspectorView],
    summary="List inspectors (limit, offset, Link rel=next)",
)
async def list_inspectors(
    who: Reader,
    db: Pool,
    request: Request,
    response: Response,
    department: Code | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Inspectors from the read model (contact details are not in it)."""
    rows = await db.fetch(
        "SELECT * FROM registry.inspectors_view WHERE ($1::text IS NULL OR department = $1) "
        "ORDER BY department, certificate_no, id LIMIT $2 OFFSET $3",
        department,
        limit + 1,
        offset,
    )
    return [dict(r) for r in page(rows, request, response, offset=offset, limit=limit)]


@router.post("/experts", status_code=201, response_model=Registered, summary="Register an expert")
async def register_expert(body: ExpertIn, request: Request, who: Writer, app: App) -> Any:
    """Add an expert to the pool."""
    expert = await run_command(request, who, app.register_expert, **body.model_dump())
    return {"id": str(expert.id), "version": expert.version}


@router.get(
    "/experts",
    response_model=list[ExpertView],
    summary="List experts (limit, offset, Link rel=next)",
)
async def list_experts(
    who: Reader,
    db: Pool,
    request: Request,
    response: Response,
    field: Annotated[str, line(100)] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Experts from the read model (contact details are not in it)."""
    rows = await db.fetch(
        "SELECT * FROM registry.experts_view WHERE ($1::text IS NULL OR field = $1) "
        "ORDER BY field, name, id LIMIT $2 OFFSET $3",
        field,
        limit + 1,
        offset,
    )
    return [dict(r) for r in page(rows, request, response, offset=offset, limit=limit)]


@router.post("/tags", status_code=201, response_model=TagDefined, summary="Define a tag")
async def define_tag(body: TagIn, request: Request, who: Writer, app: App) -> Any:
    """Departments manage their own tags."""
    own_department(who, body.department)
    tag = await run_command(request, who, app.define_tag, **body.model_dump())
    return {"id": str(tag.id), "code": tag.code, "version": tag.version}


@router.get(
    "/tags",
    response_model=list[TagView],
    summary="The tag dictionary (limit, offset, Link rel=next)",
)
async def list_tags(
    who: Reader,
    db: Pool,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Every tag, by department."""
    rows = await db.fetch(
        "SELECT * FROM registry.tags_view ORDER BY department, code LIMIT $1 OFFSET $2",
        limit + 1,
        offset,
    )
    return [dict(r) for r in page(rows, request, response, offset=offset, limit=limit)]


@router.post(
    "/conflicts",
    status_code=201,
    response_model=ConflictState,
    summary="Declare a conflict of interest",
)
async def declare_conflict(body: ConflictIn, request: Request, who: Writer, app: App) -> Any:
    """The inspector will not be drawn for the subject while the record is active; by the
    inspector's department or the office. An id that is no inspector's is a 404."""
    conflict = await run_command(
        request,
        who,
        app.declare_conflict,
        inspector=body.inspector_id,
        subject_identifier=body.subject_identifier,
        reason=body.reason,
        detail=body.detail,
        declared_on=body.declared_on,
        by=who,
    )
    return {"id": str(conflict.id), "active": conflict.active, "version": conflict.version}


@router.post("/conflicts/lift", response_model=ConflictState, summary="Lift a conflict of interest")
async def lift_conflict(body: ConflictLift, request: Request, who: Writer, app: App) -> Any:
    """End the record, with a reason; the history stays."""
    conflict = await run_command(
        request,
        who,
        app.lift_conflict,
        body.inspector_id,
        body.subject_identifier,
        body.reason,
        by=who,
    )
    return {"id": str(conflict.id), "active": conflict.active, "version": conflict.version}


@router.get(
    "/conflicts",
    response_model=list[ConflictView],
    summary="Conflict-of-interest records (limit, offset, Link rel=next)",
)
async def list_conflicts(
    who: Reader,
    db: Pool,
    request: Request,
    response: Response,
    inspector_id: UUID | None = None,
    subject_id: UUID | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Active and lifted records, filtered by inspector or subject; only those the caller
    may read (the inspector's department, the inspector, the office and auditors: see
    domain/reading.py), so a page may hold fewer than ``limit`` and still have a next."""
    rows = await db.fetch(
        """SELECT c.*, i.department AS inspector_department
           FROM registry.conflicts_view c LEFT JOIN registry.inspectors_view i
             ON i.id = c.inspector_id
           WHERE ($1::uuid IS NULL OR c.inspector_id = $1)
             AND ($2::uuid IS NULL OR c.subject_id = $2)
           ORDER BY c.declared_on, c.id LIMIT $3 OFFSET $4""",
        inspector_id,
        subject_id,
        limit + 1,
        offset,
    )
    return [
        {k: v for k, v in r.items() if k != "inspector_department"}
        for r in page(rows, request, response, offset=offset, limit=limit)
        if may_read_conflict(
            sub=who.sub,
            dept=who.dept,
            roles=who.roles,
            inspector_id=str(r["inspector_id"]),
            inspector_department=r["inspector_department"],
        )
    ]
