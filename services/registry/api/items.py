"""HTTP API of the item list 随机抽查事项清单."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import Field

from libs.common.answers import Answer
from libs.common.commands import Command, Part
from libs.common.paging import DEFAULT_LIMIT, Limit, Offset, page
from libs.common.service import run_command
from libs.common.text import Code, Name, Text, code, line, multiline
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
# An item's 抽查子项: the item lists of 2019-2024 run to a few dozen at most.
MAX_SUB_ITEMS = 100
# Lines of a check form (检查表): the published forms have tens of lines.
MAX_CHECK_POINTS = 200
# Requirements on inspectors (执法检查人员要求): a paragraph.
REQUIREMENTS_MAX = 2_000
ItemCode = Annotated[Code, Path(description="the item's code")]


class SubItem(Part):
    """抽查子项."""

    code: Code
    name: Name


class CheckPoint(Part):
    """One line of the optional check form (检查表)."""

    code: Code
    text: Annotated[str, multiline(500, min_length=1)]


Method = Literal["on_site", "documentary", "online", "sampling", "expert", "other_department"]
SubjectKind = Literal["for_profit", "non_profit", "non_market"]


class ItemFields(Command):
    """The changeable fields of an item."""

    name: Name
    sub_items: list[SubItem] = Field([], max_length=MAX_SUB_ITEMS)
    legal_basis: Annotated[str, multiline(min_length=1)] = Field(description="抽查依据")
    subject_kinds: list[SubjectKind] = Field(min_length=1, max_length=3)
    content: Text = Field("", description="抽查内容")
    methods: list[Method] = Field(
        min_length=1,
        max_length=6,
        description="实地检查 on_site, 书面检查 documentary, 网络监测 online, 抽样检测 sampling, "
        "委托专业机构 expert, 采用其他部门结果 other_department",
    )
    category: Literal["general", "key"] = Field(description="一般检查事项 / 重点检查事项")
    ratio: float = Field(
        gt=0, le=1, allow_inf_nan=False, description="default share of subjects, e.g. 0.05"
    )
    frequency_per_year: int = Field(1, ge=1, le=12, description="default checks per year")
    inspector_requirements: Annotated[str, multiline(REQUIREMENTS_MAX)] = Field(
        "", description="执法检查人员要求"
    )
    internet_plus_code: Annotated[str, code(min_length=0)] = Field(
        "", description="互联网+监管 item code"
    )
    check_form: list[CheckPoint] = Field([], max_length=MAX_CHECK_POINTS)


class ItemIn(ItemFields):
    """抽查事项 to register."""

    code: Code = Field(examples=["SC-2026-001"])
    department: Code


class ItemChange(Command):
    """Fields to change; omitted fields stay as they are."""

    name: Name | None = None
    sub_items: list[SubItem] | None = Field(None, max_length=MAX_SUB_ITEMS)
    legal_basis: Annotated[str, multiline(min_length=1)] | None = None
    subject_kinds: list[SubjectKind] | None = Field(None, min_length=1, max_length=3)
    content: Text | None = None
    methods: list[Method] | None = Field(None, min_length=1, max_length=6)
    category: Literal["general", "key"] | None = None
    ratio: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    frequency_per_year: int | None = Field(None, ge=1, le=12)
    inspector_requirements: Annotated[str, multiline(REQUIREMENTS_MAX)] | None = None
    internet_plus_code: Annotated[str, code(min_length=0)] | None = None
    check_form: list[CheckPoint] | None = Field(None, max_length=MAX_CHECK_POINTS)


class Withdrawal(Command):
    """Why an item is withdrawn."""

    reason: Annotated[str, line(min_length=1)]


class SubItemView(Answer):
    """抽查子项 as recorded."""

    code: str
    name: str


class CheckPointView(Answer):
    """A line of the check form as recorded."""

    code: str
    text: str


class ItemView(Answer):
    """An item as it stands (ETag = version); the list holds the same fields."""

    id: UUID
    code: str
    department: str
    published: bool
    version: int
    name: str
    sub_items: list[SubItemView]
    legal_basis: str
    subject_kinds: list[SubjectKind]
    content: str
    methods: list[Method]
    category: Literal["general", "key"]
    ratio: float
    frequency_per_year: int
    inspector_requirements: str
    internet_plus_code: str
    check_form: list[CheckPointView]


def _item_view(item: InspectionItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "code": item.code,
        "department": item.department,
        "published": item.published,
        "version": item.version,
        **item.fields(),
    }


@router.post(
    "/items",
    status_code=201,
    response_model=ItemView,
    summary="Register an inspection item",
)
async def register_item(
    body: ItemIn, request: Request, response: Response, who: Writer, app: App
) -> dict[str, Any]:
    """Add an item to the department's list; publish it before plans can use it."""
    own_department(who, body.department)
    item = await run_command(request, who, app.register_item, **body.model_dump())
    response.headers.update(etag(item.version))
    return _item_view(item)


@router.get(
    "/items/{code}",
    response_model=ItemView,
    summary="One item, now or as it stood on a date",
)
async def get_item(
    code: ItemCode,
    request: Request,
    response: Response,
    who: Reader,
    app: App,
    # The day after as_of must exist: 9999-12-31 would overflow (a 500) below.
    as_of: date | None = Query(
        None,
        lt=date.max,  # type: ignore[arg-type]  # pydantic compares dates; the stub says float
        description="the item at the end of this day (UTC+8)",
    ),
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


@router.patch(
    "/items/{code}", response_model=ItemView, summary="Change an item (If-Match: version)"
)
async def change_item(
    code: ItemCode,
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


@router.post("/items/{code}/publish", response_model=ItemView, summary="Publish an inspection item")
async def publish_item(code: ItemCode, request: Request, who: Writer, app: App) -> dict[str, Any]:
    """Publishing is an event; only published items can be planned."""
    current = await run_command(request, who, app.get_item, code)
    own_department(who, current.department)
    return _item_view(await run_command(request, who, app.publish_item, code))


@router.post("/items/{code}/withdraw", response_model=ItemView, summary="Withdraw a published item")
async def withdraw_item(
    code: ItemCode, body: Withdrawal, request: Request, who: Writer, app: App
) -> dict[str, Any]:
    """Withdrawal is an event; plans can no longer use the item."""
    current = await run_command(request, who, app.get_item, code)
    own_department(who, current.department)
    return _item_view(await run_command(request, who, app.withdraw_item, code, body.reason))


@router.get(
    "/items",
    response_model=list[ItemView],
    summary="List inspection items (limit, offset, Link rel=next)",
)
async def list_items(
    who: Reader,
    db: Pool,
    request: Request,
    response: Response,
    published: bool | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Items from the read model, optionally only published ones."""
    rows = await db.fetch(
        "SELECT * FROM registry.items_view WHERE ($1::boolean IS NULL OR published = $1) "
        "ORDER BY code LIMIT $2 OFFSET $3",
        published,
        limit + 1,
        offset,
    )
    return [dict(r) for r in page(rows, request, response, offset=offset, limit=limit)]
