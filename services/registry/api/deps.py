"""Dependencies and helpers shared by the registry's routers."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from typing import Annotated

import asyncpg
from fastapi import Depends

from libs.common.auth import Principal, require_roles
from libs.common.departments import unknown_department
from libs.common.problems import Problem
from libs.common.service import application, pool
from services.registry.application import RegistryApplication

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[RegistryApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


async def known_writer(
    who: Annotated[Principal, Depends(require_roles("operator", "office"))], app: App
) -> Principal:
    """A writer: the office, or an operator of an active department of the register (a
    token naming a department the office never registered, or has deactivated, writes
    nothing)."""
    if "office" not in who.roles:
        active = await asyncio.to_thread(app.departments_active, [who.dept])
        if not active.get(who.dept):
            raise unknown_department(who.dept)
    return who


Writer = Annotated[Principal, Depends(known_writer)]


def own_department(principal: Principal, dept: str) -> None:
    """A department writes only its own data; the office writes for all."""
    if not principal.may_act_for(dept):
        raise Problem(403, "Forbidden", f"department {principal.dept!r} cannot write for {dept!r}")


def expected_version(if_match: str | None) -> int:
    """The version named by an If-Match header (428 when missing)."""
    version = (if_match or "").strip('"')
    # ASCII digits only, and few enough that the version fits the event store's column.
    if not (version.isascii() and version.isdigit() and len(version) <= 9):
        raise Problem(428, "Precondition required", "send If-Match with the record's ETag")
    return int(version)


def etag(version: int) -> dict[str, str]:
    """ETag header for a record version."""
    return {"ETag": f'"{version}"'}
