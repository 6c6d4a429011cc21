"""HTTP API of the registry: parse, authorise, call the application, shape the answer."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from libs.common.auth import Principal, require_roles
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from services.registry.application import RegistryApplication
from services.registry.domain.ids import subject_id
from services.registry.domain.items import InspectionItem

router = APIRouter(prefix="/v1", tags=["registry"])
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
Writer = Annotated[Principal, Depends(require_roles("operator", "office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[RegistryApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


class SubItem(BaseModel):
    """抽查子项."""

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class CheckPoint(BaseModel):
    """One line of the optional check form (检查表)."""

    code: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=500)


Method = Literal["on_site", "documentary", "online", "sampling", "expert", "other_department"]
SubjectKind = Literal["for_profit", "non_profit", "non_market"]


class ItemFields(BaseModel):
    """The changeable fields of an item."""

    name: str = Field(min_length=1, max_length=200)
    sub_items: list[SubItem] = []
    legal_basis: str = Field(min_length=1, description="抽查依据")
    subject_kinds: list[SubjectKind] = Field(min_length=1)
    content: str = Field("", description="抽查内容")
    methods: list[Method] = Field(
        min_length=1,
        description="实地检查 on_site, 书面检查 documentary, 网络监测 online, 抽样检测 sampling, "
        "委托专业机构 expert, 采用其他部门结果 other_department",
    )
    category: Literal["general", "key"] = Field(description="一般检查事项 / 重点检查事项")
    ratio: float = Field(gt=0, le=1, description="default share of subjects, e.g. 0.05")
    frequency_per_year: int = Field(1, ge=1, le=12, description="default checks per year")
    inspector_requirements: str = Field("", description="执法检查人员要求")
    internet_plus_code: str = Field("", max_length=64, description="互联网+监管 item code")
    check_form: list[CheckPoint] = []


class ItemIn(ItemFields):
    """抽查事项 to register."""

    code: str = Field(min_length=1, max_length=64, examples=["SC-2026-001"])
    department: str = Field(min_length=1, max_length=64)


class ItemChange(BaseModel):
    """Fields to change; omitted fields stay as they are."""

    name: str | None = Field(None, min_length=1, max_length=200)
    sub_items: list[SubItem] | None = None
    legal_basis: str | None = Field(None, min_length=1)
    subject_kinds: list[SubjectKind] | None = Field(None, min_length=1)
    content: str | None = None
    methods: list[Method] | None = Field(None, min_length=1)
    category: Literal["general", "key"] | None = None
    ratio: float | None = Field(None, gt=0, le=1)
    frequency_per_year: int | None = Field(None, ge=1, le=12)
    inspector_requirements: str | None = None
    internet_plus_code: str | None = Field(None, max_length=64)
    check_form: list[CheckPoint] | None = None


class Withdrawal(BaseModel):
    """Why an item is withdrawn."""

    reason: str = Field(min_length=1, max_length=500)


class SubjectIn(BaseModel):
    """检查对象 to register."""

    identifier: str = Field(description="USCC (统一社会信用代码) or non-market identifier")
    kind: Literal["for_profit", "non_profit", "non_market"]
    name: str = Field(min_length=1, max_length=200)
    region_code: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 code")
    industry: str = Field(min_length=1, max_length=8, description="GB/T 4754 section/division")
    risk_class: Literal["A", "B", "C", "D"]
    status: str = "operating"
    departments: list[str] = Field(default_factory=list, description="supervising departments")


class InspectorIn(BaseModel):
    """执法检查人员 to register."""

    department: str = Field(min_length=1, max_length=64)
    certificate_no: str = Field(min_length=1, max_length=64, description="执法证号")
    name: str = Field(min_length=1, max_length=64)
    level: Literal["province", "city", "county"]
    region_code: str = Field(pattern=r"^\d{6}$")
    categories: list[Literal["general", "key"]] = Field(min_length=1)
    status: Literal["active", "suspended", "transferred"] = "active"
    contact: str = Field(default="", max_length=64, description="never disclosed")


def _own_department(principal: Principal, dept: str) -> None:
    if not principal.may_act_for(dept):
        raise Problem(403, "Forbidden", f"department {principal.dept!r} cannot write for {dept!r}")


def _item_view(item: InspectionItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "code": item.code,
        "department": item.department,
        "published": item.published,
        "version": item.version,
        **item.fields(),
    }


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


@router.post("/items", status_code=201, summary="Register an inspection item")
async def register_item(
    body: ItemIn, request: Request, response: Response, who: Writer, app: App
) -> dict[str, Any]:
    """Add an item to the department's list; publish it before plans can use it."""
    _own_department(who, body.department)
    item = await run_command(request, who, app.register_item, **body.model_dump())
    response.headers.update(_etag(item.version))
    return _item_view(item)


