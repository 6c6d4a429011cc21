"""HTTP API of the draw service: announce, execute, replace (递补), prove."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from libs.common.auth import Principal, require_roles
from libs.common.commands import Command, Instant
from libs.common.departments import department_writer
from libs.common.problems import Problem
from libs.common.service import application, pool, run_command
from libs.common.text import Code, Identifier, line
from services.draw.answers import (
    BatchDraws,
    ChainCheck,
    DrawSummary,
    DrawView,
    FullProof,
    LineProof,
    PublicProof,
    ReplacementOutcome,
)
from services.draw.application import DrawApplication
from services.draw.domain.announce import RosterEntry
from services.draw.domain.draw import Draw, entropy_label
from services.draw.domain.reading import may_read_internal
from services.draw.facts import load_facts
from services.draw.freeze import freeze
from services.draw.protocol.reasons import REPLACEMENT_REASONS, VOID_REASONS, public_request
from services.draw.sources_api import SourceCode

router = APIRouter(prefix="/v1", tags=["draw"])
# An operator of a department outside the register (部门名录) writes nothing (403).
Drawer = Annotated[Principal, Depends(department_writer("operator", "office"))]
# A replacement is approved by a person: the approver role of the department, or the office.
Approver = Annotated[Principal, Depends(department_writer("approver", "office"))]
Reader = Annotated[Principal, Depends(require_roles("operator", "office", "inspector", "auditor"))]
Overseer = Annotated[Principal, Depends(require_roles("office", "auditor"))]
LineReader = Annotated[
    Principal, Depends(require_roles("office", "auditor", "operator", "subject"))
]
App = Annotated[DrawApplication, Depends(application)]
Pool = Annotated[asyncpg.Pool, Depends(pool)]


class EntropyChoice(Command):
    """Which drawing of which registered source completes the seed (ssj-draw-3)."""

    source: SourceCode = Field(description="A registered entropy source (GET /v1/entropy-sources).")
    issue: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,24}$")] = Field(
        description="The issue (期号) whose numbers complete the seed, e.g. '2026141'."
    )
    scheduled_at: Instant = Field(
        description="When that issue is drawn: a time of the source's schedule, at least "
        "the service's lead time (10 min) after the announcement. Execution is refused "
        "before it."
    )


class AnnounceRequest(Command):
    """公告: which published batch to draw and which public drawing will complete the seed."""

    batch_id: Code
    entropy: EntropyChoice
    selection: Literal["sha256", "rfc3797"] = Field(
        default="sha256",
        description="How subjects are selected: the SHA-256 stream seeded by the secret and "
        "the entropy (default), or the procedure of RFC 3797 from the public sources alone "
        "(at most 65 535 subjects in a stratum; the entropy then lists the sources' numbers, "
        "sources separated by '/', e.g. '9319 / 2 5 12 8 10 / 9 18 26 34 41 45').",
    )


class ExecuteRequest(Command):
    """抽取: the announced drawing's numbers, as published (e.g. '03 09 14 22 27 31 + 08'):
    digits and separators only; they must fit the source's format."""

    entropy: Annotated[str, line(2000, min_length=1)]


# protocol/reasons.py's code list, spelled out for the type checker and OpenAPI (a unit
# test keeps the two equal).
ReasonCode = Literal[
    "recusal",
    "official_travel",
    "sick_leave",
    "off_post",
    "post_change",
    "work_conflict",
    "deregistered",
    "revoked",
    "closed",
    "relocated",
    "other",
]
REASON_HELP = ", ".join(f"{code} {text}" for code, text in REPLACEMENT_REASONS.items())


