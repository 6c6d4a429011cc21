"""The department register (部门名录) and the token deny-list (吊销名单) as every service
copies them from the registry stream, and the check that a writer's department is in it.

The registry owns the register and refuses writes of a department it does not hold (it
reads the Department aggregates). The other services know it from one shared consumer,
:func:`register_consumer`, which keeps ``{schema}.departments_view`` (``code``, ``active``)
and ``{schema}.revoked_tokens``; :data:`Writer`-like dependencies made with
:func:`department_writer` refuse (403) an operator or inspector whose token names a
department that is not active there. Being a read model it lags the registry by a few
hundred milliseconds: a department registered a moment ago may be refused briefly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import Depends, Request

from libs.common import revocations
from libs.common.auth import Principal, require_roles
from libs.common.envelope import InboundEvent
from libs.common.problems import Problem
from libs.common.service import ConsumerSpec
from libs.common.snapshots import Snapshot

DEPARTMENTS_DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.departments_view (
        code text PRIMARY KEY, department_id uuid UNIQUE NOT NULL, active boolean NOT NULL,
        version int NOT NULL)""",
    # The department's region (GB/T 2260): plans are numbered and counted by it. Rows from
    # before it was kept have "" until the department's events are applied again.
    "ALTER TABLE {schema}.departments_view ADD COLUMN IF NOT EXISTS region_code text NOT NULL "
    "DEFAULT ''",
    # Its name, as the public reads it (检查机关); "" for rows from before it was kept.
    "ALTER TABLE {schema}.departments_view ADD COLUMN IF NOT EXISTS name text NOT NULL DEFAULT ''",
]
DEPARTMENT_EVENTS = frozenset({"DepartmentRegistered", "DepartmentChanged"})


def register_ddl(*, departments: bool = True) -> list[str]:
    """Tables of :func:`register_consumer` (``departments`` False: the deny-list only)."""
    return [*(DEPARTMENTS_DDL if departments else []), *revocations.DDL]


async def apply_department(conn: asyncpg.Connection, schema: str, ev: InboundEvent) -> None:
    """Apply one Department event to ``{schema}.departments_view``; again changes nothing."""
    if ev.name == "DepartmentRegistered":
        await conn.execute(
            f'INSERT INTO "{schema}".departments_view (code, department_id, active, version, '
            "region_code, name) VALUES ($1, $2, true, $3, $4, $5) ON CONFLICT (code) DO NOTHING",
            ev.data["code"],
            ev.subject,
            ev.aggregate_version,
            str(ev.data.get("region_code", "")),
            str(ev.data.get("name", "")),
        )
    elif ev.name == "DepartmentChanged":
        changes = ev.data["changes"]
        await conn.execute(
            f'UPDATE "{schema}".departments_view SET active = coalesce($2, active), '
            "region_code = coalesce($4, region_code), name = coalesce($5, name), "
            "version = $3 WHERE department_id = $1 AND version < $3",
            ev.subject,
            changes.get("active"),
            ev.aggregate_version,
            changes.get("region_code"),
            changes.get("name"),
        )


def register_consumer(schema: str, *, departments: bool = True) -> ConsumerSpec:
    """The consumer ``register`` on the registry stream that keeps this service's copy of
    the department register (unless ``departments`` is False: the registry reads its own
    Department aggregates) and of the token deny-list. Tables: :func:`register_ddl`."""

    async def apply_batch(conn: asyncpg.Connection, events: list[InboundEvent]) -> None:
        # The registry stream is mostly subjects and inspectors (imports of 100,000 rows):
        # one call per batch, and nothing to do for nearly all of it.
        for ev in events:
            if ev.name == "TokenRevoked":
                await revocations.apply(conn, schema, ev)
            elif departments and ev.name in DEPARTMENT_EVENTS:
                await apply_department(conn, schema, ev)

    tables = ("departments_view", "revoked_tokens") if departments else ("revoked_tokens",)
    return ConsumerSpec(
        name="register", source="registry", batch_handler=apply_batch, tables=tables
    )


async def is_active(pool: asyncpg.Pool, schema: str, code: str) -> bool:
    """Whether ``code`` is an active department of ``{schema}.departments_view``."""
    active = await pool.fetchval(
        f'SELECT active FROM "{schema}".departments_view WHERE code = $1', code
    )
    return bool(active)


class ActiveDepartments:
    """The active codes of ``{schema}.departments_view`` as a :class:`Snapshot` (as the
    deny-list is): one query a second instead of one per write. A code not in the copy is
    looked up at once, so a department registered a moment ago is not refused for longer
    than the read model lags; a deactivated one is refused at most a second later."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._codes = Snapshot(self._load, frozenset[str]())

    async def _load(self) -> frozenset[str]:
        rows = await self.pool.fetch(
            f'SELECT code FROM "{self.schema}".departments_view WHERE active'
        )
        return frozenset(row["code"] for row in rows)

    async def active(self, code: str) -> bool:
        """Whether ``code`` is an active department."""
        return code in await self._codes.current() or await is_active(self.pool, self.schema, code)


def active_departments(request: Request) -> ActiveDepartments:
    """The app's :class:`ActiveDepartments` (made on first use, for the app's pool)."""
    state = request.app.state
    known: ActiveDepartments | None = getattr(state, "active_departments", None)
    if known is None or known.pool is not state.pool:
        known = ActiveDepartments(state.pool, state.settings.service)
        state.active_departments = known
    return known


def unknown_department(dept: str) -> Problem:
    """403 for a writer whose token names a department not active in the register."""
    return Problem(
        403,
        "Unknown department",
        f"the token's department {dept!r} is not an active department of the "
        "register (部门名录); the office registers departments",
    )


def department_writer(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: :func:`require_roles` (``roles``), and a caller other than the
    office must belong to an active department of the register (403 otherwise), as the
    registry's own writers must."""
    caller = require_roles(*roles)

    # A default rather than Annotated: the annotation names a local, which FastAPI cannot
    # resolve from this module's (postponed) annotations.
    async def dependency(request: Request, who: Principal = Depends(caller)) -> Principal:
        if "office" in who.roles:
            return who
        if not await active_departments(request).active(who.dept):
            raise unknown_department(who.dept)
        return who

    return dependency
