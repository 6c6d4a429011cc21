"""Security headers on every answer of every service (one ASGI middleware).

- ``X-Content-Type-Options: nosniff``: a browser never guesses a JSON answer is HTML.
- ``Content-Security-Policy``: the JSON API loads nothing and is framed by no one
  (``default-src 'none'; frame-ancestors 'none'``); the interactive documentation
  (``/docs``, ``/redoc``) gets its own policy that lets it load its scripts and styles from
  the CDN FastAPI takes them from, and nothing else. A route that sets its own policy (the
  disclosure service's public portal: its own scripts, styles and the draw service's
  proofs) keeps it.
- ``Cache-Control``: ``no-store`` for everything a caller signs in for, and by default; a
  short public ``max-age`` for the anonymous public lists (``GET /v1/public/…``), which are
  the same for everyone. A route that sets its own ``Cache-Control`` keeps it.
- ``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY`` for older browsers.

The ``server: uvicorn`` banner is not set here but switched off in ``service.serve``
(uvicorn writes it below the ASGI application).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc as FastAPI serves them: bundle and styles from cdn.jsdelivr.net, an
# inline start-up script, fonts from Google (ReDoc), the favicon from FastAPI's site, and
# requests back to this service (the OpenAPI document, "try it out").
DOCS_POLICY = (
    "default-src 'none'; "
    "script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
PUBLIC_PREFIX = "/v1/public/"
# How long a browser or a proxy may keep an anonymous public list (seconds): the public
# sees a new result or draw at most this late.
PUBLIC_MAX_AGE = 60


def _policy(path: str) -> str:
    return DOCS_POLICY if path.startswith(DOCS_PATHS) else API_POLICY


def cache_control(method: str, path: str, authenticated: bool) -> str:
    """What a client and a proxy may keep of this answer."""
    if not authenticated and method in ("GET", "HEAD") and path.startswith(PUBLIC_PREFIX):
        return f"public, max-age={PUBLIC_MAX_AGE}"
    return "no-store"


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer (problem answers and 413s included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        authenticated = any(name == b"authorization" for name, _ in scope.get("headers", []))
        cache = cache_control(scope.get("method", "GET"), path, authenticated)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if "content-security-policy" not in headers:  # a page sets its own
                    headers["Content-Security-Policy"] = _policy(path)
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = cache
                if "server" in headers:
                    del headers["server"]
            await send(message)

        await self.app(scope, receive, send_with_headers)
