"""Rendering the public portal (公示门户): Jinja2 templates on the server, the page's own
security policy and cache lifetime."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from services.disclosure.domain.days import BEIJING
from services.disclosure.links import draw_public_url

env = Environment(
    loader=PackageLoader("services.disclosure", "templates"),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def beijing(moment: Any) -> str:
    """A moment as people here read it: Beijing time to the second."""
    if moment is None or moment == "":
        return ""
    when = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def beijing_day(moment: Any) -> str:
    """The day of a moment in Beijing (a draw at 01:00 Beijing is on that day, not the
    day before as in UTC)."""
    return beijing(moment)[:10]


env.filters["beijing"] = beijing
env.filters["day"] = beijing_day
# How a page may be kept: the public record changes when a result is published, and a
# minute late is fine for it (as the JSON lists, libs/common/security_headers.py).
PAGE_CACHE = "public, max-age=60"


def page_policy() -> str:
    """The portal's scripts and styles are its own; the verifier fetches proofs from the
    draw service; nothing else is loaded, posted or framed."""
    parts = urlsplit(draw_public_url())
    draw_origin = f"{parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {draw_origin}; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of the portal."""
    html = env.get_template(template).render(**context)
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": page_policy(), "Cache-Control": PAGE_CACHE},
    )


def not_found(detail: str) -> HTMLResponse:
    """A page that is not there (a link mistyped, a result not yet public)."""
    response = page("error.html", status=404, title="未找到", detail=detail)
    response.headers["Cache-Control"] = "no-store"
    return response


def bad_request(detail: str) -> HTMLResponse:
    """A query the portal does not take, said in words."""
    response = page("error.html", status=400, title="查询条件有误", detail=detail)
    response.headers["Cache-Control"] = "no-store"
    return response


def atom(xml: str) -> Response:
    """The Atom feed."""
    return Response(
        xml,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Content-Security-Policy": page_policy(), "Cache-Control": PAGE_CACHE},
    )
