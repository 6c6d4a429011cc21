"""Service assembly: one function turns a :class:`ServiceSpec` into a running FastAPI app
with its event store, relay, consumers, read-model tables, tracing and error handling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import uvicorn
from fastapi import APIRouter, FastAPI, Request

from libs.common.auth import Principal
from libs.common.bodyguard import BodyGuardMiddleware, bearer_accepted
from libs.common.bodylimit import BodyLimitMiddleware
from libs.common.bus import connect
from libs.common.consumer import BatchHandler, Consumer, Handler
from libs.common.context import CommandContext, command_context
from libs.common.eventstore import EventStoreApp
from libs.common.fair_pool import FairPool
from libs.common.health import router as health_router
from libs.common.idempotency import IdempotencyMiddleware
from libs.common.idempotency_table import DDL as IDEMPOTENCY_DDL
from libs.common.idempotency_table import purge_expired
from libs.common.jwks import key_set_for
from libs.common.keys import check_keys
from libs.common.liveness import ProcessMark
from libs.common.openapi import install_openapi
from libs.common.own_stream import OwnStore
from libs.common.problems import Problem, install_problem_handlers
from libs.common.relay import Relay
from libs.common.security_headers import SecurityHeadersMiddleware
from libs.common.settings import CommonSettings
from libs.common.tracing import quiet_statements, setup_tracing, shutdown_tracing
from libs.common.workers import Worker, WorkerSpec

log = logging.getLogger(__name__)
T = TypeVar("T")
# What a calling platform may send as X-Correlation-ID (a UUID, a ticket number, …).
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# How often a service deletes idempotency keys past their retention (they hold whole bodies).
IDEMPOTENCY_PURGE_SECONDS = 300.0


@dataclass(frozen=True)
class ConsumerSpec:
    """A read-model handler fed by another (or the same) service's stream."""

    name: str
    source: str
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None
    # The read-model tables (in the service's schema) this consumer's handler writes: what
    # `ssj rebuild` empties and fills again from the stream (libs/common/rebuild.py).
    # Consumers that write a common table are rebuilt together.
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceSpec:
    """Everything that makes one service different from the others."""

    name: str
    title: str
    description: str
    application: type[EventStoreApp]
    routers: Sequence[APIRouter]
    read_model_ddl: Sequence[str] = ()
    consumers: Sequence[ConsumerSpec] = ()
    # Periodic jobs, one process of the replicas at a time (libs/common/workers.py).
    workers: Sequence[WorkerSpec] = ()
    # Aggregates whose events this service publishes (for the event catalogue).
    aggregates: Sequence[type] = ()
    domain_errors: Mapping[type[Exception], tuple[int, str]] = field(default_factory=dict)
    # PostgreSQL settings for every connection of the service's pool, set at connection
    # start (so they are also what RESET ALL returns to when the pool recycles one).
    session_settings: Mapping[str, str] = field(default_factory=dict)
    # Connections of a second pool whose statements always run their generic plan (0: no
    # such pool): hot look-ups of a fixed shape, whose generic plan is good for every
    # value, skip PostgreSQL's planning on every execution (see :func:`lookup_pool`).
    lookup_connections: int = 0
    # The service's own keys: variable name → whether it holds the development default
    # (read at start; libs.common.keys refuses those outside development).
    development_keys: Callable[[], Mapping[str, bool]] = dict
    # The same keys' lengths (a short key is refused outside development too).
    key_lengths: Callable[[], Mapping[str, int]] = dict


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (advisory unlock, CLOSE, UNLISTEN, RESET ALL):
    nothing here changes a pooled session (locks are transaction-scoped, settings LOCAL,
    nobody LISTENs on a pooled connection), and that round trip on every release was a
    tenth of a busy service's database time. asyncpg still ends an open transaction."""