class ReplacementRequest(Command):
    """递补: replace a drawn inspector or a drawn subject, with a reason code (public) and
    the reason in staff's words (internal, never published). The approver (审批人) is the
    caller: an authenticated user holding the ``approver`` role of the initiating
    department (or the office), recorded from the token, never typed."""

    kind: Literal["inspector", "subject"]
    identifier: Identifier = Field(description="the drawn subject")
    inspector_id: Code | None = Field(
        default=None, description="the inspector to replace (kind 'inspector')"
    )
    reason_code: ReasonCode = Field(
        description="the reason as published (公示), from the fixed list: "
        f"{REASON_HELP}; inspector reasons for kind 'inspector', subject reasons for kind "
        "'subject', other for either"
    )
    reason: Annotated[str, line(500, min_length=2)] = Field(
        description="the reason in staff's words, for internal readers only (never published)"
    )


async def _load_batch(db: asyncpg.Pool, batch_id: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM draw.batches WHERE batch_id = $1", batch_id)
    if row is None:
        raise Problem(404, "Not found", f"batch {batch_id} is unknown to the draw service")
    spec = dict(row["spec"] or {})
    batch = {**spec, **{k: v for k, v in row.items() if k != "spec"}}
    batch["plan_id"] = str(batch["plan_id"])
    batch["ends_on"] = batch["ends_on"].isoformat()
    batch["starts_on"] = batch["starts_on"].isoformat()
    return batch


async def _load_roster(db: asyncpg.Pool, batch: dict[str, Any]) -> list[RosterEntry]:
    departments = [batch["initiating_department"], *batch["participating_departments"]]
    rows = await db.fetch(
        "SELECT * FROM draw.pool_inspectors WHERE status = 'active' AND department = ANY ($1)",
        departments,
    )
    return [
        RosterEntry(
            str(r["inspector_id"]),
            r["name"],
            r["department"],
            r["region_code"],
            r["unit"],
            tuple(r["categories"]),
        )
        for r in rows
    ]


def _json(document: Any) -> Response:
    """A large JSON answer without FastAPI's per-value encoder (27,000 subjects with their
    groups take seconds through it; the values here are plain JSON already). Canonical
    JSON, keys sorted: a proof has one spelling, the one `ssj draw verify` reads."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode("utf-8"), media_type="application/json")


def _summary(draw: Draw) -> dict[str, Any]:
    a = draw.summary
    return {
        "id": str(draw.id),
        "version": draw.version,
        "batch_id": draw.batch_id,
        "plan_id": draw.plan_id,
        "batch_name": draw.batch_name,
        "attempt": draw.attempt,
        "status": draw.status(datetime.now(UTC)),
        "voided": _voided(draw),
        "announced_at": a["announced_at"],
        "announcement_hash": draw.announcement_hash,
        "protocol": a["protocol"],
        "selection": a.get("selection", "sha256"),
        "pool_hash": draw.pool_hash,  # internal readers; the public see the roots
        "pool_roots": a.get("pool_roots"),  # ssj-draw-3: per stratum, size and Merkle root
        "pool_size": a["pool_size"],
        "strata": a["strata"],
        "departments": a["departments"],
        "min_group_size": a["min_group_size"],
        "rules": a["rules"],
        "roster_size": a["roster_size"],
        "conflicts_size": a["conflicts_size"],
        "previous_size": a["previous_size"],
        "commitment": a["commitment"],
        "entropy": a.get("entropy"),  # ssj-draw-3: source, issue, draw time, format
        "pool_spec": a.get("pool_spec"),  # ssj-draw-3: how the pool was made (lists' sizes)
        "entropy_source": entropy_label(a),
        "entropy_not_before": a["entropy_not_before"] or None,
        "executed": draw.executed,
    }


def _voided(draw: Draw) -> dict[str, Any] | None:
    """Why and when the draw was voided, in its public form (code and wording)."""
    if draw.voided is None:
        return None
    code = draw.voided["reason_code"]
    return {
        "reason_code": code,
        "reason_text": VOID_REASONS[code],
        "voided_at": draw.voided["voided_at"],
    }


def _view(draw: Draw, internal: bool) -> dict[str, Any]:
    """``internal``: with staff's reasons and approvers (see ``domain.reading``)."""
    requests = draw.requests if internal else [public_request(r) for r in draw.requests]
    summary = _summary(draw)
    if not internal:  # the pool's plain hash can be checked against guesses of its classes
        summary["pool_hash"] = None
        if summary["executed"] is not None:
            summary["executed"] = {**summary["executed"], "pool_hash": None}
    if internal and draw.voided is not None:
        summary["voided"] = {**summary["voided"], "reason": draw.voided["reason"]}
    return {
        **summary,
        "subjects": draw.current(),
        "replacements": [{**r, **o} for r, o in zip(requests, draw.outcomes, strict=True)],
    }


# Seconds an announcement waits for the planner's latest events to be applied.
CATCH_UP_SECONDS = 5.0


@router.post(
    "/draws",
    status_code=201,
    response_model=DrawSummary,
    response_model_exclude_unset=True,
    summary="Announce the draw of a batch (公告)",
    responses={503: {"description": "the plan's latest events are not applied yet"}},
)
async def announce(body: AnnounceRequest, request: Request, who: Drawer, app: App, db: Pool) -> Any:
    """Freeze the eligible pool and the inspector roster, commit to the server secret
    (its SHA-256 is published) and name the public entropy that will complete the seed.
    One draw per batch: a second announcement is 409."""
    batch = await _load_batch(db, body.batch_id)
    if not who.may_act_for(batch["initiating_department"]):
        raise Problem(403, "Forbidden", "only the initiating department or the office may draw")
    # The batch's terms are this service's copy of the plan: not older than what the planner
    # has published (an adjustment a moment ago must not be drawn on its previous terms).
    planner = next(c for c in request.app.state.consumers if c.source == "planner")
    if not await planner.caught_up(CATCH_UP_SECONDS):
        raise Problem(
            503,
            "Catching up",
            "the draw service has not yet applied the planner's latest events (a plan may "
            "just have been adjusted); announce again in a moment",
        )
    batch = await _load_batch(db, body.batch_id)
    now = datetime.now(UTC)
    await run_command(request, who, app.check_announceable, batch)
    await run_command(request, who, app.announceable_source, body.entropy.source)  # first
    named = [
        (r["issue"], r["scheduled_at"])
        for r in await db.fetch(
            "SELECT issue, scheduled_at FROM draw.source_issues WHERE source = $1",
            body.entropy.source,
        )
    ]
    async with db.acquire() as conn:
        frozen = await freeze(conn, batch)
    roster = await _load_roster(db, batch)
    draw = await run_command(
        request,
        who,
        lambda: app.announce(
            batch=batch,
            pool=frozen,
            roster=roster,
            entropy=body.entropy.model_dump(),
            now=now,
            named_issues=named,
            selection=body.selection,
        ),
    )
    return _summary(draw)


async def _draw_for(request: Request, who: Principal, app: DrawApplication, ident: UUID) -> Draw:
    draw: Draw = await run_command(request, who, app.get_draw, ident)
    if not who.may_act_for(draw.initiating_department):
        raise Problem(403, "Forbidden", "only the initiating department or the office may do this")
    return draw


@router.post(
    "/draws/{draw_id}/execute",
    # Sent as prepared JSON (_json): declared, not applied.
    response_model=DrawView,
    summary="Execute an announced draw (抽取), once",
)
async def execute(
    draw_id: UUID, body: ExecuteRequest, request: Request, who: Drawer, app: App
) -> Any:
    """Supply the public entropy; the secret is revealed, the seed derived and subjects and
    inspector groups drawn. A second execution is 409."""
    await _draw_for(request, who, app, draw_id)
    draw = await run_command(request, who, app.execute, draw_id, body.entropy, datetime.now(UTC))
    return _json(_view(draw, internal=True))  # the initiating department or the office


@router.post(
    "/draws/{draw_id}/replacements",
    status_code=201,
    response_model=ReplacementOutcome,
    response_model_exclude_unset=True,
    summary="Replace (递补) an inspector or subject",
)
async def replace(
    draw_id: UUID, body: ReplacementRequest, request: Request, who: Approver, app: App, db: Pool
) -> Any:
    """ssj-draw-3: on a registry fact recorded since the announcement (the subject's status
    change; the inspector's suspension or transfer, or a conflict declared with the
    subject), take the stratum's next alternate or the seat's next candidate, passing over
    those the registry shows gone; at most the announced number of replacements. The
    original stays in the record and the proof shows both, with the evidence."""
    draw = await _draw_for(request, who, app, draw_id)
    subject = next((s for s in draw.current() if s["identifier"] == body.identifier), None)
    if subject is not None and await db.fetchval(
        "SELECT 1 FROM draw.results_recorded WHERE draw_id = $1 AND subject_id = $2",
        draw_id,
        UUID(subject["subject_id"]),
    ):
        raise Problem(
            409,
            "Result already recorded",
            f"the inspection of {body.identifier} is on record; its subject and group can no "
            "longer be replaced (a wrong result is corrected in the results service)",
        )
    facts = await load_facts(db, datetime.fromisoformat(draw.summary["announced_at"]))
    if body.kind == "inspector":
        if not body.inspector_id:
            raise Problem(422, "Invalid request", "kind 'inspector' needs inspector_id")
        return await run_command(
            request,
            who,
            app.replace_inspector,
            draw_id,
            body.identifier,
            body.inspector_id,
            body.reason_code,
            body.reason,
            _approver(who),
            facts,
        )
    # Subjects closed since the announcement cannot be drawn as replacements either.
    rows = await db.fetch(
        "SELECT identifier FROM draw.pool_subjects WHERE status <> 'operating' "
        "AND status_changed_at >= $1::text::timestamptz",
        draw.summary["announced_at"],
    )
    return await run_command(
        request,
        who,
        app.replace_subject,
        draw_id,
        body.identifier,
        body.reason_code,
        body.reason,
        _approver(who),
        [r["identifier"] for r in rows],
        facts,
    )


def _approver(who: Principal) -> str:
    """Who approved a replacement, as recorded: the token's subject and department."""
    return f"{who.sub} ({who.dept})"


class VoidRequest(Command):
    """作废: why the announced draw is withdrawn before its entropy's draw time."""

    reason_code: Literal["batch_withdrawn", "pool_error", "source_cancelled", "other"] = Field(
        description="Public: 批次撤回 / 对象库有误 / 开奖取消或延期 / 其他"
    )
    reason: Annotated[str, line(500, min_length=2)] = Field(
        description="Staff's own words, for internal readers only."
    )


@router.post(
    "/draws/{draw_id}/void",
    response_model=DrawSummary,
    response_model_exclude_unset=True,
    summary="Void an announced draw before its entropy time",
)
async def void(draw_id: UUID, body: VoidRequest, request: Request, who: Drawer, app: App) -> Any:
    """Withdraw an announced draw while its outcome is still unknowable (before the
    entropy's draw time); the batch may then be announced again (its next attempt). An
    executed draw stands; after the draw time a draw can only be executed (409)."""
    await _draw_for(request, who, app, draw_id)
    draw = await run_command(
        request, who, app.void, draw_id, body.reason_code, body.reason, datetime.now(UTC)
    )
    return _summary(draw)


@router.get(
    "/draws/{draw_id}",
    response_model=DrawView,  # sent as prepared JSON (_json): declared, not applied
    summary="A draw: announcement, result and replacements",
)
async def get_draw(draw_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """The draw as it stands, replacements applied to its subjects and groups. Staff's
    reasons and approvers only for the initiating department, the office and auditors;
    other readers get each replacement's public reason code."""
    draw: Draw = await run_command(request, who, app.get_draw, draw_id)
    internal = may_read_internal(
        dept=who.dept, roles=who.roles, initiating_department=draw.initiating_department
    )
    return _json(_view(draw, internal))


@router.get(
    "/batches/{batch_id}/draws",
    response_model=BatchDraws,
    summary="The draws announced for a batch",
)
async def batch_draws(
    batch_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")], who: Reader, app: App
) -> Any:
    """Ids of the batch's draws, voided ones included, first attempt first; the planner
    asks before it changes a batch (a batch once drawn keeps its terms)."""
    found = await asyncio.to_thread(app.draws_of_batch, batch_id)
    return {"batch_id": batch_id, "draws": [str(d) for d in found]}


@router.get(
    "/draws/{draw_id}/proof",
    response_model=PublicProof,  # sent as prepared JSON (_json): declared, not applied
    summary="Everything needed to verify the draw (public)",
)
async def proof(draw_id: UUID, request: Request, app: App) -> Response:
    """Public, no sign-in: the announcement (strata as Merkle roots, unit tokens), after
    execution the leaves the draw used opened, the secret, entropy and result; never a
    pooled subject's risk class or unit, nor a conflict (ssj-draw-3; a draw announced
    under ssj-draw-2 shows its pool lines). ``ssj draw verify`` checks it offline."""
    anonymous = Principal(sub="public", dept="", roles=frozenset())
    document = await run_command(request, anonymous, app.proof, draw_id)
    response = _json(document)
    response.headers["Content-Disposition"] = f'attachment; filename="draw-{draw_id}-proof.json"'
    # Public and the same for everyone: any page may fetch it (the disclosure portal's
    # verifier runs in the reader's browser, from another origin); no credentials go with it.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@router.get(
    "/draws/{draw_id}/proof/full",
    response_model=FullProof,  # sent as prepared JSON (_json): declared, not applied
    summary="The full proof: risk classes, units and conflicts included (office, auditors)",
)
async def full_proof(draw_id: UUID, request: Request, who: Overseer, app: App) -> Response:
    """What the public proof keeps internal, for oversight: the full announcement (roster
    units, conflicts of interest, last inspectors), the blinding key and the whole pool.
    ``ssj draw verify`` checks it as it checks the public one, and that the public
    announcement follows from it."""
    document = await run_command(request, who, app.full_proof, draw_id)
    response = _json(document)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="draw-{draw_id}-full-proof.json"'
    )
    return response


