"""Tamper evidence 防篡改核验: ``ssj audit verify`` walks every events table and every
service's JetStream stream and names each place where the record was changed.

The append-only trigger stops the services, not a database superuser. What a superuser
cannot change unseen:

- **the hash chains**: in a hash-chained schema (draw, results: every event there carries
  ``meta.prev_hash``) each event records the SHA-256 of its predecessor's stored state, so
  an edited or removed event breaks the link after it;
- **the versions**: a stream's versions run 1, 2, 3 … with no gap, so a deleted event
  shows even where nothing is chained;
- **the second copy**: the relay published every event to the service's JetStream stream
  with the SHA-256 of what was stored (``Ssj-Content-Sha256``), in notification order. The
  table and the stream are walked side by side: an event changed in PostgreSQL no longer
  has its message's hash, a deleted one leaves a message with no event. (A stream is a
  separate system with its own operators; changing both unseen takes both.)

Events tables are found by their append-only trigger, so a service needs no registration
here (``libs/common`` does not know the services). Both walks stream rows through a
server-side cursor, so a province's tables are checked in constant memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from libs.common.nats_cluster import servers
from libs.common.relay_wire import CONTENT_HASH_HEADER, content_hash
from libs.common.settings import CommonSettings

GENESIS_HASH = "0" * 64
CHUNK = 5_000
# The relay's message id: "<service>:<notification id>".
_MSG_ID = re.compile(r"^([a-z0-9_]+):([0-9]+)$")

FIND_TABLES = """
SELECT event_object_schema, event_object_table FROM information_schema.triggers
 WHERE trigger_name = 'ssj_events_append_only' AND event_manipulation = 'UPDATE'
 ORDER BY 1, 2"""


@dataclass(frozen=True)
class Break:
    """One place where the record is not what was written 断点."""

    table: str  # schema.table
    stream: str  # the event stream's id (originator), or the JetStream stream
    position: str  # "version N" or "notification N"
    problem: str

    def __str__(self) -> str:
        return f"{self.table} stream {self.stream} {self.position}: {self.problem}"


@dataclass
class TableReport:
    """What was checked in one events table."""

    table: str
    events: int = 0
    streams: int = 0
    chained: bool = False
    messages_compared: int = 0
    not_yet_published: int = 0
    breaks: list[Break] = field(default_factory=list)


def _tables(conn: psycopg.Connection[Any], schema: str | None) -> list[tuple[str, str]]:
    rows = conn.execute(FIND_TABLES).fetchall()
    return [(s, t) for s, t in rows if schema is None or s == schema]


def _rows(conn: psycopg.Connection[Any], query: sql.Composed) -> Iterator[tuple[Any, ...]]:
    with conn.transaction(), conn.cursor(name="ssj_audit") as cur:
        cur.itersize = CHUNK
        cur.execute(query)
        yield from cur


def _meta(state: bytes) -> dict[str, Any] | None:
    """The event's metadata, or None when its state is not a JSON object."""
    try:
        decoded = json.loads(state)
    except ValueError:
        return None
    if not isinstance(decoded, dict):
        return None
    meta = decoded.get("meta")
    return meta if isinstance(meta, dict) else {}


def _is_chained(conn: psycopg.Connection[Any], table: sql.Composable) -> bool:
    """A schema is hash-chained when its events carry ``prev_hash`` (all of them must then)."""
    query = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE position('\"prev_hash\"' in "
        "convert_from(state, 'UTF8')) > 0 LIMIT 1)"
    ).format(table)
    try:
        return bool(conn.execute(query).fetchone()[0])  # type: ignore[index]
    except psycopg.Error:  # a state that is not UTF-8: look row by row instead
        conn.rollback()
        return any(
            (_meta(bytes(state)) or {}).get("prev_hash")
            for (state,) in _rows(conn, sql.SQL("SELECT state FROM {}").format(table))
        )


def check_streams(
    conn: psycopg.Connection[Any], report: TableReport, table: sql.Composable
) -> None:
    """Versions without gaps and, if chained, every link, stream by stream."""
    query = sql.SQL(
        "SELECT originator_id, originator_version, state FROM {} "
        "ORDER BY originator_id, originator_version"
    ).format(table)
    current: Any = None
    expected, prev = 1, GENESIS_HASH
    for originator_id, version, state in _rows(conn, query):
        state = bytes(state)
        report.events += 1
        if originator_id != current:
            current, expected, prev = originator_id, 1, GENESIS_HASH
            report.streams += 1
        where = f"version {version}"

        def broken(problem: str, stream: Any = originator_id, at: str = where) -> None:
            report.breaks.append(Break(report.table, str(stream), at, problem))

        if version != expected:
            missing = (
                f"versions {expected}–{version - 1}"
                if version > expected + 1
                else (f"version {expected}")
            )
            broken(f"{missing} missing (deleted?)" if version > expected else "version repeated")
        meta = _meta(state)
        if meta is None:
            broken("state unreadable (not a JSON object)")
        elif report.chained and meta.get("prev_hash") != prev:
            broken(f"prev_hash {meta.get('prev_hash')} != {prev} (the event before was changed)")
        expected, prev = version + 1, hashlib.sha256(state).hexdigest()


