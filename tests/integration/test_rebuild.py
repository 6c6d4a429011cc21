"""``ssj rebuild``'s mechanism on real PostgreSQL and NATS, with a small service that reads
its own stream (so the own-store check is on) into a deliberately non-idempotent read model
(a counter: an event applied twice shows): a damaged read model is restored exactly, an
intact one is left as it was, and the live consumer, running all along, applies every later
event once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from libs.common import positions
from libs.common.consumer import Consumer
from libs.common.envelope import InboundEvent
from libs.common.own_stream import OwnStore
from libs.common.rebuild import RebuildRefused, compare_read_model, rebuild
from libs.common.relay import Relay
from libs.common.service import ConsumerSpec, ServiceSpec, migrate, open_pool
from tests.integration.common_app import AccountsApp, open_accounts, relay_app_class
from tests.support import Infra

SERVICE = "rebuildtoy"
NAME = f"{SERVICE}.tally"
DDL = [
    "CREATE TABLE IF NOT EXISTS {schema}.totals (k text PRIMARY KEY, n int NOT NULL)",
    """CREATE TABLE IF NOT EXISTS {schema}.seen (
        account uuid PRIMARY KEY, events int NOT NULL, version int NOT NULL,
        last_event text NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS {schema}.elsewhere (k text PRIMARY KEY)",
]


