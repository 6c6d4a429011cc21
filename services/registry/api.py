"""HTTP API of the registry: parse, authorise, call the application, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from libs.common.auth import Principal, require_roles
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from services.registry.application import RegistryApplication
from services.registry.domain.ids import subject_id

router = APIRouter(prefix="/v1", tags=["registry"])
Writer = Annotated[Principal, Depends(require_roles("operator", "office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[RegistryApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


class ItemIn(BaseModel):
    """抽查事项 to register."""

    code: str = Field(min_length=1, max_length=64, examples=["SC-2026-001"])
    department: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    category: Literal["general", "key"] = Field(description="一般检查事项 / 重点检查事项")
    ratio: float = Field(gt=0, le=1, description="share of subjects to inspect, e.g. 0.05")
    methods: list[str] = Field(min_length=1)
    legal_basis: str = Field(min_length=1, description="抽查依据")
    subject_kinds: list[Literal["for_profit", "non_profit", "non_market"]] = Field(min_length=1)


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


@router.post("/items", status_code=201, summary="Register an inspection item")
async def register_item(body: ItemIn, request: Request, who: Writer, app: App) -> dict[str, Any]:
    """Add an item to the department's list; publish it before plans can use it."""
    _own_department(who, body.department)
    item = await run_command(request, who, app.register_item, **body.model_dump())
    return {"id": str(item.id), "code": item.code, "version": item.version}


@router.post("/items/{code}/publish", summary="Publish an inspection item")
async def publish_item(code: str, request: Request, who: Writer, app: App) -> dict[str, Any]:
    """Publishing is an event; only published items can be planned."""
    current = await run_command(request, who, app.get_item, code)
    _own_department(who, current.department)
    item = await run_command(request, who, app.publish_item, code)
    return {"id": str(item.id), "code": item.code, "published": True, "version": item.version}


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
