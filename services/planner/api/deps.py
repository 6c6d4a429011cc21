"""Dependencies of the planner's API: who may call, the application, the read models and
the registry's counts."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from libs.common.auth import Principal, require_roles
from libs.common.departments import department_writer
from libs.common.service import application, pool
from services.planner.application import PlannerApplication
from services.planner.peers import DrawService, RegistryCounter
from services.planner.settings import PlannerSettings

# An operator of a department outside the register (部门名录) writes nothing (403).
Filer = Annotated[Principal, Depends(department_writer("operator", "office"))]
Office = Annotated[Principal, Depends(require_roles("office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
# Proposals are read by the office, auditors and the proposing departments' operators.
ProposalReader = Annotated[Principal, Depends(require_roles("operator", "office", "auditor"))]
Overseer = Annotated[Principal, Depends(require_roles("office", "auditor"))]
App = Annotated[PlannerApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]
SETTINGS = PlannerSettings()


async def registry_counter(request: Request) -> RegistryCounter:
    """The registry's counts, asked with the caller's own token (the registry decides what
    the caller may count)."""
    return RegistryCounter(
        SETTINGS.registry_url, request.headers.get("authorization", ""), SETTINGS.peer_timeout
    )


async def draw_service(request: Request) -> DrawService:
    """Whether batches have been drawn, asked of the draw service with the caller's token."""
    return DrawService(
        SETTINGS.draw_url, request.headers.get("authorization", ""), SETTINGS.peer_timeout
    )


Counts = Annotated[RegistryCounter, Depends(registry_counter)]
Draws = Annotated[DrawService, Depends(draw_service)]