@router.get(
    "/draws/{draw_id}/proof/lines/{identifier}",
    response_model=LineProof,
    summary="A subject's own line of the pool, opened against the announcement",
)
async def line_proof(
    draw_id: UUID, identifier: Identifier, request: Request, who: LineReader, app: App
) -> Any:
    """The subject itself (a ``subject`` token whose ``sub`` is its identifier), the
    initiating department, the office or auditors: the subject's leaf (stratum, region,
    unit token, barred inspectors) with its salt and inclusion path, which ``ssj draw
    verify-line`` checks against the announcement hash published before the draw."""
    if "subject" in who.roles and not (who.roles & {"office", "auditor", "operator"}):
        if who.sub != identifier:
            raise Problem(403, "Forbidden", "a subject may read its own line only")
    elif not who.roles & {"office", "auditor"}:
        draw: Draw = await run_command(request, who, app.get_draw, draw_id)
        if not who.may_act_for(draw.initiating_department):
            raise Problem(403, "Forbidden", "only the initiating department reads pool lines")
    return await run_command(request, who, app.line_proof, draw_id, identifier)


@router.get(
    "/draws/{draw_id}/chain", response_model=ChainCheck, summary="Verify the draw's hash chain"
)
async def verify_chain(draw_id: UUID, request: Request, who: Reader, app: App) -> Any:
    """Recompute the SHA-256 links between the draw's stored events."""
    await run_command(request, who, app.get_draw, draw_id)  # a draw, or 404
    problems = await run_command(request, who, app.verify_chain, draw_id)
    return {
        "id": str(draw_id),
        "intact": not problems,
        "problems": problems,
        "checked_on": date.today().isoformat(),
    }
