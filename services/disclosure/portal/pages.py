"""The public portal (公示门户): pages for people, in Chinese, rendered on the server and
usable without JavaScript (except the verifier), at stable, shareable addresses:

``/`` home · ``/items`` 抽查事项清单 · ``/plans``, ``/plans/{id}`` 计划及各版本 ·
``/draws``, ``/draws/{id}`` 抽取 (with the in-browser verifier) · ``/results?q=`` 查询 ·
``/results/{id}`` · ``/companies/{uscc}`` 企业抽查记录 · ``/non-cooperation`` 不配合检查名单 ·
``/overdue`` 逾期情况 · ``/statistics`` · ``/verify`` 验证证明文件 · ``/feed.atom``.

The pages are not API operations (not in the OpenAPI document); they read through the same
allow-lists. Whatever is typed into an address or the search box is checked here and
answered with a page saying what is wrong (400/404), never an error of the server.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from importlib.resources import files
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse

from libs.common.paging import decode_cursor, encode_cursor
from libs.common.problems import Problem
from libs.common.service import pool
from libs.common.text import NON_MARKET_ID
from services.disclosure.domain.days import InvalidDay, end_of_day
from services.disclosure.domain.national import (
    MAX_FRAGMENT,
    MIN_FRAGMENT,
    normalise_name,
    public_overdue,
)
from services.disclosure.links import FEED_ID, portal_public_url, proof_url
from services.disclosure.portal import queries
from services.disclosure.portal.render import (
    atom,
    bad_request,
    env,
    not_found,
    page,
    page_policy,
)
from services.disclosure.results_query import (
    ResultFilter,
    find_overdue,
    find_results,
    latest_results,
    one_result,
)

router = APIRouter(include_in_schema=False)
Pool = Annotated[asyncpg.Pool, Depends(pool)]
PAGE = 50
OVERDUE_PAGE = 200
LIST_PAGE = 100  # plans and draws
USCC = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$")


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _clean(text: str) -> str | None:
    """A typed query as searched, or None if it holds what no name holds."""
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in text) or len(text) > 200:
        return None
    return text.strip()


@router.get("/", response_class=HTMLResponse)
async def home(db: Pool) -> HTMLResponse:
    """Recent plans, draws and results."""
    return page(
        "home.html",
        plans=await queries.recent_plans(db, 10),
        draws=await queries.draws(db, 10),
        results=await latest_results(db, 20),
    )


@router.get("/items", response_class=HTMLResponse)
async def items(db: Pool, on: str = "") -> HTMLResponse:
    """The item list as it stands, or as it stood at the end of a day (Beijing)."""
    if not on:
        return page("items.html", items=await queries.items(db), on="")
    try:
        day = date.fromisoformat(on)
    except ValueError:
        return bad_request("日期应为 YYYY-MM-DD。")
    try:
        until = end_of_day(day)
    except InvalidDay:
        return bad_request("日期应在 2000 年至 2100 年之间。")
    return page("items.html", items=await queries.items(db, until), on=day.isoformat())


def _before(after: str) -> queries.Before | Literal[False]:
    """A list page's cursor (the last row's time and id), None on the first page, False
    for one no page gives."""
    if not after:
        return None
    try:
        at, key = decode_cursor(after, (datetime.fromisoformat, UUID))
    except Problem:
        return False
    return at, key


def _next(rows: list[dict[str, Any]], at: str, key: str) -> str | None:
    """The next list page's address after a full page."""
    if len(rows) < LIST_PAGE:
        return None
    return "?after=" + encode_cursor([rows[-1][at], rows[-1][key]])


@router.get("/plans", response_class=HTMLResponse)
async def plans(db: Pool, after: str = "") -> HTMLResponse:
    before = _before(after)
    if before is False:
        return bad_request("翻页参数有误。")
    found = await queries.recent_plans(db, LIST_PAGE, before)
    return page("plans.html", plans=found, more=_next(found, "published_at", "plan_id"))


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
async def plan(plan_id: str, db: Pool) -> HTMLResponse:
    key = _uuid(plan_id)
    found = await queries.plan(db, key) if key else None
    if found is None or key is None:
        return not_found("没有这个已公布的抽查计划。")
    results = await find_results(db, ResultFilter(plan_id=key), limit=PAGE)
    return page(
        "plan.html",
        plan=found,
        editions=await queries.editions(db, key),
        draws=await queries.draws(db, 500, plan_id=key),
        results=results,
        more_results=_more(results, f"plan={key}"),
    )


def _more(rows: list[dict[str, Any]], query: str) -> str | None:
    """The search page that goes on after a full first page of results (keyset)."""
    return f"/results?{query}&after={rows[-1]['record_id']}" if len(rows) == PAGE else None


