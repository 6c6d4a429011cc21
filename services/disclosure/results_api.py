"""Public results (抽查结果公示): in the national system's fields, looked up by USCC, name
fragment, region, department, plan, draw, outcome and period; what was published late and
what is overdue now. No token; allow-listed fields only (domain/national.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Response

from libs.common.problems import Problem
from libs.common.service import lookup_pool, pool
from libs.common.text import Code, Identifier, line
from libs.common.tracing import quiet_statements
from services.disclosure.answers import OverduePage, PublicResult, ResultPage
from services.disclosure.domain.national import (
    MAX_FRAGMENT,
    MIN_FRAGMENT,
    normalise_name,
    public_overdue,
)
from services.disclosure.results_query import (
    ResultFilter,
    find_overdue,
    find_results_json,
    one_result,
)

router = APIRouter(prefix="/v1/public", tags=["public"])
Pool = Annotated[asyncpg.Pool, Depends(pool)]
Lookups = Annotated[asyncpg.Pool, Depends(lookup_pool)]
Outcome = Literal[
    "no_problem",
    "problem_corrected",
    "problem_pending",
    "unreachable",
    "refused",
    "no_activity",
    "closed",
    "deregistered",
    "licence_revoked",
    "moved_out",
    "registration_cancelled",
]
Fragment = Annotated[str, line(MAX_FRAGMENT, min_length=MIN_FRAGMENT)]
Region = Annotated[str, Query(pattern=r"^[0-9]{6}$", description="行政区划代码 (GB/T 2260)")]
After = Annotated[UUID | None, Query(description="cursor: the `next` of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=1000)]


@router.get(
    "/results",
    response_model=ResultPage,
    summary="Disclosed inspection results 抽查结果 (national system's fields)",
    responses={
        422: {
            "description": "a filter out of range (a name fragment under 2 "
            "characters, a region not of 6 digits, a period backwards)"
        }
    },
)
async def results(
    db: Pool,
    lookups: Lookups,
    identifier: Identifier | None = Query(None, description="统一社会信用代码 of one subject"),
    name: Fragment | None = Query(
        None, description="a fragment of the subject's name, 2 characters or more (企业名称)"
    ),
    region: Region | None = None,
    department: Code | None = Query(None, description="the 检查机关's department code"),
    plan_id: UUID | None = None,
    draw_id: UUID | None = None,
    outcome: Outcome | None = Query(None, description="检查结果; refused: 不配合检查情节严重"),
    late: bool | None = Query(None, description="true: only what was published late"),
    published_from: date | None = Query(None, description="公示日期 on or after"),
    published_to: date | None = Query(None, description="公示日期 on or before"),
    after: After = None,
    limit: PageSize = 200,
) -> Response:
    """Results in the national disclosure system's fields (抽查计划编号, 抽查计划名称, 任务编号,
    任务名称, 抽查类型, 检查机关, 检查完成日期, 检查结果, 备注), with the findings per item,
    the editions (corrections), the follow-up and non-cooperation, when each became public
    and the deadline it had. Keyset-paginated by ``record_id``: pass ``next`` as
    ``after``."""
    if published_from and published_to and published_from > published_to:
        raise Problem(422, "Invalid period", "published_from is after published_to")
    if name is not None and len(normalise_name(name)) < MIN_FRAGMENT:
        raise Problem(422, "Name fragment too short", "give 2 characters or more")
    wanted = ResultFilter(
        identifier=identifier,
        name=name,
        region=region,
        department=department,
        plan_id=plan_id,
        draw_id=draw_id,
        outcome=outcome,
        late=late,
        published_from=published_from,
        published_to=published_to,
    )
    # The public's hottest look-up is one statement: its span would time what the request's
    # span already does, at a tenth of the look-up's CPU (make bench-disclosure: 1,709 ->
    # 1,890 USCC look-ups/s). SSJ_TRACE_STATEMENTS=all traces it again (tracing.py).
    with quiet_statements():
        page = await find_results_json(db, wanted, after=after, limit=limit, lookups=lookups)
    # The page's JSON as PostgreSQL wrote it (results_json.py): what ResultPage declares,
    # which tests/integration/test_results_json.py holds it to.
    return Response(page, media_type="application/json")


@router.get(
    "/results/{record_id}",
    response_model=PublicResult,
    summary="One disclosed result",
    responses={404: {"description": "no disclosed result of that id"}},
)
async def result(record_id: UUID, db: Pool) -> dict[str, Any]:
    """One result as disclosed (a task's result once reviewed; never before)."""
    found = await one_result(db, record_id)
    if found is None:
        raise Problem(404, "Not found", f"no disclosed result {record_id}")
    return found


@router.get(
    "/overdue",
    response_model=OverduePage,
    summary="Deadlines missed and not yet made good 逾期未公示、逾期未复查",
)
async def overdue(
    db: Pool,
    kind: Literal["publication", "follow_up"] | None = None,
    department: Code | None = None,
    after: After = None,
    limit: PageSize = 200,
) -> dict[str, Any]:
    """What is overdue now: a result not published 20 working days after its clock started
    (逾期未公示), or a correction order past its deadline with no re-inspection (逾期未复查),
    as the results service's deadline watch noticed them, until made good. Only the task,
    the subject drawn (public since its draw), the department and the dates: nothing of an
    unreviewed result. Keyset-paginated: pass ``next`` as ``after``."""
    rows = await find_overdue(db, kind, department, after, limit)
    shown = [public_overdue(r) for r in rows]
    return {"items": shown, "next": str(rows[-1]["missed_id"]) if len(rows) == limit else None}
