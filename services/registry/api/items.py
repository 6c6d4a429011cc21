"""HTTP API of the item list 随机抽查事项清单."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from libs.common.service import run_command
from services.registry.api.deps import (
    CHINA,
    App,
    Pool,
    Reader,
    Writer,
    etag,
    expected_version,
    own_department,
)
from services.registry.domain.items import InspectionItem

router = APIRouter(prefix="/v1", tags=["items"])


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


def _item_view(item: InspectionItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "code": item.code,
        "department": item.department,
        "published": item.published,
        "version": item.version,
        **item.fields(),
    }


@router.post("/items", status_code=201, summary="Register an inspection item")
async def register_item(
    body: ItemIn, request: Request, response: Response, who: Writer, app: App
) -> dict[str, Any]:
    """Add an item to the department's list; publish it before plans can use it."""
    own_department(who, body.department)
    item = await run_command(request, who, app.register_item, **body.model_dump())
    response.headers.update(etag(item.version))
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
    response.headers.update(etag(item.version))
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
    version = expected_version(if_match)
    current = await run_command(request, who, app.get_item, code)
    own_department(who, current.department)
    fields = body.model_dump(exclude_none=True)
    item = await run_command(request, who, app.change_item, code, version, **fields)
    response.headers.update(etag(item.version))
    return _item_view(item)


@router.post("/items/{code}/publish", summary="Publish an inspection item")
async def publish_item(code: str, request: Request, who: Writer, app: App) -> dict[str, Any]:
    """Publishing is an event; only published items can be planned."""
    current = await run_command(request, who, app.get_item, code)
    own_department(who, current.department)
    return _item_view(await run_command(request, who, app.publish_item, code))


@router.post("/items/{code}/withdraw", summary="Withdraw a published item")
async def withdraw_item(
    code: str, body: Withdrawal, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """Withdrawal is an event; plans can no longer use the item."""
    current = await run_command(request, who, app.get_item, code)
    own_department(who, current.department)
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