async def open_pool(
    settings: CommonSettings, max_size: int = 10, session: Mapping[str, str] | None = None
) -> asyncpg.Pool:
    """asyncpg pool with JSON codecs, for read models and service tables; ``session`` are
    PostgreSQL settings sent at connection start."""
    # FairPool: first come, first served (asyncpg's own pool lets newcomers overtake).
    # The arguments asyncpg.create_pool passes its Pool (asyncpg 0.32), defaults spelt out.
    pool = FairPool(
        settings.database_url,
        init_size=None,
        min_size=1,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        connect=None,
        setup=None,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=dict(session or {}),
    )
    await pool
    return pool


async def purge_idempotency_keys(pool: asyncpg.Pool, schema: str) -> None:
    """Background task of the lifespan: delete expired idempotency keys now and then."""
    while True:
        try:
            deleted = await purge_expired(pool, schema)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not purge expired idempotency keys (幂等键清理失败): %s", exc)
        else:
            if deleted:
                log.info("purged %d expired idempotency keys", deleted)
        await asyncio.sleep(IDEMPOTENCY_PURGE_SECONDS)


async def migrate(pool: asyncpg.Pool, schema: str, statements: Sequence[str]) -> None:
    """Create read-model tables (``{schema}`` is replaced); serialised across processes."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for statement in statements:
            await conn.execute(statement.format(schema=schema))


def create_app(spec: ServiceSpec, settings: CommonSettings | None = None) -> FastAPI:
    """Build the FastAPI app; infrastructure starts in the lifespan."""
    settings = (settings or CommonSettings()).model_copy(update={"service": spec.name})
    setup_tracing(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_keys(settings, spec.development_keys(), spec.key_lengths())
        pool = await open_pool(settings, session=spec.session_settings)
        lookups = (
            await open_pool(
                settings,
                max_size=spec.lookup_connections,
                session={**spec.session_settings, "plan_cache_mode": "force_generic_plan"},
            )
            if spec.lookup_connections
            else pool
        )
        application = await asyncio.to_thread(spec.application, settings)
        await migrate(pool, spec.name, [IDEMPOTENCY_DDL, *spec.read_model_ddl])
        nc = await connect(settings, f"ssj-{spec.name}")
        js = nc.jetstream()
        relay = Relay(application, js, pool)
        await relay.setup()
        # A service's own stream comes from its own database: its consumers check that.
        own_store = OwnStore(spec.name, application.schema, application.events_table, relay.encoder)
        consumers = [
            Consumer(
                settings=settings,
                schema=spec.name,
                name=c.name,
                source=c.source,
                handler=c.handler,
                batch_handler=c.batch_handler,
                js=js,
                pool=pool,
                own_store=own_store if c.source == spec.name else None,
            )
            for c in spec.consumers
        ]
        for consumer in consumers:
            await consumer.setup()
        # Held while this process lives: a replica sees at once that a request's owner
        # died and its Idempotency-Key claim is free (libs/common/liveness.py).
        mark = ProcessMark(settings.database_url, settings.idempotency_claim_seconds)
        await mark.start()
        app.state.process_mark = mark
        app.state.pool = pool
        app.state.lookup_pool = lookups
        app.state.application = application
        app.state.nc = nc
        app.state.relay = relay
        app.state.consumers = consumers
        with quiet_statements():  # their own spans say what they did (tracing.py)
            relay.start()
            for consumer in consumers:
                consumer.start()
        workers = [Worker(w, settings, spec.name, application, pool) for w in spec.workers]
        for worker in workers:
            worker.start()
        purging = asyncio.create_task(purge_idempotency_keys(pool, spec.name))
        if settings.jwks_url:
            # The identity provider's keys fetched now, in the background: the first
            # requests' synchronous checks (Idempotency-Key owner, /readyz) find them held.
            key_set_for(settings).cached("")
        log.info("%s ready on port %s", spec.name, settings.http_port)
        try:
            yield
        finally:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
            for worker in workers:
                await worker.stop()
            for consumer in consumers:
                await consumer.stop()
            await relay.stop()
            # Not drain(): consumers and relay are stopped, nothing is in flight, and
            # draining idle pull subscriptions only waits for their fetch timeouts.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5.0)
            await mark.stop()
            if lookups is not pool:
                await lookups.close()
            await pool.close()
            await asyncio.to_thread(application.close)
            shutdown_tracing()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
        # One server span per request, from FastAPI's own OpenTelemetry support: it names
        # the span after the route it routed to ("POST /v1/tasks/{task_id}/review"), where
        # the contrib instrumentation matched every route again before each request, and
        # the spans around dependencies, endpoint and serialisation are left out (they
        # doubled a request's spans; the statements' spans show where its time went).
        telemetry={"operation_spans": False, "exclude": _untraced},
    )
    app.state.settings = settings
    install_problem_handlers(app, spec.domain_errors)
    app.add_middleware(
        IdempotencyMiddleware,
        schema=spec.name,
        settings=settings,
        claim_seconds=settings.idempotency_claim_seconds,
    )
    # Before the idempotency middleware stores anything: who sends a body, and how deep.
    app.add_middleware(BodyGuardMiddleware, settings=settings, check_token=bearer_accepted)
    # Added last, so it runs first: the idempotency middleware never reads an oversized body.
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    # Outermost: every answer gets the headers, the body limit's 413 included.
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(health_router)
    for router in spec.routers:
        app.include_router(router)
    install_openapi(app, [status for status, _ in spec.domain_errors.values()])
    return app


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    """Probes get no span: they come every few seconds and say nothing of the work."""
    return scope.get("path") in ("/healthz", "/readyz")


async def application(request: Request) -> Any:
    """FastAPI dependency: the service's event-sourced application."""
    return request.app.state.application


