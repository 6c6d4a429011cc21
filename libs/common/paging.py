"""Pagination of list answers: ``limit`` and either ``offset`` or a keyset cursor
(``after``), and a ``Link: <…>; rel="next"`` header when there is a next page.

The answer's body keeps its shape (a JSON array), so readers written before pagination go
on working on the first page; the header says how to get the next. Offsets are bounded
(:data:`MAX_OFFSET`): a deep offset makes PostgreSQL read and discard every row before it,
and lists longer than that are filtered (department, plan, year) rather than paged through.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response

from libs.common.problems import Problem

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


# -- keyset pages: ``after`` names the last row of the previous page ----------------------

CURSOR_MAX = 512
Cursor = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX,
        pattern=r"^[A-Za-z0-9_-]+$",
        description='where the page starts: the Link header rel="next" of the previous page '
        "gives it (an opaque token; keyset paging, as fast on the last page as on the first)",
    ),
]


def encode_cursor(values: Sequence[Any]) -> str:
    """The sort key of a row as an opaque URL-safe token."""
    text = json.dumps([str(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str, kinds: Sequence[Callable[[str], Any]]) -> list[Any]:
    """A token of :func:`encode_cursor` back into typed values (``kinds``: one parser per
    value, e.g. ``str``, ``UUID``, ``datetime.fromisoformat``); 422 for anything else, so
    a forged cursor never reaches SQL as a value of the wrong type."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw.decode())
        if not (isinstance(values, list) and len(values) == len(kinds)):
            raise ValueError("wrong shape")
        for value in values:
            # Text PostgreSQL cannot take (NUL, a lone surrogate) never came from a row.
            if not isinstance(value, str) or "\x00" in value:
                raise ValueError("not a value of a row")
            value.encode()
        typed = [kind(v) for kind, v in zip(kinds, values, strict=True)]
        for value in typed:
            if isinstance(value, datetime):
                value.astimezone(UTC)  # a time at the calendar's edge overflows in UTC
        return typed
    except (ValueError, TypeError, OverflowError, UnicodeError, binascii.Error) as exc:
        raise Problem(
            422,
            "Invalid cursor",
            'after is not a cursor of this list: follow the Link header rel="next"',
            errors=[{"field": "after", "in": "query", "code": "cursor"}],
        ) from exc


def keyset_page(
    rows: Sequence[T],
    request: Request,
    response: Response,
    *,
    limit: int,
    key: Callable[[T], Sequence[Any]],
) -> list[T]:
    """The first ``limit`` of ``rows`` (fetched with ``LIMIT limit + 1``), and a ``Link``
    header naming the next page by the last row's sort ``key``."""
    if len(rows) > limit:
        cursor = encode_cursor(key(rows[limit - 1]))
        url = request.url.remove_query_params("offset").include_query_params(
            after=cursor, limit=limit
        )
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return list(rows[:limit])
