"""Rebuild a read model from its events (``ssj rebuild NAME``), or compare it with such a
rebuild without changing anything (:func:`compare_read_model`, :func:`compare_all`: what
the chaos checker runs).

NAME is ``<service>.<consumer>`` (:mod:`libs.common.read_models`); the tables are those the
consumer declares, with those of the consumers it shares a table with (one unit). All of it
happens in one PostgreSQL transaction on one connection:

1. Each consumer's position row is locked (:func:`positions.lock`, ``FOR UPDATE``). The
   live consumer locks the same row first in every batch's transaction, so while the
   rebuild runs it waits and applies nothing; its leadership lease is not touched. (Taking
   the leadership lock instead would wait for the service to stop.)
2. The tables are copied aside (temporary tables) and emptied with ``DELETE``, not
   ``TRUNCATE``: readers of the service go on seeing the committed rows until the end.
3. Each consumer's position is set to nothing, and its source stream is read from its first
   message up to the position it had (``to_end``: the stream's last message), by
   :mod:`libs.common.stream_replay`, and applied with :meth:`Consumer.apply_on`
   (:mod:`libs.common.consumer_apply`), the live consumer's own code: the same parsing,
   the same skipping of republished events, the own-store check of a service's own
   stream, the same handlers, and the position recorded as it goes.
4. Checks: the replay must end on the event the consumer had recorded (else the stream no
   longer holds what it applied: :class:`RebuildRefused`, use ``to_end``); and no table
   outside the unit may have been written (a consumer whose declaration is incomplete).
5. Every table is compared with its copy (:mod:`libs.common.table_diff`); then the
   transaction commits (``ssj rebuild``) or is rolled back (a comparison).

A comparison replays exactly what the live consumer applied (up to its recorded position),
so a consumer that lags still compares equal: its lag is another check's business.

After a commit the recorded position is the last message applied: unchanged by a plain
rebuild, so the live consumer goes on from where it was; moved by ``to_end``, so the live
consumer's next batch finds the position moved (``OutOfOrder``) and resubscribes after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from nats.js import JetStreamContext

from libs.common import positions, stream_replay
from libs.common.bus import connect
from libs.common.consumer import Consumer
from libs.common.own_stream import OwnStore
from libs.common.read_models import ReadModel, read_models, unit_of, units
from libs.common.relay_wire import Encoder
from libs.common.service import ServiceSpec, open_pool
from libs.common.settings import CommonSettings
from libs.common.table_diff import TableDiff, compare, keep_copy, qualified

__all__ = [
    "Progress",
    "RebuildRefused",
    "Report",
    "compare_all",
    "compare_read_model",
    "rebuild",
]

# (read model, stream sequence reached, sequence it goes to): called after every batch.
Progress = Callable[[str, int, int], None]
ATTEMPTS = 3  # of the whole transaction, when PostgreSQL rolled it back (deadlock)


class RebuildRefused(Exception):
    """The rebuild cannot be done honestly; nothing was changed."""


@dataclass
class Report:
    """What a rebuild (or a comparison) found and did."""

    names: list[str]
    committed: bool
    applied: dict[str, int] = field(default_factory=dict)  # events applied, by read model
    # Recorded stream sequence before and after, by read model.
    stream_positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    tables: list[TableDiff] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: str | None = None  # why it could not be compared (compare_all goes on)

    @property
    def matches(self) -> bool:
        """Whether every table held exactly what its events rebuild."""
        return self.refused is None and all(t.same for t in self.tables)

    def differences(self) -> list[str]:
        """One line per table that differs (empty when it all matches)."""
        names = ", ".join(self.names)
        if self.refused is not None:
            return [f"{names}: not compared: {self.refused}"]
        return [f"{names}: {t.describe()}" for t in self.tables if not t.same]


class _Rollback(Exception):
    """Ends a comparison's transaction (nothing it did is kept)."""