@router.get("/draws", response_class=HTMLResponse)
async def draws(db: Pool, after: str = "") -> HTMLResponse:
    before = _before(after)
    if before is False:
        return bad_request("翻页参数有误。")
    found = await queries.draws(db, LIST_PAGE, before=before)
    return page("draws.html", draws=found, more=_next(found, "announced_at", "draw_id"))


@router.get("/draws/{draw_id}", response_class=HTMLResponse)
async def draw(draw_id: str, db: Pool) -> HTMLResponse:
    """A draw from its announcement on, with the button that verifies it in the browser."""
    key = _uuid(draw_id)
    found = await queries.draw(db, key) if key else None
    if found is None:
        return not_found("没有这个抽取公告。")
    plan_row = await queries.plan(db, found["plan_id"])
    return page(
        "draw.html",
        draw=found,
        status_text=found["status_text"],
        plan_title=plan_row["title"] if plan_row else None,
        proof_url=proof_url(found["draw_id"]),
    )


@router.get("/results", response_class=HTMLResponse)
async def results(
    db: Pool, q: str = "", after: str = "", plan: str = "", late: str = ""
) -> HTMLResponse:
    """Search by 统一社会信用代码 or a fragment of the name (two characters or more); or a
    plan's results (``plan``), or those published late (``late=1``), page after page."""
    typed = _clean(q)
    cursor = _uuid(after) if after else None
    plan_key = _uuid(plan) if plan else None
    if typed is None or (after and cursor is None) or (plan and plan_key is None):
        return bad_request("查询内容含有不能识别的字符。")
    heading = "抽查结果"
    wanted = ResultFilter()
    shown: dict[str, str] = {}  # what the next page's address carries
    if typed:
        shown = {"q": typed}
        if USCC.match(typed.upper()):
            wanted = ResultFilter(identifier=typed.upper())
        elif NON_MARKET_ID.match(typed):
            wanted = ResultFilter(identifier=typed)
        else:
            key = normalise_name(typed)
            if not MIN_FRAGMENT <= len(key) <= MAX_FRAGMENT:
                return page(
                    "results.html",
                    status=400,
                    heading=heading,
                    q=typed,
                    results=[],
                    next=None,
                    params="",
                    error=f"请输入企业名称中连续的 {MIN_FRAGMENT}–{MAX_FRAGMENT} 个字，"
                    "或 18 位统一社会信用代码。",
                )
            wanted = ResultFilter(name=key)
        heading = f"“{typed}”的抽查结果"
    elif plan_key is not None:
        found_plan = await queries.plan(db, plan_key)
        if found_plan is None:
            return not_found("没有这个已公布的抽查计划。")
        heading, shown = f"{found_plan['title']}：抽查结果", {"plan": str(plan_key)}
        wanted = ResultFilter(plan_id=plan_key)
    elif late == "1":
        heading, shown = "逾期公示的结果", {"late": "1"}
        wanted = ResultFilter(late=True)
    found = await find_results(db, wanted, after=cursor, limit=PAGE)
    params = urlencode(shown) + "&" if shown else ""
    return page(
        "results.html",
        heading=heading,
        q=typed,
        results=found,
        next=found[-1]["record_id"] if len(found) == PAGE else None,
        params=params,
    )


@router.get("/results/{record_id}", response_class=HTMLResponse)
async def result(record_id: str, db: Pool) -> HTMLResponse:
    key = _uuid(record_id)
    found = await one_result(db, key) if key else None
    if found is None:
        return not_found("没有这条已公示的抽查结果（结果经审核后才公示）。")
    return page("result.html", r=found)


@router.get("/companies/{identifier}", response_class=HTMLResponse)
async def company(identifier: str, db: Pool) -> HTMLResponse:
    """A company's whole inspection history: every result published and every draw that
    drew it."""
    # A market subject's 统一社会信用代码, or a non-market subject's PREFIX-local-id.
    market = bool(USCC.match(identifier.upper()))
    code = identifier.upper() if market else identifier
    if not (market or NON_MARKET_ID.match(code)):
        return not_found("主体标识应为 18 位统一社会信用代码，或非市场主体的“前缀-编号”。")
    found = await find_results(db, ResultFilter(identifier=code), limit=PAGE)
    drawn = await queries.draws(db, 500, identifier=code)
    name = found[0]["subject_name"] if found else None
    if name is None:
        for d in drawn:
            name = next((s["name"] for s in d["subjects"] if s["identifier"] == code), None)
            if name:
                break
    return page(
        "company.html",
        identifier=code,
        identifier_label="统一社会信用代码" if market else "主体标识",
        name=name,
        results=found,
        more_results=_more(found, urlencode({"q": code})),
        draws=drawn,
    )


