"""HTTP API of the department register 部门名录 (kept by the joint-meeting office)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import Field

from libs.common.answers import Answer
from libs.common.auth import Principal, require_roles
from libs.common.commands import Command
from libs.common.service import run_command
from libs.common.text import TextRule, line
from services.registry.api.deps import App, Pool, Reader, etag, expected_version
from services.registry.domain.departments import CODE_PATTERN, NAME_MAX, Department

router = APIRouter(prefix="/v1", tags=["departments"])
Office = Annotated[Principal, Depends(require_roles("office"))]
Level = Literal["province", "city", "county"]
# The shared text door (NFC, no control characters) with the register's own code pattern.
Code = Annotated[str, TextRule(32, 1, pattern=CODE_PATTERN)]
ParentCode = Annotated[str, TextRule(32, 0, pattern=r"^$|" + CODE_PATTERN)]
Name = Annotated[str, line(NAME_MAX, min_length=1)]
DepartmentCode = Annotated[Code, Path(description="the department's code")]
Region = Annotated[str, Field(pattern=r"^\d{6}$", description="jurisdiction (GB/T 2260)")]


class DepartmentIn(Command):
    """部门 (领导小组成员单位) or 内设机构 to register."""

    code: Code = Field(examples=["SAMR", "420000-SAMR"])
    name: Name = Field(examples=["黄石市市场监督管理局"])
    level: Level = Field(description="省级 province, 市级 city, 县级 county")
    region_code: Region
    parent: ParentCode = Field("", description="内设机构: the code of its department")


class DepartmentChange(Command):
    """Fields to change; omitted fields stay. ``active: false`` deactivates."""

    name: Name | None = None
    level: Level | None = None
    region_code: Region | None = None
    parent: ParentCode | None = None
    active: bool | None = None


class DepartmentView(Answer):
    """A department as it stands (ETag = version); the register lists the same fields."""

    id: UUID
    code: str
    version: int
    name: str
    level: Level
    region_code: str
    parent: str = Field(description='"" for a member department, else its department\'s code')
    active: bool


def _view(department: Department) -> dict[str, Any]:
    return {
        "id": str(department.id),
        "code": department.code,
        "version": department.version,
        **department.fields(),
    }


@router.post(
    "/departments",
    status_code=201,
    response_model=DepartmentView,
    summary="Register a department (office)",
)
async def register_department(
    body: DepartmentIn, request: Request, response: Response, who: Office, app: App
) -> dict[str, Any]:
    """Add a department to the register; a code registered before is a 409."""
    department = await run_command(request, who, app.register_department, **body.model_dump())
    response.headers.update(etag(department.version))
    return _view(department)


@router.patch(
    "/departments/{code}",
    response_model=DepartmentView,
    summary="Change or deactivate a department (If-Match)",
)
async def change_department(
    code: DepartmentCode,
    body: DepartmentChange,
    request: Request,
    response: Response,
    who: Office,
    app: App,
    if_match: str | None = Header(None, description="the ETag (version) you edited"),
) -> dict[str, Any]:
    """Record only the changed fields as ``DepartmentChanged``; never a deletion."""
    version = expected_version(if_match)
    fields = body.model_dump(exclude_none=True)
    department = await run_command(request, who, app.change_department, code, version, **fields)
    response.headers.update(etag(department.version))
    return _view(department)


@router.get(
    "/departments/{code}", response_model=DepartmentView, summary="One department as it stands"
)
async def get_department(
    code: DepartmentCode, request: Request, response: Response, who: Reader, app: App
) -> dict[str, Any]:
    """The department from its events (ETag = version)."""
    department = await run_command(request, who, app.get_department, code)
    response.headers.update(etag(department.version))
    return _view(department)


@router.get("/departments", response_model=list[DepartmentView], summary="The department register")
async def list_departments(
    who: Reader,
    db: Pool,
    active: bool | None = None,
    parent: ParentCode | None = Query(None),
    level: Level | None = None,
) -> list[dict[str, Any]]:
    """Departments from the read model, by code; ``parent=`` (empty) lists member
    departments only, ``parent=SAMR`` the internal units of SAMR."""
    rows = await db.fetch(
        """SELECT code, id, name, level, region_code, parent, active, version
           FROM registry.departments_view
           WHERE ($1::boolean IS NULL OR active = $1)
             AND ($2::text IS NULL OR parent = $2)
             AND ($3::text IS NULL OR level = $3)
           ORDER BY code""",
        active,
        parent,
        level,
    )
    return [dict(r) for r in rows]
