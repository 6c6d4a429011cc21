"""The event-store base of libs/common on real PostgreSQL: metadata stamping, the
append-only trigger, the hash chain and optimistic concurrency."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from opentelemetry.sdk.trace import TracerProvider

from libs.common.context import Actor, CommandContext, command_context
from libs.common.eventstore import GENESIS_HASH, EventStoreApp
from tests.integration.common_app import Account, ChainTestApp, LedgerTestApp
from tests.support import Infra


@pytest.fixture(scope="module")
def ledger(infra: Infra) -> Iterator[LedgerTestApp]:
    app = LedgerTestApp(infra.settings("ledgertest"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def chained(infra: Infra) -> Iterator[ChainTestApp]:
    app = ChainTestApp(infra.settings("chaintest"))
    yield app
    app.close()


@pytest.fixture
def sql(infra: Infra) -> Iterator[psycopg.Connection]:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        yield conn


def _table(app: EventStoreApp) -> str:
    return f'"{app.schema}"."{app.events_table}"'


def _row_count(sql: psycopg.Connection, app: EventStoreApp) -> int:
    (count,) = sql.execute(f"SELECT count(*) FROM {_table(app)}").fetchone()  # type: ignore[misc]
    return int(count)


def test_each_service_gets_its_own_schema(ledger: LedgerTestApp, sql: psycopg.Connection) -> None:
    found = sql.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
        (ledger.events_table,),
    ).fetchall()
    assert found == [("ledgertest",)]


def test_saving_stamps_actor_and_causality_of_the_command_context(
    ledger: LedgerTestApp,
) -> None:
    actor = Actor(sub="op-17", dept="SAMR", roles=("operator",))
    ctx = CommandContext(actor=actor, correlation_id="corr-17", causation_id="planner:3")
    with command_context(ctx):
        account = Account("甲公司")
        account.deposit(Decimal("10.00"), uuid.uuid4())
        ledger.save(account)
    stored = list(ledger.events.get(account.id))
    assert len(stored) == 2
    for e in stored:
        meta = e.meta  # type: ignore[attr-defined]
        assert meta["actor"] == {"sub": "op-17", "dept": "SAMR", "roles": ["operator"]}
        assert meta["correlation_id"] == "corr-17"
        assert meta["causation_id"] == "planner:3"
        assert meta["traceparent"] is None  # no span was active
        assert "prev_hash" not in meta  # this stream is not chained


def test_saving_inside_a_span_stamps_its_traceparent(ledger: LedgerTestApp) -> None:
    tracer = TracerProvider().get_tracer("test")  # a real SDK span, no global provider
    with tracer.start_as_current_span("POST /v1/accounts") as span:
        account = Account("乙公司")
        ledger.save(account)
    (stored,) = list(ledger.events.get(account.id))
    meta = stored.meta  # type: ignore[attr-defined]
    span_ctx = span.get_span_context()
    trace_id, span_id = format(span_ctx.trace_id, "032x"), format(span_ctx.span_id, "016x")
    version, stored_trace, stored_span, flags = meta["traceparent"].split("-")
    assert (version, stored_trace, stored_span) == ("00", trace_id, span_id)
    assert int(flags, 16) & 0x01  # sampled
    assert meta["trace_id"] == trace_id


def test_event_saved_without_a_caller_is_recorded_as_the_service_itself(
    ledger: LedgerTestApp,
) -> None:
    account = Account("丙公司")
    ledger.save(account)
    (stored,) = list(ledger.events.get(account.id))
    meta = stored.meta  # type: ignore[attr-defined]
    assert meta["actor"] == {"sub": "system:ledgertest", "dept": "", "roles": ["system"]}
    uuid.UUID(meta["correlation_id"])  # a fresh correlation id per command


async def test_command_context_follows_the_command_into_the_worker_thread(
    ledger: LedgerTestApp,
) -> None:
    ctx = CommandContext(actor=Actor("insp-3", "TAX", ("inspector",)), correlation_id="c-async")

    def open_account() -> uuid.UUID:
        account = Account("丁公司")
        ledger.save(account)
        return account.id

    with command_context(ctx):
        account_id = await asyncio.to_thread(open_account)
    (stored,) = list(ledger.events.get(account_id))
    assert stored.meta["actor"]["sub"] == "insp-3"  # type: ignore[attr-defined]
    assert stored.meta["correlation_id"] == "c-async"  # type: ignore[attr-defined]


def test_update_of_a_stored_event_is_rejected(
    ledger: LedgerTestApp, sql: psycopg.Connection
) -> None:
    account = Account("戊公司")
    ledger.save(account)
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only: UPDATE"):
        sql.execute(
            f"UPDATE {_table(ledger)} SET state = %s WHERE originator_id = %s",
            (b"{}", account.id),
        )
    (stored,) = list(ledger.events.get(account.id))
    assert stored.owner == "戊公司"  # type: ignore[attr-defined]


def test_delete_of_a_stored_event_is_rejected(
    ledger: LedgerTestApp, sql: psycopg.Connection
) -> None:
    ledger.save(Account("己公司"))
    before = _row_count(sql, ledger)
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only: DELETE"):
        sql.execute(f"DELETE FROM {_table(ledger)}")
    assert _row_count(sql, ledger) == before


def test_truncate_of_the_events_table_is_rejected(
    ledger: LedgerTestApp, sql: psycopg.Connection
) -> None:
    ledger.save(Account("庚公司"))
    before = _row_count(sql, ledger)
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only: TRUNCATE"):
        sql.execute(f"TRUNCATE {_table(ledger)}")
    assert _row_count(sql, ledger) == before


def test_restarting_the_application_keeps_the_trigger_and_the_events(
    infra: Infra, ledger: LedgerTestApp, sql: psycopg.Connection
) -> None:
    account = Account("辛公司")
    ledger.save(account)
    again = LedgerTestApp(infra.settings("ledgertest"))  # CREATE OR REPLACE, not a second one
    try:
        assert again.repository.get(account.id).owner == "辛公司"
    finally:
        again.close()
    triggers = sql.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
        "ORDER BY tgname",
        (_table(ledger),),
    ).fetchall()
    assert triggers == [("ssj_events_append_only",), ("ssj_events_no_truncate",)]


def test_concurrent_saves_of_the_same_version_let_exactly_one_win(
    ledger: LedgerTestApp,
) -> None:
    account = Account("壬公司")
    ledger.save(account)
    copies: list[Account] = [ledger.repository.get(account.id) for _ in range(2)]
    for n, copy in enumerate(copies):
        copy.deposit(Decimal(n + 1), uuid.uuid4())
    start = threading.Barrier(2)

    def save(copy: Account) -> str:
        start.wait(timeout=10)
        try:
            ledger.save(copy)
        except IntegrityError:
            return "conflict"
        return "saved"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(save, copies))
    assert outcomes == ["conflict", "saved"]
    assert ledger.repository.get(account.id).version == 2
    assert len(list(ledger.events.get(account.id))) == 2


def test_stale_copy_of_an_aggregate_cannot_overwrite_a_newer_version(
    ledger: LedgerTestApp,
) -> None:
    account = Account("癸公司")
    ledger.save(account)
    fresh: Account = ledger.repository.get(account.id)
    stale: Account = ledger.repository.get(account.id)
    fresh.deposit(Decimal(5), uuid.uuid4())
    ledger.save(fresh)
    stale.deposit(Decimal(7), uuid.uuid4())
    with pytest.raises(IntegrityError):
        ledger.save(stale)
    assert ledger.repository.get(account.id).balance == Decimal(5)


def _chained_account(app: ChainTestApp, deposits: list[str]) -> uuid.UUID:
    """Version 1 and the first deposit in one save, every later deposit in its own save."""
    account = Account("链公司")
    account.deposit(Decimal(deposits[0]), uuid.uuid4())
    app.save(account)
    for amount in deposits[1:]:
        account.deposit(Decimal(amount), uuid.uuid4())
        app.save(account)
    return account.id


def test_hash_chain_of_an_intact_stream_verifies(chained: ChainTestApp) -> None:
    account_id = _chained_account(chained, ["1.11", "2.22", "3.33"])
    assert chained.verify_chain(account_id) == []
    first, *_ = list(chained.events.get(account_id))
    assert first.meta["prev_hash"] == GENESIS_HASH  # type: ignore[attr-defined]


def test_a_chained_save_encodes_each_event_once(
    chained: ChainTestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chaining encodes every event to hash it; the save stores those very encodings
    instead of encoding again (a province-wide draw is tens of MB of JSON)."""
    transcoder = chained.mapper.transcoder
    encode = transcoder.encode
    calls = []

    def counting(obj: object) -> bytes:
        calls.append(obj)
        return encode(obj)

    monkeypatch.setattr(transcoder, "encode", counting)
    account = Account("一次")
    account.deposit(Decimal("1.50"), uuid.uuid4())
    account.deposit(Decimal("2.50"), uuid.uuid4())
    chained.save(account)
    assert len(calls) == 3
    assert chained.verify_chain(account.id) == []
    assert chained.repository.get(account.id).balance == Decimal("4.00")
    assert chained._linked == {}  # nothing kept past the save