@router.get("/non-cooperation", response_class=HTMLResponse)
async def non_cooperation(db: Pool, after: str = "") -> HTMLResponse:
    """不配合检查情节严重: the results of that category, with the case of each."""
    cursor = _uuid(after) if after else None
    if after and cursor is None:
        return bad_request("翻页参数有误。")
    found = await find_results(db, ResultFilter(outcome="refused"), after=cursor, limit=PAGE)
    return page(
        "results.html",
        heading="不配合检查情节严重名单",
        note="拒绝、阻扰、妨碍检查，或不如实提供情况，情节严重的检查对象（备注中写明情形）。",
        results=found,
        next=found[-1]["record_id"] if len(found) == PAGE else None,
        params="",
    )


@router.get("/overdue", response_class=HTMLResponse)
async def overdue(db: Pool, after: str = "") -> HTMLResponse:
    """What is overdue now (page after page), and what was published late."""
    cursor = _uuid(after) if after else None
    if after and cursor is None:
        return bad_request("翻页参数有误。")
    rows = await find_overdue(db, after=cursor, limit=OVERDUE_PAGE)
    # The late results on the first page only (they go on at /results?late=1).
    late = [] if cursor else await find_results(db, ResultFilter(late=True), limit=PAGE)
    more = f"/overdue?after={rows[-1]['missed_id']}" if len(rows) == OVERDUE_PAGE else None
    return page(
        "overdue.html",
        overdue=[public_overdue(r) for r in rows],
        more_overdue=more,
        late=late,
        more_late=_more(late, "late=1"),
    )


@router.get("/statistics", response_class=HTMLResponse)
async def statistics(db: Pool) -> HTMLResponse:
    counted = await queries.statistics(db)
    return page(
        "statistics.html", by_outcome=counted["by_outcome"], by_department=counted["by_department"]
    )


@router.get("/verify", response_class=HTMLResponse)
async def verify() -> HTMLResponse:
    """Verify a proof file in the browser (nothing is uploaded)."""
    return page("verify.html")


STATIC = {
    "style.css": "text/css; charset=utf-8",
    "portal.js": "text/javascript; charset=utf-8",
    "verify.js": "text/javascript; charset=utf-8",
}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The portal's own files (a fixed list: nothing else of the disk is reachable)."""
    media = STATIC.get(name)
    if media is None:
        return not_found("没有这个文件。")
    body = (files("services.disclosure") / "static" / name).read_bytes()
    return Response(
        body,
        media_type=media,
        headers={"Content-Security-Policy": page_policy(), "Cache-Control": "public, max-age=300"},
    )


@router.get("/feed.atom")
async def feed(db: Pool) -> Response:
    """New disclosures (plans, draws, results) for feed readers. Its links are the
    configured portal address's, else relative: never the client's Host header, which a
    cache (max-age 60) would hand on to everyone."""
    base = portal_public_url()
    feed_id = f"{base}/feed.atom" if base else FEED_ID
    entries: list[dict[str, Any]] = []
    for p in await queries.recent_plans(db, 20):
        entries.append(
            _entry(
                p["plan_id"],
                f"抽查计划：{p['title']}",
                f"/plans/{p['plan_id']}",
                p["adjusted_at"] or p["published_at"],
                f"{p['number']} 第 {p['edition']} 版",
            )
        )
    for d in await queries.draws(db, 20):
        when = d["executed_at"] or d["announced_at"]
        entries.append(
            _entry(
                d["draw_id"],
                f"抽取：{d['batch_name']}（{d['status_text']}）",
                f"/draws/{d['draw_id']}",
                when,
                f"对象库 {d['pool_size']} 户",
            )
        )
    for r in await latest_results(db, 20):
        entries.append(
            _entry(
                r["record_id"],
                f"抽查结果：{r['subject_name']} {r['outcome_text']}",
                f"/results/{r['record_id']}",
                r["disclosed_at"],
                f"{r['inspecting_authority']} {r['inspected_on']} {r['remark']}".strip(),
            )
        )
    entries.sort(key=lambda e: e["sort"], reverse=True)
    updated = entries[0]["updated"] if entries else datetime.now(UTC).isoformat()
    xml = env.get_template("feed.xml").render(
        base=base, feed_id=feed_id, updated=updated, entries=entries[:50]
    )
    return atom(xml)


def _entry(key: Any, title: str, path: str, when: Any, summary: str) -> dict[str, Any]:
    moment = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {
        "id": f"urn:uuid:{key}",
        "title": title,
        "path": path,
        "updated": moment.isoformat(),
        "sort": moment,
        "summary": summary,
    }
