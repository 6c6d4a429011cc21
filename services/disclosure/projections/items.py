"""The item list through time (抽查事项清单的版本): after every item event, the item as it
then stood, so the public can read the list as it stood on any day and each item's
versions (an inspection is judged by the list in force when it was planned)."""

from __future__ import annotations

import asyncpg

from libs.common.envelope import InboundEvent

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.item_versions (
        item_id uuid NOT NULL, version int NOT NULL, at timestamptz NOT NULL,
        code text NOT NULL, department text NOT NULL, name text NOT NULL,
        category text NOT NULL, ratio double precision NOT NULL, methods jsonb NOT NULL,
        legal_basis text NOT NULL, published boolean NOT NULL,
        PRIMARY KEY (item_id, version))""",
    "CREATE INDEX IF NOT EXISTS item_versions_at ON {schema}.item_versions (at)",
    "CREATE INDEX IF NOT EXISTS item_versions_code ON {schema}.item_versions "
    "(department, code, version)",
]
ITEM_EVENTS = frozenset({"ItemRegistered", "ItemPublished", "ItemWithdrawn", "ItemChanged"})


async def record_item_version(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """The item as the event left it (read back from ``items``, which the event has just
    changed in the same transaction); again changes nothing."""
    await conn.execute(
        """INSERT INTO disclosure.item_versions (item_id, version, at, code, department, name,
               category, ratio, methods, legal_basis, published)
           SELECT item_id, $2, $3, code, department, name, category, ratio, methods,
                  legal_basis, published
             FROM disclosure.items WHERE item_id = $1
           ON CONFLICT (item_id, version) DO NOTHING""",
        ev.subject,
        ev.aggregate_version,
        ev.time,
    )