async def compare_stream(
    settings: CommonSettings,
    conn: psycopg.Connection[Any],
    report: TableReport,
    table: sql.Composable,
    service: str,
) -> None:
    """Walk the table (by notification id) and the service's stream side by side."""
    import nats
    from nats.js.api import DeliverPolicy
    from nats.js.errors import NotFoundError

    stream = settings.stream_name(service)
    nc = await nats.connect(servers(settings.nats_url), connect_timeout=5, max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            report.breaks.append(Break(report.table, stream, "-", "JetStream stream missing"))
            return
        query = sql.SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            "FROM {} ORDER BY notification_id"
        ).format(table)
        rows = _rows(conn, query)
        row = next(rows, None)
        if info.state.messages:
            sub = await js.subscribe(
                f"{settings.subject_prefix(service)}.>",
                stream=stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
            )
            try:
                pending = 1
                while pending:  # the stream's messages as they are now (deleted ones skipped)
                    msg = await sub.next_msg(timeout=10)
                    pending = int(msg.metadata.num_pending or 0)
                    row = _compare_one(report, stream, service, msg, row, rows)
            finally:
                await sub.unsubscribe()
        published_up_to = _relay_position(conn, service, stream)
        while row is not None:
            if row[0] <= published_up_to:  # the relay recorded it as in the stream
                report.breaks.append(
                    Break(report.table, str(row[1]), f"version {row[2]}",
                          f"published (relay position {published_up_to}) but missing "
                          f"from {stream}")
                )  # fmt: skip
            else:  # stored, not yet published: the relay's work to come, not a break
                report.not_yet_published += 1
            row = next(rows, None)
    finally:
        await nc.close()


def _relay_position(conn: psycopg.Connection[Any], schema: str, stream: str) -> int:
    """The last notification id the relay recorded as in the stream (0 if none)."""
    query = sql.SQL("SELECT position FROM {} WHERE stream = %s").format(
        sql.Identifier(schema, "relay_position")
    )
    try:
        with conn.transaction():
            found = conn.execute(query, (stream,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(found[0]) if found else 0


def _compare_one(
    report: TableReport,
    stream: str,
    service: str,
    msg: Any,
    row: tuple[Any, ...] | None,
    rows: Iterator[tuple[Any, ...]],
) -> tuple[Any, ...] | None:
    """Compare one message with the stored event of its notification id; return the next
    row not yet matched."""
    headers = msg.headers or {}
    match = _MSG_ID.match(headers.get("Nats-Msg-Id", ""))
    if match is None or match.group(1) != service:
        return row  # not one of the relay's messages (nothing here publishes any)
    nid = int(match.group(2))
    at = f"notification {nid}"
    while row is not None and row[0] < nid:
        report.breaks.append(
            Break(report.table, str(row[1]), f"version {row[2]}",
                  f"stored after notification {nid - 1} but missing from {stream}")
        )  # fmt: skip
        row = next(rows, None)
    if row is None or row[0] > nid:
        report.breaks.append(
            Break(report.table, stream, at, f"{stream} holds it, the table does not (deleted?)")
        )
        return row
    report.messages_compared += 1
    published = headers.get(CONTENT_HASH_HEADER)
    stored = content_hash((row[0], row[1], row[2], row[3], bytes(row[4])))
    if published is not None and published != stored:
        report.breaks.append(
            Break(report.table, str(row[1]), f"version {row[2]} ({at})",
                  f"stored event differs from the one published to {stream}")
        )  # fmt: skip
    return next(rows, None)


def verify(settings: CommonSettings, schema: str | None = None) -> list[TableReport]:
    """Check every events table (or one schema's) and its stream; breaks in the reports."""
    reports = []
    with psycopg.connect(settings.database_url) as conn:
        for schema_name, table_name in _tables(conn, schema):
            table = sql.Identifier(schema_name, table_name)
            report = TableReport(f"{schema_name}.{table_name}")
            report.chained = _is_chained(conn, table)
            check_streams(conn, report, table)
            asyncio.run(compare_stream(settings, conn, report, table, schema_name))
            reports.append(report)
    return reports


def main(schema: str | None) -> int:
    """``ssj audit verify``: one line per break, a summary per table, a JSON last line."""
    settings = CommonSettings()
    reports = verify(settings, schema)
    for report in reports:
        for each in report.breaks:
            print(f"BREAK {each}")
        verdict = "intact" if not report.breaks else f"{len(report.breaks)} break(s)"
        waiting = report.not_yet_published
        print(
            f"{report.table}: {report.events} events in {report.streams} streams"
            f"{', hash-chained' if report.chained else ''}; "
            f"{report.messages_compared} compared with JetStream"
            f"{f', {waiting} not yet published' if waiting else ''}"
            f" — {verdict}"
        )
    breaks = sum(len(r.breaks) for r in reports)
    print(json.dumps({"tables": len(reports), "events": sum(r.events for r in reports),
                      "breaks": breaks, "intact": breaks == 0}))  # fmt: skip
    return 1 if breaks else 0
