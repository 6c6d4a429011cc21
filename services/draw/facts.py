"""The registry's facts a v3 replacement (递补) may name, from the draw's own read model.

What the registry recorded since a draw's announcement: subjects whose status changed
(注销, 吊销, 撤销, 迁出), inspectors suspended or transferred, conflicts of interest
declared. Loaded once per replacement request (a handful of rows: only changes since the
announcement), then looked up by the protocol (services/draw/protocol/replace3.py) while
it finds the replacement, so the choice never waits on the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg


def _evidence(event: str | None, fact: str, at: datetime) -> dict[str, Any] | None:
    if not event:  # recorded before the draw service kept event ids: no evidence to name
        return None
    return {"event": event, "fact": fact, "at": at.isoformat()}


@dataclass(frozen=True)
class LoadedFacts:
    """:class:`~services.draw.protocol.replace3.RegistryFacts` over rows read at once."""

    subjects: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    inspectors: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def subject(self, identifier: str) -> Mapping[str, Any] | None:
        """The latest status change of a pooled subject since the announcement."""
        return self.subjects.get(identifier)

    def inspector(self, inspector_id: str, identifier: str) -> Mapping[str, Any] | None:
        """A conflict with this subject, else a suspension or transfer, since then."""
        return self.conflicts.get((inspector_id, identifier)) or self.inspectors.get(inspector_id)


async def load_facts(db: asyncpg.Pool, since: datetime) -> LoadedFacts:
    """Every registry fact recorded at or after ``since`` (the draw's announcement)."""
    async with db.acquire() as conn:
        subjects = await conn.fetch(
            """SELECT identifier, status, status_changed_at, status_event
               FROM draw.pool_subjects
               WHERE status <> 'operating' AND status_changed_at >= $1""",
            since,
        )
        inspectors = await conn.fetch(
            """SELECT inspector_id::text, status, status_changed_at, status_event
               FROM draw.pool_inspectors
               WHERE status <> 'active' AND status_changed_at >= $1""",
            since,
        )
        conflicts = await conn.fetch(
            """SELECT c.inspector_id::text, s.identifier, c.changed_at, c.event
               FROM draw.conflicts c JOIN draw.pool_subjects s USING (subject_id)
               WHERE c.active AND c.changed_at >= $1""",
            since,
        )
    return LoadedFacts(
        subjects={
            r["identifier"]: e
            for r in subjects
            if (e := _evidence(r["status_event"], r["status"], r["status_changed_at"]))
        },
        inspectors={
            r["inspector_id"]: e
            for r in inspectors
            if (e := _evidence(r["status_event"], r["status"], r["status_changed_at"]))
        },
        conflicts={
            (r["inspector_id"], r["identifier"]): e
            for r in conflicts
            if (e := _evidence(r["event"], "conflict", r["changed_at"]))
        },
    )
