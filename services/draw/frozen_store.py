"""Where a draw's frozen inputs live: the pool snapshots and the announcements (public,
and the full one with its blinding key), content-addressed and append-only like the
events, which carry only their hashes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from libs.common.eventstore import EventStoreApp
from services.draw.domain.announce import FrozenDraw, FrozenPool
from services.draw.domain.draw import Draw
from services.draw.protocol.blinding import Trees
from services.draw.protocol.canonical import announcement_hash, field
from services.draw.recent import Recent

log = logging.getLogger(__name__)


class FrozenStore(EventStoreApp):
    """The draw application's store of frozen pools and announcements."""

    # The trees this process built or read last (a proof of a province-wide draw takes
    # seconds to assemble), keyed by the public announcement's hash.
    _trees: Recent[str, Trees]

    def _create_snapshot_table(self) -> None:
        stmt = sql.SQL(
            """
            CREATE TABLE IF NOT EXISTS {schema}.pool_snapshots (
              pool_hash text PRIMARY KEY, lines text NOT NULL,
              stored_at timestamptz NOT NULL DEFAULT now());
            -- Snapshots stored before December 2026 also kept each line's subject id and
            -- name (meta); they keep them, new snapshots store the lines alone.
            ALTER TABLE {schema}.pool_snapshots ADD COLUMN IF NOT EXISTS meta text;
            ALTER TABLE {schema}.pool_snapshots ALTER COLUMN meta DROP NOT NULL;
            CREATE OR REPLACE TRIGGER pool_snapshots_append_only
              BEFORE UPDATE OR DELETE ON {schema}.pool_snapshots
              FOR EACH ROW EXECUTE FUNCTION {schema}.ssj_reject_event_change();
            CREATE TABLE IF NOT EXISTS {schema}.announcements (
              announcement_hash text PRIMARY KEY, document text NOT NULL,
              names text NOT NULL, stored_at timestamptz NOT NULL DEFAULT now());
            -- ssj-draw-3: the full announcement and the blinding key behind the public one
            -- (document), which commits to them by its private_hash; NULL before.
            ALTER TABLE {schema}.announcements ADD COLUMN IF NOT EXISTS internal text;
            CREATE OR REPLACE TRIGGER announcements_append_only
              BEFORE UPDATE OR DELETE ON {schema}.announcements
              FOR EACH ROW EXECUTE FUNCTION {schema}.ssj_reject_event_change();
            """
        ).format(schema=sql.Identifier(self.schema))
        # A snapshot is ~75 MB of text at 1M subjects. lz4 stores it in a fifth of the
        # space and faster than writing it raw; pglz (the only other method) takes seconds,
        # so a server built without lz4 stores snapshots uncompressed.
        lz4 = sql.SQL(
            "ALTER TABLE {}.pool_snapshots ALTER COLUMN lines SET STORAGE EXTENDED, "
            "ALTER COLUMN lines SET COMPRESSION lz4"
        ).format(sql.Identifier(self.schema))
        raw = sql.SQL(
            "ALTER TABLE {}.pool_snapshots ALTER COLUMN lines SET STORAGE EXTERNAL"
        ).format(sql.Identifier(self.schema))
        with self.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('draw.pool_snapshots'))")
            conn.execute(stmt)
            try:
                with conn.transaction():
                    conn.execute(lz4)
            except psycopg.errors.FeatureNotSupported:
                log.warning("PostgreSQL has no lz4: pool snapshots are stored uncompressed")
                conn.execute(raw)

    # -- the frozen pool ---------------------------------------------------------------

    def has_pool(self, digest: str) -> bool:
        """Whether the frozen pool with this hash is stored."""
        with self.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT 1 AS found FROM {}.pool_snapshots WHERE pool_hash = %s").format(
                    sql.Identifier(self.schema)
                ),
                (digest,),
            ).fetchone()
        return row is not None

    def load_pool(self, digest: str) -> FrozenPool:
        """The frozen pool with this hash."""
        with self.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT lines FROM {}.pool_snapshots WHERE pool_hash = %s").format(
                    sql.Identifier(self.schema)
                ),
                (digest,),
            ).fetchone()
        if row is None:
            raise LookupError(f"no stored pool has hash {digest}")
        return FrozenPool(row["lines"])

    def look_up_subjects(self, identifiers: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Subject id and name of drawn identifiers, from the draw's own projection of the
        registry (names as they stand when the draw is executed)."""
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT identifier, subject_id::text AS subject_id, name "
                "FROM draw.pool_subjects WHERE identifier = ANY (%s)",
                (list(identifiers),),
            ).fetchall()
        return {r["identifier"]: (r["subject_id"], field(r["name"])) for r in rows}

    def store_announcement(
        self,
        announcement: Mapping[str, Any],
        names: Mapping[str, str],
        full: Mapping[str, Any] | None = None,
        key: bytes | None = None,
    ) -> str:
        """Keep the (public) announcement under its hash (the event carries only the hash),
        with the full announcement and blinding key behind it (ssj-draw-3)."""
        digest = announcement_hash(announcement)
        internal = (
            json.dumps({"announcement": full, "blinding_key": key.hex()}, ensure_ascii=False)
            if full is not None and key is not None
            else None
        )
        with self.connection() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.announcements (announcement_hash, document, names, internal) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (announcement_hash) DO NOTHING"
                ).format(sql.Identifier(self.schema)),
                (
                    digest,
                    json.dumps(announcement, ensure_ascii=False),
                    json.dumps(names),
                    internal,
                ),
            )
        return digest

    def frozen(self, draw: Draw) -> FrozenDraw:
        """The announcements, names and pool a draw's events point to by hash."""
        with self.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT document, names, internal FROM {}.announcements "
                    "WHERE announcement_hash = %s"
                ).format(sql.Identifier(self.schema)),
                (draw.announcement_hash,),
            ).fetchone()
        if row is None:
            raise LookupError(f"no stored announcement has hash {draw.announcement_hash}")
        published = json.loads(row["document"])
        if row["internal"] is None:  # announced before ssj-draw-3 was complete
            full, public, key = published, None, None
        else:
            internal = json.loads(row["internal"])
            full, public = internal["announcement"], published
            key = bytes.fromhex(internal["blinding_key"])
        # The keyed order of the trees this process built or read last, if it has them.
        cached = self._trees.get(draw.announcement_hash) if public is not None else None
        return FrozenDraw(
            full,
            json.loads(row["names"]),
            self.load_pool(full["pool_hash"]),
            self.look_up_subjects,
            public=public,
            blinding_key=key,
            keyed=cached.order if cached is not None else None,
        )
