"""Offset pagination of list answers: ``limit`` and ``offset`` query parameters, and a
``Link: <…>; rel="next"`` header when there is a next page.

The answer's body keeps its shape (a JSON array), so readers written before pagination go
on working on the first page; the header says how to get the next. Offsets are bounded
(:data:`MAX_OFFSET`): a deep offset makes PostgreSQL read and discard every row before it,
and lists longer than that are filtered (department, plan, year) rather than paged through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Query, Request, Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 100_000
T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size (at most {MAX_LIMIT})")]
Offset = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_OFFSET,
        description=f'rows to skip (at most {MAX_OFFSET}); the Link header rel="next" '
        "gives the next page's address",
    ),
]


def page(
    rows: Sequence[T], request: Request, response: Response, *, offset: int, limit: int
) -> list[T]:
    """The first ``limit`` of ``rows`` (fetched with ``LIMIT limit + 1``), and a ``Link``
    header naming the next page when there is one (and it lies within the bound)."""
    if len(rows) > limit and offset + limit <= MAX_OFFSET:
        # Relative to the request (RFC 8288): the Host header the client sent is not echoed.
        url = request.url.include_query_params(offset=offset + limit, limit=limit)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return list(rows[:limit])
