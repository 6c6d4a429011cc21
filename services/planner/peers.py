"""Fresh answers the planner asks of other services, with the caller's token (so each
service decides what the caller may see): counts of subjects (检查对象) from the registry
(the planner holds no subjects and never reads the registry's tables), and whether a batch
has been drawn from the draw service (the draw stream may not have told the planner yet)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from services.planner.domain.errors import InvalidPlan, PlanError

# Queries of one request (the registry's limit).
CHUNK = 1000

Counter = Callable[[Sequence[Sequence[dict[str, list[str]]]]], list[dict[str, Any]]]


class PeerUnavailable(PlanError):
    """Another service could not answer (down, slow, or it refused the caller)."""


class RegistryCounter:
    """A :data:`Counter`: each query is a list of pools a subject must all match; the
    answers are ``{"total", "per_risk_class"}`` in query order."""

    def __init__(self, url: str, authorization: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": authorization} if authorization else {}
        self.timeout = timeout

    def __call__(self, queries: Sequence[Sequence[dict[str, list[str]]]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout) as http:
            for start in range(0, len(queries), CHUNK):
                chunk = [{"all_of": list(q)} for q in queries[start : start + CHUNK]]
                try:
                    response = http.post("/v1/subject-counts", json={"queries": chunk})
                except httpx.HTTPError as exc:
                    raise PeerUnavailable(
                        f"the registry did not answer ({type(exc).__name__}): subjects cannot "
                        "be counted now; try again"
                    ) from exc
                if response.status_code != 200:
                    raise PeerUnavailable(
                        f"the registry answered {response.status_code} when asked to count "
                        f"subjects: {response.text[:300]}"
                    )
                out += response.json()["counts"]
        return out


DrawnLookup = Callable[[Sequence[str]], set[str]]


class DrawService:
    """A :data:`DrawnLookup`: which of these batches have a draw announced, as the draw
    service's own records say (``GET /v1/batches/{id}/draws``)."""

    def __init__(self, url: str, authorization: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": authorization} if authorization else {}
        self.timeout = timeout

    def __call__(self, batch_ids: Sequence[str]) -> set[str]:
        drawn: set[str] = set()
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout) as http:
            for batch_id in batch_ids:
                try:
                    response = http.get(f"/v1/batches/{batch_id}/draws")
                except httpx.HTTPError as exc:
                    raise PeerUnavailable(
                        f"the draw service did not answer ({type(exc).__name__}): whether "
                        f"batch {batch_id} has been drawn is unknown, so it is not changed"
                    ) from exc
                if response.status_code != 200:
                    raise PeerUnavailable(
                        f"the draw service answered {response.status_code} when asked whether "
                        f"batch {batch_id} has been drawn: {response.text[:300]}"
                    )
                if response.json()["draws"]:
                    drawn.add(batch_id)
        return drawn

    def source(self, code: str) -> dict[str, Any]:
        """The entropy source the draw service keeps under ``code`` (InvalidPlan if none)."""
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout) as http:
            try:
                response = http.get(f"/v1/entropy-sources/{code}")
            except httpx.HTTPError as exc:
                raise PeerUnavailable(
                    f"the draw service did not answer ({type(exc).__name__}) about source {code}"
                ) from exc
        if response.status_code == 404:
            raise InvalidPlan(
                f"{code!r} is not an entropy source the draw service keeps "
                "(GET /v1/entropy-sources on the draw service)"
            )
        if response.status_code != 200:
            raise PeerUnavailable(
                f"the draw service answered {response.status_code} about source {code}"
            )
        found: dict[str, Any] = response.json()
        return found