def test_chained_saves_from_many_threads_at_once_keep_every_chain_intact(
    chained: ChainTestApp,
) -> None:
    """Command threads save concurrently (no process-wide lock): each thread's encodings
    stay its own, every stream links to its own predecessor, and two copies of one
    version still let exactly one win."""
    start = threading.Barrier(8)

    def work(n: int) -> list[uuid.UUID]:
        start.wait(timeout=10)
        ids = []
        for k in range(5):
            account = Account(f"并发{n}-{k}")
            chained.save(account)
            for amount in ("1", "2", "3"):
                found: Account = chained.repository.get(account.id)
                found.deposit(Decimal(amount), uuid.uuid4())
                chained.save(found)
            ids.append(account.id)
        return ids

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(work, range(8)) for i in batch]
    assert len(ids) == 40
    for account_id in ids:
        assert chained.verify_chain(account_id) == []
        assert chained.repository.get(account_id).balance == Decimal(6)
    assert chained._linked == {}

    shared = Account("同一版本")
    chained.save(shared)
    copies: list[Account] = [chained.repository.get(shared.id) for _ in range(4)]
    for n, copy in enumerate(copies):
        copy.deposit(Decimal(n + 1), uuid.uuid4())
    race = threading.Barrier(4)

    def save(copy: Account) -> str:
        race.wait(timeout=10)
        try:
            chained.save(copy)
        except IntegrityError:
            return "conflict"
        return "saved"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(save, copies))
    assert outcomes == ["conflict"] * 3 + ["saved"]
    assert chained.verify_chain(shared.id) == []


