"""An HTTP client that behaves like a careful government platform under faults: every write
carries an ``Idempotency-Key`` kept across its retries, a refused connection or a 5xx moves
to the service's other replica, and a retry goes on until an answer that is the command's
own (2xx, 4xx) or the deadline.

It counts what the checker needs: writes sent, writes acknowledged (2xx), and the
acknowledged writes themselves, so that each one's effect can be looked for afterwards.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Answers that are the fault's, not the command's: try again (elsewhere).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
DEADLINE_S = 120.0


@dataclass(frozen=True)
class Acknowledged:
    """One write a service acknowledged (2xx)."""

    service: str
    method: str
    path: str
    body: Any
    answer: Any


@dataclass
class Tally:
    """What the load sent and what it heard (shared by every client of a run)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    writes_sent: int = 0
    writes_acknowledged: int = 0
    reads: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    # Writes that got a 409 on a retry after their first attempt may have been applied
    # (the answer was lost with the process): neither acknowledged nor refused.
    ambiguous: int = 0


class ResilientClient(httpx.Client):
    """``httpx.Client`` whose requests go to any replica of a service and are retried."""

    def __init__(self, replicas: dict[str, list[str]], tally: Tally) -> None:
        super().__init__(timeout=30)
        self.tally = tally
        # base URL (scheme://host:port) of every replica → (service, all its replicas)
        self._service_of: dict[str, tuple[str, list[str]]] = {}
        for service, urls in replicas.items():
            for url in urls:
                self._service_of[url.rstrip("/")] = (service, urls)
        self._turn = itertools.count()

    def request(self, method: str, url: Any, **kw: Any) -> httpx.Response:
        parts = urlsplit(str(url))
        base = f"{parts.scheme}://{parts.netloc}"
        service, urls = self._service_of.get(base, ("", [base]))
        method = method.upper()
        is_write = method in WRITES
        headers = dict(kw.pop("headers", None) or {})
        if is_write:
            headers.setdefault("Idempotency-Key", f"chaos-{uuid.uuid4()}")
        deadline = time.monotonic() + DEADLINE_S
        attempt, faulted = 0, False
        start = next(self._turn)
        with self.tally.lock:
            if is_write:
                self.tally.writes_sent += 1
            else:
                self.tally.reads += 1
        while True:
            target = urls[(start + attempt) % len(urls)].rstrip("/")
            replica = urlsplit(target)
            address = urlunsplit(parts._replace(scheme=replica.scheme, netloc=replica.netloc))
            attempt += 1
            try:
                response = super().request(method, address, headers=headers, **kw)
            except httpx.TransportError:
                response = None
            status = response.status_code if response is not None else 0
            # 409 "still running" of a key whose first request died with its process:
            # the claim is freed once its process's session is gone (at most its 60 s lease),
            # then the retry runs.
            in_flight = (
                status == 409 and response is not None and "Request in progress" in response.text
            )
            if response is not None and status not in RETRY_STATUSES and not in_flight:
                break
            faulted = True
            if time.monotonic() > deadline:
                if response is None:
                    raise httpx.ConnectError(f"{method} {service}{parts.path}: no replica answered")
                break
            with self.tally.lock:
                self.tally.retries += 1
            time.sleep(min(0.2 * attempt, 2.0))
        with self.tally.lock:
            self.tally.statuses[status] += 1
            if is_write and 200 <= status < 300:
                self.tally.writes_acknowledged += 1
                self.tally.acknowledged.append(
                    Acknowledged(service, method, parts.path, kw.get("json"), _json(response))
                )
            elif is_write and status == 409 and faulted:
                self.tally.ambiguous += 1
        return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
