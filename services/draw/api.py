"""HTTP API of the draw service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from libs.common.auth import Principal, require_roles
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from services.draw.application import DrawApplication
from services.draw.domain.draw import Draw
from services.draw.domain.errors import BatchNotDrawable
from services.draw.domain.selection import Candidate, Examiner

router = APIRouter(prefix="/v1", tags=["draw"])
Drawer = Annotated[Principal, Depends(require_roles("operator", "office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
App = Annotated[DrawApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


class DrawRequest(BaseModel):
    """Which published batch to draw."""

    batch_id: str = Field(min_length=1, max_length=64)


async def _load_batch(db: asyncpg.Pool, batch_id: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM draw.batches WHERE batch_id = $1", batch_id)
    if row is None:
        raise Problem(404, "Not found", f"batch {batch_id} is unknown to the draw service")
    if not row["published"]:
        raise BatchNotDrawable(f"batch {batch_id} belongs to a plan that is not published")
    batch = dict(row)
    batch["plan_id"] = str(batch["plan_id"])
    batch["ends_on"] = batch["ends_on"].isoformat()
    classes = batch["pool"].get("risk_classes") or list(batch["ratios"])
    batch["ratios"] = {k: float(v) for k, v in batch["ratios"].items() if k in classes}
    return batch


async def _load_pool(db: asyncpg.Pool, spec: dict[str, Any]) -> list[Candidate]:
    rows = await db.fetch(
        """SELECT subject_id, identifier, name, region_code, risk_class FROM draw.pool_subjects
           WHERE status = 'operating'
             AND (cardinality($1::text[]) = 0 OR region_code LIKE ANY (
                    SELECT p || '%' FROM unnest($1::text[]) AS p))
             AND (cardinality($2::text[]) = 0 OR kind = ANY ($2))
             AND (cardinality($3::text[]) = 0 OR industry LIKE ANY (
                    SELECT p || '%' FROM unnest($3::text[]) AS p))""",
        spec.get("region_prefixes", []),
        spec.get("kinds", []),
        spec.get("industries", []),
    )
    return [
        Candidate(
            str(r["subject_id"]), r["identifier"], r["name"], r["region_code"], r["risk_class"]
        )
        for r in rows
    ]


async def _load_examiners(db: asyncpg.Pool, departments: list[str]) -> list[Examiner]:
    rows = await db.fetch(
        "SELECT * FROM draw.pool_inspectors WHERE status = 'active' AND department = ANY ($1)",
        departments,
    )
    return [
        Examiner(
            str(r["inspector_id"]),
            r["name"],
            r["department"],
            r["region_code"],
            tuple(r["categories"]),
        )
        for r in rows
    ]


def _view(draw: Draw) -> dict[str, Any]:
    return {
        "id": str(draw.id),
        "version": draw.version,
        "executed_at": draw.created_on.isoformat(),
        **{k: v for k, v in vars(draw).items() if not k.startswith("_")},
    }


@router.post("/draws", status_code=201, summary="Draw subjects and inspectors for a batch")
async def execute_draw(body: DrawRequest, request: Request, who: Drawer, app: App, db: Pool) -> Any:
    """Draw a published batch once, from a fresh seed that is stored with the result."""
    batch = await _load_batch(db, body.batch_id)
    if not who.may_act_for(batch["initiating_department"]):
        raise Problem(403, "Forbidden", "only the initiating department or the office may draw")
    departments = [batch["initiating_department"], *batch["participating_departments"]]
    subjects = await _load_pool(db, batch["pool"])
    examiners = await _load_examiners(db, departments)
    rows = await db.fetch("SELECT inspector_id, subject_id FROM draw.conflicts WHERE active")
    conflicts = frozenset((str(r["inspector_id"]), str(r["subject_id"])) for r in rows)
    draw = await run_command(request, who, app.execute_draw, batch, subjects, examiners, conflicts)
    return _view(draw)


@router.get("/draws/{draw_id}", summary="A draw and what it selected")
async def get_draw(draw_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """The recorded draw, seed included, so it can be re-run by anyone."""
    draw = await run_command(request, who, app.repository.get, draw_id)
    return _view(draw)


@router.get("/draws/{draw_id}/chain", summary="Verify the draw's hash chain")
async def verify_chain(draw_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """Recompute the SHA-256 links between the draw's stored events."""
    problems = await run_command(request, who, app.verify_chain, draw_id)
    return {
        "id": str(draw_id),
        "intact": not problems,
        "problems": problems,
        "checked_on": date.today().isoformat(),
    }
