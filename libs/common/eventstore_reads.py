"""Reads of the events table that eventsourcing has no call for: many aggregates in one
query (imports), and whether a save's events are stored already (a retried insert)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import sql

BULK_CHUNK = 10_000


class StoredReads:
    """Mixed into :class:`libs.common.eventstore.EventStoreApp` (which provides these)."""

    mapper: Any

    def connection(self) -> Any:
        raise NotImplementedError

    @property
    def events_sql(self) -> sql.Composable:
        raise NotImplementedError

    def _stored_already(self, events: Sequence[Any]) -> bool:
        """Whether exactly these events, byte for byte, are stored (each names its time and
        its stream's version, so only the save that made them stored them)."""
        stored = [self.mapper.to_stored_event(e) for e in events]
        query = sql.SQL(
            "SELECT originator_id, originator_version, state FROM {} "
            "WHERE (originator_id, originator_version) IN "
            "(SELECT * FROM unnest(%s::uuid[], %s::bigint[]))"
        ).format(self.events_sql)
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(
                query,
                ([e.originator_id for e in stored], [e.originator_version for e in stored]),
            )
            found = {
                (row["originator_id"], row["originator_version"]): bytes(row["state"])
                for row in cur.fetchall()
            }
        return all(found.get((e.originator_id, e.originator_version)) == e.state for e in stored)

    def _select(self, query: sql.Composable, ids: Sequence[UUID]) -> list[Any]:
        rows: list[Any] = []
        with self.connection() as conn, conn.cursor() as cur:
            for start in range(0, len(ids), BULK_CHUNK):
                cur.execute(query, (list(ids[start : start + BULK_CHUNK]),))
                rows.extend(cur.fetchall())
        return rows

    def existing(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates exist."""
        query = sql.SQL(
            "SELECT originator_id FROM {} WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(self.events_sql)
        return {row["originator_id"] for row in self._select(query, ids)}

    def versions(self, ids: Sequence[UUID]) -> dict[UUID, int]:
        """The current version of each of these aggregates that exists."""
        query = sql.SQL(
            "SELECT originator_id, max(originator_version) AS version FROM {} "
            "WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(self.events_sql)
        return {row["originator_id"]: row["version"] for row in self._select(query, ids)}

    def ids_created_by(self, topic: str) -> list[UUID]:
        """Every aggregate whose first event has this topic (e.g. all subjects)."""
        query = sql.SQL(
            "SELECT originator_id FROM {} WHERE originator_version = 1 AND topic = %s"
        ).format(self.events_sql)
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(query, (topic,))
            return [row["originator_id"] for row in cur.fetchall()]

    def load_many(self, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """Current state of many aggregates, rebuilt from their events in bulk."""
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(self.events_sql)
        aggregates: dict[UUID, Any] = {}
        for row in self._select(query, ids):
            aggregate_id: UUID = row["originator_id"]
            stored = StoredEvent(
                originator_id=aggregate_id,
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            event = self.mapper.to_domain_event(stored)
            aggregates[aggregate_id] = event.mutate(aggregates.get(aggregate_id))
        return aggregates