async def tally(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Counts events (n = n + 1: applied twice, counted twice) and each account's."""
    await conn.execute(
        f"""INSERT INTO {SERVICE}.totals (k, n) VALUES ('events', 1)
            ON CONFLICT (k) DO UPDATE SET n = {SERVICE}.totals.n + 1"""
    )
    await conn.execute(
        f"""INSERT INTO {SERVICE}.seen (account, events, version, last_event)
            VALUES ($1, 1, $2, $3) ON CONFLICT (account) DO UPDATE
            SET events = {SERVICE}.seen.events + 1, version = $2, last_event = $3""",
        ev.subject,
        ev.aggregate_version,
        ev.id,
    )


async def sloppy(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Writes a table it does not declare."""
    await tally(conn, ev)
    await conn.execute(f"INSERT INTO {SERVICE}.elsewhere VALUES ('x') ON CONFLICT DO NOTHING")


SourceApp: type[AccountsApp] = relay_app_class(SERVICE)


def spec(handler: Any = tally, tables: tuple[str, ...] = ("totals", "seen")) -> ServiceSpec:
    return ServiceSpec(
        name=SERVICE,
        title=SERVICE,
        description="rebuild tests",
        application=SourceApp,
        routers=[],
        read_model_ddl=DDL,
        consumers=[ConsumerSpec(name="tally", source=SERVICE, handler=handler, tables=tables)],
    )


@dataclass
class Toy:
    """The service's parts: its application, relay, live consumer, pool and NATS."""

    app: AccountsApp
    relay: Relay
    consumer: Consumer
    pool: asyncpg.Pool
    nc: NATS

    async def save(self, accounts: int, deposits: int) -> int:
        """Store events and publish them; returns how many."""
        saved = await asyncio.to_thread(open_accounts, self.app, accounts, deposits)
        while await self.relay.publish_pending():
            pass
        return saved

    async def caught_up(self) -> None:
        assert await self.consumer.caught_up(30), "the live consumer did not catch up"

    async def rows(self) -> dict[str, list[Any]]:
        """Every row of the read model, in a fixed order."""
        return {
            t: [dict(r) for r in await self.pool.fetch(f"SELECT * FROM {SERVICE}.{t} ORDER BY 1")]
            for t in ("totals", "seen")
        }

    async def mark(self) -> positions.Mark:
        async with self.pool.acquire() as conn:
            return await positions.read(conn, SERVICE, self.consumer.durable, self.consumer.stream)


@pytest.fixture(scope="module")
async def toy(infra: Infra) -> AsyncIterator[Toy]:
    settings = infra.settings(SERVICE)
    pool = await open_pool(settings, max_size=4)
    await migrate(pool, SERVICE, DDL)
    nc = await nats.connect(infra.nats_url)
    app = await asyncio.to_thread(SourceApp, settings)
    relay = Relay(app, nc.jetstream(), pool)
    await relay.setup()
    consumer = Consumer(
        settings=settings,
        schema=SERVICE,
        name="tally",
        source=SERVICE,
        handler=tally,
        js=nc.jetstream(),
        pool=pool,
        own_store=OwnStore(SERVICE, app.schema, app.events_table, relay.encoder),
    )
    await consumer.setup()
    consumer.start()
    toy = Toy(app, relay, consumer, pool, nc)
    await toy.save(5, 4)
    await toy.caught_up()
    yield toy
    await consumer.stop()
    await nc.close()
    await pool.close()
    app.close()


async def test_an_intact_read_model_is_left_as_it_was(infra: Infra, toy: Toy) -> None:
    before, mark = await toy.rows(), await toy.mark()

    compared = await compare_read_model(infra.settings(), NAME, specs=[spec()])
    assert compared.matches and not compared.committed
    rebuilt = await rebuild(infra.settings(), NAME, specs=[spec()])

    assert rebuilt.matches and rebuilt.committed
    assert rebuilt.applied == {NAME: before["totals"][0]["n"]}
    assert await toy.rows() == before
    assert await toy.mark() == mark


async def test_a_damaged_read_model_is_restored_exactly(infra: Infra, toy: Toy) -> None:
    await toy.caught_up()
    before, mark = await toy.rows(), await toy.mark()
    lost, changed = before["seen"][0]["account"], before["seen"][1]["account"]
    await toy.pool.execute(f"DELETE FROM {SERVICE}.seen WHERE account = $1", lost)
    await toy.pool.execute(f"UPDATE {SERVICE}.seen SET events = 99 WHERE account = $1", changed)
    await toy.pool.execute(f"UPDATE {SERVICE}.totals SET n = 0")
    await toy.pool.execute(f"INSERT INTO {SERVICE}.seen VALUES (gen_random_uuid(), 1, 1, 'forged')")

    compared = await compare_read_model(infra.settings(), NAME, specs=[spec()])
    assert not compared.matches
    seen = {t.table: t for t in compared.tables}["seen"]
    assert (seen.only_live, seen.only_rebuilt) == (2, 2)  # the changed and forged; the lost
    assert any(row["last_event"] == "forged" for row in seen.samples_live)
    rebuilt = await rebuild(infra.settings(), NAME, specs=[spec()])

    assert rebuilt.committed and not rebuilt.matches  # what it found, before it repaired
    assert await toy.rows() == before
    assert await toy.mark() == mark
    assert (await compare_read_model(infra.settings(), NAME, specs=[spec()])).matches


async def test_the_live_consumer_applies_later_events_once(infra: Infra, toy: Toy) -> None:
    await toy.caught_up()
    total = (await toy.rows())["totals"][0]["n"]

    async def write() -> int:
        saved = 0
        for _ in range(6):
            saved += await toy.save(2, 3)
        return saved

    # Events arrive and the live consumer applies them while rebuilds hold its position.
    writing = asyncio.create_task(write())
    for _ in range(3):
        await rebuild(infra.settings(), NAME, specs=[spec()])
    total += await writing
    await toy.caught_up()

    assert (await toy.rows())["totals"][0]["n"] == total
    assert (await toy.mark()).stream_seq == total
    assert (await compare_read_model(infra.settings(), NAME, specs=[spec()])).matches
    assert toy.consumer.alarm.current is None


async def test_to_end_moves_the_position_and_the_consumer_follows(infra: Infra, toy: Toy) -> None:
    await toy.caught_up()
    await toy.consumer.stop()  # the live consumer falls behind
    try:
        applied = (await toy.rows())["totals"][0]["n"]
        total = applied + await toy.save(3, 2)
        report = await rebuild(infra.settings(), NAME, specs=[spec()], to_end=True)
        assert report.stream_positions[NAME] == (applied, total)
        assert (await toy.rows())["totals"][0]["n"] == total
    finally:
        toy.consumer.start()
    total += await toy.save(1, 1)
    await toy.caught_up()

    assert (await toy.rows())["totals"][0]["n"] == total
    assert (await compare_read_model(infra.settings(), NAME, specs=[spec()])).matches


async def test_an_undeclared_table_refuses_the_rebuild(infra: Infra, toy: Toy) -> None:
    await toy.caught_up()
    before = await toy.rows()
    with pytest.raises(RebuildRefused, match=f"{SERVICE}.elsewhere"):
        await rebuild(infra.settings(), NAME, specs=[spec(handler=sloppy)])
    assert await toy.rows() == before
    assert await toy.pool.fetchval(f"SELECT count(*) FROM {SERVICE}.elsewhere") == 0


async def test_a_position_past_the_stream_refuses_the_rebuild(infra: Infra, toy: Toy) -> None:
    await toy.caught_up()
    await toy.consumer.stop()
    try:
        mark = await toy.mark()
        await toy.pool.execute(
            f"UPDATE {SERVICE}.consumer_position SET stream_seq = stream_seq + 5 "
            "WHERE consumer = $1",
            toy.consumer.durable,
        )
        before = await toy.rows()
        with pytest.raises(RebuildRefused, match="went backwards"):
            await rebuild(infra.settings(), NAME, specs=[spec()])
        assert await toy.rows() == before
    finally:
        async with toy.pool.acquire() as conn:
            await positions.store(conn, SERVICE, toy.consumer.durable, toy.consumer.stream, mark)
        toy.consumer.start()
