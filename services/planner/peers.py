"""Fresh answers the planner asks of other services, with the caller's token (so each
service decides what the caller may see): counts of subjects (检查对象) from the registry
(the planner holds no subjects and never reads the registry's tables), and whether a batch
has been drawn from the draw service (the draw stream may not have told the planner yet)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from services.planner.domain.errors import InvalidPlan, PlanError

# Queries of one request: the registry takes 1,000, but a request counts with every default
# of its pools written out against 512 KiB; 200 of the widest pools stay inside.
CHUNK = 200

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

    def _post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout) as http:
            try:
                response = http.post(path, json=body)
            except httpx.HTTPError as exc:
                raise PeerUnavailable(
                    f"the draw service did not answer ({type(exc).__name__}) about {what}"
                ) from exc
        if response.status_code in (404, 422):
            detail = response.json().get("detail", response.text[:300])
            raise InvalidPlan(f"{what}: {detail}")
        if response.status_code != 200:
            raise PeerUnavailable(f"the draw service answered {response.status_code} about {what}")
        found: dict[str, Any] = response.json()
        return found

    def check_drawing(self, code: str, issue: str, scheduled_at: str) -> dict[str, Any]:
        """The drawing as the draw service would name it in an announcement (its schedule,
        lead time and issue sequence checked there); InvalidPlan when it does not qualify."""
        body = {"issue": issue, "scheduled_at": scheduled_at}
        return self._post(
            f"/v1/entropy-sources/{code}/drawings/check", body, f"drawing {issue} of {code}"
        )

    def read_numbers(self, code: str, numbers: str) -> str:
        """The drawing's numbers read in the source's format (InvalidPlan if they do not
        fit it), as canonical text."""
        read = self._post(
            f"/v1/entropy-sources/{code}/numbers", {"numbers": numbers}, f"numbers of {code}"
        )
        return str(read["numbers"])