@router.get("/items/{code}", summary="One item, now or as it stood on a date")
async def get_item(
    code: str,
    request: Request,
    response: Response,
    who: Reader,
    app: App,
    as_of: date | None = Query(None, description="the item at the end of this day (UTC+8)"),
) -> dict[str, Any]:
    """The item's current fields (ETag = version), or as of a past day."""
    cutoff = None
    if as_of is not None:
        cutoff = datetime.combine(as_of + timedelta(days=1), time.min, CHINA) - timedelta(
            microseconds=1
        )
    item = await run_command(request, who, app.get_item, code, cutoff)
    response.headers.update(_etag(item.version))
    return _item_view(item)


@router.patch("/items/{code}", summary="Change an item (If-Match: version)")
async def change_item(
    code: str,
    body: ItemChange,
    request: Request,
    response: Response,
    who: Writer,
    app: App,
    if_match: str | None = Header(None, description="the ETag (version) you edited"),
) -> dict[str, Any]:
    """Record only the changed fields as ``ItemChanged``; a stale If-Match is 409."""
    if not if_match or not if_match.strip('"').isdigit():
        raise Problem(428, "Precondition required", "send If-Match with the item's ETag")
    current = await run_command(request, who, app.get_item, code)
    _own_department(who, current.department)
    fields = body.model_dump(exclude_none=True)
    item = await run_command(
        request, who, app.change_item, code, int(if_match.strip('"')), **fields
    )
    response.headers.update(_etag(item.version))
    return _item_view(item)


@router.post("/items/{code}/publish", summary="Publish an inspection item")
async def publish_item(code: str, request: Request, who: Writer, app: App) -> dict[str, Any]:
    """Publishing is an event; only published items can be planned."""
    current = await run_command(request, who, app.get_item, code)
    _own_department(who, current.department)
    return _item_view(await run_command(request, who, app.publish_item, code))


@router.post("/items/{code}/withdraw", summary="Withdraw a published item")
async def withdraw_item(
    code: str, body: Withdrawal, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """Withdrawal is an event; plans can no longer use the item."""
    current = await run_command(request, who, app.get_item, code)
    _own_department(who, current.department)
    return _item_view(await run_command(request, who, app.withdraw_item, code, body.reason))


@router.get("/items", summary="List inspection items")
async def list_items(who: Reader, db: Pool, published: bool | None = None) -> list[dict[str, Any]]:
    """Items from the read model, optionally only published ones."""
    rows = await db.fetch(
        "SELECT * FROM registry.items_view WHERE ($1::boolean IS NULL OR published = $1) "
        "ORDER BY code",
        published,
    )
    return [dict(r) for r in rows]


@router.post("/subjects", status_code=201, summary="Register a subject")
async def register_subject(
    body: SubjectIn, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """Add a subject; a second registration of the same identifier is a 409."""
    subject = await run_command(request, who, app.register_subject, **body.model_dump())
    return {"id": str(subject.id), "identifier": subject.identifier, "version": subject.version}


@router.get("/subjects", summary="Filter subjects (keyset pagination)")
async def list_subjects(
    who: Reader,
    db: Pool,
    region_prefix: str = Query("", pattern=r"^\d{0,6}$"),
    risk_class: Literal["A", "B", "C", "D"] | None = None,
    after: UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Subjects by region prefix and risk class, ordered by id."""
    rows = await db.fetch(
        """SELECT * FROM registry.subjects_view
           WHERE region_code LIKE $1 || '%' AND ($2::text IS NULL OR risk_class = $2)
             AND ($3::uuid IS NULL OR id > $3)
           ORDER BY id LIMIT $4""",
        region_prefix,
        risk_class,
        after,
        limit,
    )
    items = [dict(r) for r in rows]
    return {"items": items, "next": str(items[-1]["id"]) if len(items) == limit else None}


@router.get("/subjects/{identifier}/history", summary="A subject's events")
async def subject_history(identifier: str, request: Request, who: Reader, app: App) -> Any:
    """Every event of the subject, oldest first, with who and when."""
    return await run_command(request, who, app.history, subject_id(identifier))


@router.post("/inspectors", status_code=201, summary="Register an inspector")
async def register_inspector(
    body: InspectorIn, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """Add an inspector to the department's directory."""
    _own_department(who, body.department)
    inspector = await run_command(request, who, app.register_inspector, **body.model_dump())
    return {"id": str(inspector.id), "version": inspector.version}


@router.get("/inspectors", summary="List inspectors")
async def list_inspectors(
    who: Reader, db: Pool, department: str | None = None
) -> list[dict[str, Any]]:
    """Inspectors from the read model (contact details are not in it)."""
    rows = await db.fetch(
        "SELECT * FROM registry.inspectors_view WHERE ($1::text IS NULL OR department = $1) "
        "ORDER BY department, certificate_no",
        department,
    )
    return [dict(r) for r in rows]
