"""An ``Idempotency-Key`` marked as carried out in the transaction that stores its events.

The middleware (:mod:`libs.common.idempotency`) keeps a request's answer only once the
answer exists. A process that dies between committing a command's events and storing that
answer used to leave a claim that simply lapsed, and the retry ran the command a second
time: a second proposal, a second correction. So the claim travels with the request (a
context variable, which ``asyncio.to_thread`` carries into the command's thread) and every
save of the event store calls :func:`mark_committed` inside its own transaction:

- the claim's row gets ``committed_at``, atomically with the events, so after a crash the
  retry finds "carried out" and is answered without running again (:func:`carried_out`);
- the row must still exist and belong to this request (its ``owner``): a request whose
  claim lapsed and was taken over by a retry cannot commit anything any more
  (:class:`ClaimLost`), so a slow first attempt and its retry never both write, even when
  the retry ended without a kept answer and deleted the row it had taken.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.common.problems import Problem

# Raised by the SQL function when the claim now belongs to another request.
CLAIM_LOST_SQLSTATE = "SJ001"

DDL = """
ALTER TABLE {schema}.idempotency_keys ADD COLUMN IF NOT EXISTS committed_at timestamptz;
CREATE OR REPLACE FUNCTION {schema}.ssj_idempotency_commit(c text, k text, o uuid)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {schema}.idempotency_keys SET committed_at = coalesce(committed_at, now())
   WHERE caller = c AND key = k AND owner = o;
  -- A request's row lives as long as the request: gone, or another owner's, it was taken
  -- over (a retry that ended without a kept answer deletes the row it took).
  IF NOT FOUND THEN
    RAISE EXCEPTION 'idempotency key % was taken over by a retry', k
      USING ERRCODE = 'SJ001';
  END IF;
END $$
"""


@dataclass(frozen=True)
class Claim:
    """The key a request holds while it runs (``owner`` is its fencing token)."""

    schema: str
    caller: str
    key: str
    owner: uuid.UUID


_CLAIM: ContextVar[Claim | None] = ContextVar("ssj_idempotency_claim", default=None)


@contextlib.contextmanager
def holding(claim: Claim) -> Iterator[None]:
    """Run the request's command with ``claim`` visible to the event store's saves."""
    token = _CLAIM.set(claim)
    try:
        yield
    finally:
        _CLAIM.reset(token)


def current_claim(schema: str) -> Claim | None:
    """The key of the request running this code, when it is a keyed request of ``schema``'s
    service (a save marks it carried out in its own transaction)."""
    claim = _CLAIM.get()
    return claim if claim is not None and claim.schema == schema else None


def mark_committed(cur: Any, schema: str) -> None:
    """Inside a save's transaction: mark the current request's key as carried out (nothing
    when the save does not come from a keyed request of this service)."""
    claim = current_claim(schema)
    if claim is None:
        return
    cur.execute(
        f"SELECT {schema}.ssj_idempotency_commit(%s, %s, %s)",
        (claim.caller, claim.key, claim.owner),
    )


class ClaimLost(Problem):
    """The request's key was taken over by a retry before this save: nothing was stored."""

    def __init__(self) -> None:
        super().__init__(
            409,
            "Request taken over",
            "this request ran longer than its claim on the Idempotency-Key and a retry took "
            "the key over; nothing of this attempt was stored",
        )


def is_claim_lost(exc: BaseException) -> bool:
    """Whether a database error of a save is :data:`CLAIM_LOST_SQLSTATE` (possibly wrapped
    by eventsourcing's own exception types)."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == CLAIM_LOST_SQLSTATE:  # psycopg's errors
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def carried_out(committed_at: datetime) -> tuple[int, str, str]:
    """The answer to a retry whose first request stored its events but died before its
    answer was kept: a 409 telling the client not to send it again."""
    return (
        409,
        "Request already carried out",
        "the first request with this Idempotency-Key was carried out (its events were "
        f"stored at {committed_at.isoformat()}), but its answer was lost when the server "
        "stopped; read the resource instead of sending the request again",
    )