def test_a_save_links_to_the_predecessor_its_command_read_and_to_another_process_s(
    chained: ChainTestApp, infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The predecessor's hash comes from the read the command made (no second read); a
    stream another process extended is linked to what that process stored."""
    account_id = _chained_account(chained, ["1"])
    reads: list[uuid.UUID] = []
    select = chained.recorder.select_events

    def counting(originator_id: uuid.UUID, *args: object, **kwargs: object) -> object:
        reads.append(originator_id)
        return select(originator_id, *args, **kwargs)

    monkeypatch.setattr(chained.recorder, "select_events", counting)
    found: Account = chained.repository.get(account_id)
    found.deposit(Decimal(2), uuid.uuid4())
    chained.save(found)
    assert reads == [account_id]  # the load; the save read nothing more

    other = ChainTestApp(infra.settings("chaintest"))  # another process of the service
    try:
        theirs: Account = other.repository.get(account_id)
        theirs.deposit(Decimal(3), uuid.uuid4())
        other.save(theirs)
    finally:
        other.close()
    stale = found  # this process's copy, one version behind
    stale.deposit(Decimal(4), uuid.uuid4())
    with pytest.raises(IntegrityError):
        chained.save(stale)
    mine: Account = chained.repository.get(account_id)
    mine.deposit(Decimal(5), uuid.uuid4())
    chained.save(mine)
    assert chained.verify_chain(account_id) == []
    assert chained.repository.get(account_id).balance == Decimal(11)


def test_hash_chains_of_different_aggregates_are_independent(chained: ChainTestApp) -> None:
    one = Account("一")
    two = Account("二")
    chained.save(one, two)  # one save, two streams
    one.deposit(Decimal(1), uuid.uuid4())
    two.deposit(Decimal(2), uuid.uuid4())
    chained.save(two, one)
    assert chained.verify_chain(one.id) == []
    assert chained.verify_chain(two.id) == []


def test_hash_chain_names_the_event_after_a_tampered_one(
    chained: ChainTestApp, sql: psycopg.Connection
) -> None:
    account_id = _chained_account(chained, ["11.11", "22.22", "33.33"])
    table = _table(chained)
    where = "WHERE originator_id = %s AND originator_version = 3"
    (state,) = sql.execute(f"SELECT state FROM {table} {where}", (account_id,)).fetchone()  # type: ignore[misc]
    original = bytes(state)
    assert original.count(b'"22.22"') == 1
    forged = original.replace(b'"22.22"', b'"92.22"')  # one byte: 22.22 becomes 92.22

    # The trigger stops even the owner; a superuser can switch it off, as an attacker with
    # full database rights could. The chain is what still tells.
    sql.execute(f"ALTER TABLE {table} DISABLE TRIGGER ssj_events_append_only")
    try:
        sql.execute(f"UPDATE {table} SET state = %s {where}", (forged, account_id))
    finally:
        sql.execute(f"ALTER TABLE {table} ENABLE TRIGGER ssj_events_append_only")

    assert chained.repository.get(account_id).balance == Decimal("136.66")  # forgery read
    problems = chained.verify_chain(account_id)
    assert len(problems) == 1
    assert problems[0].startswith("version 4: ")

    # The trigger is back: the forger cannot quietly restore the original either.
    with pytest.raises(psycopg.errors.RestrictViolation):
        sql.execute(f"UPDATE {table} SET state = %s {where}", (original, account_id))


def test_hash_chain_reports_a_forged_event_that_no_longer_decodes(
    chained: ChainTestApp, sql: psycopg.Connection
) -> None:
    account_id = _chained_account(chained, ["5.55", "6.66"])
    table = _table(chained)
    where = "WHERE originator_id = %s AND originator_version = 2"
    sql.execute(f"ALTER TABLE {table} DISABLE TRIGGER ssj_events_append_only")
    try:
        sql.execute(f"UPDATE {table} SET state = %s {where}", (b'{"amount": ', account_id))
    finally:
        sql.execute(f"ALTER TABLE {table} ENABLE TRIGGER ssj_events_append_only")
    problems = chained.verify_chain(account_id)
    assert [p.split(":")[0] for p in problems] == ["version 2", "version 3"]
    assert "unreadable" in problems[0]


@pytest.mark.parametrize("kib", [100, 600, 1500, 8000])
def test_a_large_save_completes_whatever_its_size(ledger: LedgerTestApp, kib: int) -> None:
    """eventsourcing sends a save as one pipelined INSERT, and psycopg in pipeline mode
    stalls for good once the message outgrows the socket's buffers: about 450 KB over a
    Unix socket (the embedded server's only kind), about 5 MB over TCP here. A draw of a
    few thousand subjects hung in its execution that way. Such saves go by COPY."""
    account = Account(owner="o" * (kib * 1024 // 2))  # the owner is in the state twice
    for _ in range(3):
        account.deposit(Decimal(1), uuid.uuid4())
    done = threading.Event()

    def save() -> None:
        ledger.save(account)
        done.set()

    threading.Thread(target=save, daemon=True).start()
    assert done.wait(30), f"a save of about {kib} KiB did not complete within 30 s"
    assert ledger.repository.get(account.id).balance == 3