async def pool(request: Request) -> asyncpg.Pool:
    """FastAPI dependency: the service's asyncpg pool (read models)."""
    return request.app.state.pool


async def lookup_pool(request: Request) -> asyncpg.Pool:
    """FastAPI dependency: the pool whose statements run their generic plan (the service's
    pool when it has none). Only for queries whose plan suits every value of their
    parameters: a generic plan cannot see that ``$1 IS NULL``, nor how wide a range is."""
    return request.app.state.lookup_pool


async def run_command(
    request: Request, principal: Principal, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run a synchronous application command off the event loop, as ``principal``.

    The correlation id comes from ``X-Correlation-ID`` when a calling platform sends one.
    """
    correlation_id = request.headers.get("x-correlation-id")
    if correlation_id is not None and not CORRELATION_ID.fullmatch(correlation_id):
        # It is stored in every event the command causes: hostile text stops here.
        raise Problem(
            422,
            "Validation failed",
            "X-Correlation-ID must be 1-128 characters of A-Z a-z 0-9 . _ : -",
            errors=[{"field": "X-Correlation-ID", "in": "header", "code": "pattern"}],
        )
    ctx = CommandContext(actor=principal.actor, correlation_id=correlation_id or str(uuid.uuid4()))
    with command_context(ctx):
        return await asyncio.to_thread(fn, *args, **kwargs)


async def await_published(request: Request, timeout: float = 5.0) -> bool:
    """Wait until the service's stream holds every event stored so far (the relay's recorded
    position reaches the newest notification): a command another service must not act
    around (a plan's adjustment) answers once it is on the stream. False after ``timeout``
    (the command is stored all the same; the relay publishes it later)."""
    app = request.app
    target = await asyncio.to_thread(app.state.application.max_notification_id)
    deadline = time.monotonic() + timeout
    while await app.state.relay.position() < target:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def serve(spec: ServiceSpec) -> None:
    """Entry point of ``python -m services.<name>.main``."""
    settings = CommonSettings().model_copy(update={"service": spec.name})
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s {spec.name} %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        create_app(spec, settings),
        host=settings.host,
        port=settings.http_port,
        log_level=settings.log_level,
        access_log=False,
        # No "server: uvicorn" banner: it tells a scanner which exploits to try.
        server_header=False,
    )
