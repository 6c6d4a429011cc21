"""Draw service: 双随机 — verifiable draws of subjects and inspector groups. Port 8003."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from services.draw import sources_api
from services.draw.api import router
from services.draw.application import DrawApplication
from services.draw.domain.draw import Draw
from services.draw.domain.errors import (
    AlreadyAnnounced,
    AlreadyExecuted,
    BatchNotDrawable,
    CommitmentMismatch,
    DrawVoided,
    EntropyNotYetAvailable,
    InvalidDraw,
    InvalidEntropy,
    InvalidReplacement,
    NoLineProof,
    NotExecuted,
    NoValidGroup,
    PoolEmpty,
    SourceExists,
    TooLateToVoid,
    UnknownSource,
)
from services.draw.domain.sources import EntropySource
from services.draw.projections import pool, sources
from services.draw.settings import DEV_KEY, DrawSettings

SPEC = ServiceSpec(
    name="draw",
    title="ssj draw — 双随机抽取",
    description="Verifiable, stratified draws of subjects and inspector groups per batch "
    "(protocol ssj-draw-3, see docs/draw-protocol.md).",
    application=DrawApplication,
    routers=[router, sources_api.router],
    read_model_ddl=[*pool.DDL, *sources.DDL, *register_ddl()],
    consumers=[
        ConsumerSpec(
            name="registry",
            source="registry",
            handler=pool.apply_registry,
            tables=("pool_subjects", "pool_inspectors", "conflicts"),
        ),
        ConsumerSpec(
            name="planner", source="planner", handler=pool.apply_planner, tables=("batches",)
        ),
        ConsumerSpec(
            name="own",
            source="draw",
            handler=pool.apply_own,
            tables=("inspected", "last_group", "open_draws", "source_issues"),
        ),
        ConsumerSpec(
            name="sources", source="draw", handler=sources.apply, tables=("entropy_sources",)
        ),
        ConsumerSpec(
            name="results",
            source="results",
            handler=pool.apply_results,
            tables=("results_recorded",),
        ),
        register_consumer("draw"),
    ],
    aggregates=[Draw, EntropySource],
    # Freezing a pool keeps up to a million rows in a temporary table: in the session's
    # own buffers rather than through the kernel (temp_buffers can only be chosen before
    # a session first touches a temporary table, hence at connection start). Allocated
    # only as used.
    session_settings={"temp_buffers": "256MB"},
    development_keys=lambda: {"SSJ_DRAW_KEY": DrawSettings().draw_key == DEV_KEY},
    key_lengths=lambda: {"SSJ_DRAW_KEY": len(DrawSettings().draw_key)},
    domain_errors={
        PoolEmpty: (422, "Pool empty"),
        NoValidGroup: (422, "No valid inspector group"),
        InvalidDraw: (422, "Invalid draw"),
        InvalidReplacement: (422, "Invalid replacement"),
        BatchNotDrawable: (409, "Batch not drawable"),
        AlreadyAnnounced: (409, "Already announced"),
        AlreadyExecuted: (409, "Already executed"),
        NotExecuted: (409, "Not executed"),
        EntropyNotYetAvailable: (409, "Entropy not yet available"),
        InvalidEntropy: (422, "Invalid entropy"),
        CommitmentMismatch: (409, "Commitment mismatch"),
        SourceExists: (409, "Source exists"),
        UnknownSource: (404, "Unknown entropy source"),
        NoLineProof: (404, "No such line"),
        DrawVoided: (409, "Draw voided"),
        TooLateToVoid: (409, "Too late to void"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