async def rebuild(
    settings: CommonSettings,
    name: str,
    *,
    commit: bool = True,
    to_end: bool = False,
    specs: Sequence[ServiceSpec] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Rebuild read model ``name`` (and those it shares a table with) from its events; with
    ``commit`` False, only compare and change nothing. Raises
    :class:`~libs.common.read_models.UnknownReadModel` or :class:`RebuildRefused`."""
    unit = unit_of(name, read_models(specs))
    return await _rebuild_unit(settings, unit, commit=commit, to_end=to_end, progress=progress)


async def compare_read_model(
    settings: CommonSettings,
    name: str,
    *,
    specs: Sequence[ServiceSpec] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Read model ``name`` against a rebuild of it from the events its consumer applied
    (up to its recorded position); nothing is changed. ``report.matches``."""
    return await rebuild(settings, name, commit=False, specs=specs, progress=progress)


async def compare_all(
    settings: CommonSettings,
    *,
    specs: Sequence[ServiceSpec] | None = None,
    progress: Progress | None = None,
) -> list[Report]:
    """Every read model against a rebuild of it (one report per unit); nothing changed. A
    unit that cannot be compared has its reason in ``refused`` (the others still are)."""
    reports = []
    for unit in units(read_models(specs)):
        try:
            report = await _rebuild_unit(
                settings, unit, commit=False, to_end=False, progress=progress
            )
        except RebuildRefused as exc:
            report = Report([m.name for m in unit], committed=False, refused=str(exc))
        reports.append(report)
    return reports


async def _rebuild_unit(
    settings: CommonSettings,
    unit: list[ReadModel],
    *,
    commit: bool,
    to_end: bool,
    progress: Progress | None,
) -> Report:
    spec = unit[0].service
    settings = settings.model_copy(update={"service": spec.name})
    async with contextlib.AsyncExitStack() as stack:
        own_store = await _own_store(stack, settings, spec, unit)
        nc = await connect(settings, f"ssj-rebuild-{spec.name}")
        stack.push_async_callback(nc.close)
        pool = await open_pool(settings, max_size=1, session=spec.session_settings)
        stack.push_async_callback(pool.close)
        js = nc.jetstream()
        consumers = [
            Consumer(
                settings=settings,
                schema=m.schema,
                name=m.consumer.name,
                source=m.consumer.source,
                handler=m.consumer.handler,
                batch_handler=m.consumer.batch_handler,
                js=js,
                pool=pool,
                own_store=own_store if m.consumer.source == spec.name else None,
            )
            for m in unit
        ]
        attempt = 1
        while True:
            report = Report([m.name for m in unit], committed=False)
            try:
                await _transaction(pool, js, unit, consumers, report, commit, to_end, progress)
                return report
            except asyncpg.exceptions.TransactionRollbackError as exc:
                # A deadlock with a writer outside the consumers (the results dispatcher
                # marks assignments): everything was rolled back, so it is safe to retry.
                if attempt == ATTEMPTS:
                    raise RebuildRefused(f"{exc!r}, {ATTEMPTS} times: try again") from exc
                attempt += 1


async def _transaction(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    unit: list[ReadModel],
    consumers: list[Consumer],
    report: Report,
    commit: bool,
    to_end: bool,
    progress: Progress | None,
) -> None:
    """The rebuild's one transaction: committed, or rolled back when only comparing."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await _run(conn, js, unit, consumers, report, to_end, progress)
                if not commit:
                    raise _Rollback
        except _Rollback:
            return
        except stream_replay.StreamUnreadable as exc:
            raise RebuildRefused(str(exc)) from exc
    report.committed = True


async def _own_store(
    stack: contextlib.AsyncExitStack,
    settings: CommonSettings,
    spec: ServiceSpec,
    unit: list[ReadModel],
) -> OwnStore | None:
    """The service's event store, when the unit reads the service's own stream: its
    messages are checked against it as the live consumer checks them."""
    if all(m.consumer.source != spec.name for m in unit):
        return None
    app = await asyncio.to_thread(spec.application, settings)
    stack.push_async_callback(asyncio.to_thread, app.close)
    encoder = Encoder(app, settings.stream_name(spec.name), settings.subject_prefix(spec.name))
    return OwnStore(spec.name, app.schema, app.events_table, encoder)


async def _run(
    conn: asyncpg.Connection,
    js: JetStreamContext,
    unit: list[ReadModel],
    consumers: list[Consumer],
    report: Report,
    to_end: bool,
    progress: Progress | None,
) -> None:
    schema = unit[0].schema
    tables = list(dict.fromkeys(t for m in unit for t in m.tables))
    await _check_tables_exist(conn, schema, [*tables, "consumer_position"])
    had_rows = [await _has_position(conn, schema, c) for c in consumers]
    # First the locks: from here on no live consumer of the unit commits anything.
    marks = [await positions.lock(conn, schema, c.durable, c.stream) for c in consumers]
    copies = {t: f"ssj_rebuild_{uuid.uuid4().hex[:8]}_{t}"[:63] for t in tables}
    for table in tables:
        await keep_copy(conn, schema, table, copies[table])
        await conn.execute(f"DELETE FROM {qualified(schema, table)}")
    for model, consumer, mark, had_row in zip(unit, consumers, marks, had_rows, strict=True):
        await _replay(conn, js, model, consumer, mark, to_end, report, progress)
        if not had_row and report.stream_positions[model.name][1] == 0:
            # A consumer that has applied nothing yet keeps having no row (as before).
            await conn.execute(
                f"DELETE FROM {qualified(schema, 'consumer_position')} "
                "WHERE consumer = $1 AND stream = $2",
                consumer.durable,
                consumer.stream,
            )
    await _check_writes(conn, schema, tables)
    report.tables = [await compare(conn, schema, t, copies[t]) for t in tables]


async def _has_position(conn: asyncpg.Connection, schema: str, consumer: Consumer) -> bool:
    return bool(
        await conn.fetchval(
            f"""SELECT EXISTS (SELECT 1 FROM {qualified(schema, "consumer_position")}
                WHERE consumer = $1 AND stream = $2)""",
            consumer.durable,
            consumer.stream,
        )
    )


async def _replay(
    conn: asyncpg.Connection,
    js: JetStreamContext,
    model: ReadModel,
    consumer: Consumer,
    mark: positions.Mark,
    to_end: bool,
    report: Report,
    progress: Progress | None,
) -> None:
    """Apply one consumer's stream from nothing, as its live consumer would."""
    schema = model.schema
    await positions.store(conn, schema, consumer.durable, consumer.stream, positions.Mark())
    upto = await _upto(js, consumer.stream, mark.stream_seq, to_end, report)
    subjects = f"{consumer.settings.subject_prefix(consumer.source)}.>"
    applied = 0
    async for batch in stream_replay.batches(js, consumer.stream, subjects, upto, consumer.batch):
        try:
            applied += len((await consumer.apply_on(conn, batch)).fresh)
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            raise
        except Exception as exc:  # what the live consumer would retry and alarm on
            first, last = batch[0].stream_seq, batch[-1].stream_seq
            raise RebuildRefused(
                f"{model.name}: applying {consumer.stream} sequences {first}-{last} failed: {exc!r}"
            ) from exc
        if progress is not None:
            progress(model.name, batch[-1].stream_seq, upto)
    after = await positions.read(conn, schema, consumer.durable, consumer.stream)
    if not to_end:
        _check_same_mark(model.name, consumer.stream, mark, after)
    report.applied[model.name] = applied
    report.stream_positions[model.name] = (mark.stream_seq, after.stream_seq)


async def _check_tables_exist(conn: asyncpg.Connection, schema: str, tables: list[str]) -> None:
    missing = []
    for table in tables:
        if await conn.fetchval("SELECT to_regclass($1)", qualified(schema, table)) is None:
            missing.append(table)
    if missing:
        raise RebuildRefused(
            f"no table {', '.join(f'{schema}.{t}' for t in missing)}: the service creates its "
            "tables when it starts; start it once first"
        )


async def _upto(
    js: JetStreamContext, stream: str, position: int, to_end: bool, report: Report
) -> int:
    """The last stream sequence to replay: the recorded ``position`` (``to_end``: the
    stream's last message now); 0 for nothing."""
    held = await stream_replay.bounds(js, stream)
    if not to_end and position > held.last:
        raise RebuildRefused(
            f"stream {stream} ends at sequence {held.last}, before the position {position} "
            "the consumer recorded: the stream went backwards. Rebuild from what it holds now "
            "with --to-end"
        )
    if held.first > 1:
        report.warnings.append(
            f"stream {stream} starts at sequence {held.first}: messages before it were "
            "removed, and the rebuild sees only what the stream holds"
        )
    return 0 if not held.messages else (held.last if to_end else position)


def _check_same_mark(name: str, stream: str, before: positions.Mark, after: positions.Mark) -> None:
    """The replay up to the recorded position must end where the live consumer stood."""
    fields = ("stream_seq", "event_id", "event_hash", "high_water", "high_water_hash")
    # A field the row did not hold yet (recorded before it existed) is not compared.
    differ = [f for f in fields if getattr(before, f) not in (None, getattr(after, f))]
    if differ:
        raise RebuildRefused(
            f"{name}: replaying {stream} up to sequence {before.stream_seq} ends at "
            f"{after.event_id!r} ({after}), not where the consumer stood ({before}): the "
            "stream no longer holds the events the read model was built from. Rebuild "
            "from what it holds now with --to-end"
        )


async def _check_writes(conn: asyncpg.Connection, schema: str, tables: list[str]) -> None:
    """Refuse when a handler wrote a table outside the unit's declared ones: emptying only
    the declared tables would then not undo all it did (pg_stat_xact_user_tables counts
    this transaction's writes)."""
    written = await conn.fetch(
        """SELECT schemaname, relname FROM pg_stat_xact_user_tables
           WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 AND schemaname NOT LIKE 'pg_temp%'"""
    )
    allowed = {(schema, t) for t in [*tables, "consumer_position"]}
    undeclared = sorted(
        f"{r['schemaname']}.{r['relname']}"
        for r in written
        if (r["schemaname"], r["relname"]) not in allowed
    )
    if undeclared:
        raise RebuildRefused(
            f"the handlers wrote {', '.join(undeclared)}, which no consumer of the unit "
            f"declares (ConsumerSpec.tables): nothing was changed; declare the table"
        )
