"""Planner service: department and joint plans, batches, publication. Port 8002."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from services.planner.api import ROUTERS
from services.planner.application import PlannerApplication
from services.planner.domain.annual import AnnualPlan
from services.planner.domain.errors import (
    BatchDrawn,
    BatchOrderRefused,
    BelowFloor,
    DeadlinePassed,
    InvalidPlan,
    ItemNotPublished,
    ModeExists,
    PlanStateError,
    ProposalClosed,
    RuleRefusal,
    UnknownDepartment,
    UnknownItem,
)
from services.planner.domain.modes import PlanMode
from services.planner.domain.plan import Plan
from services.planner.domain.proposals import Proposal, ProposalDeadline
from services.planner.peers import PeerUnavailable
from services.planner.projections import views

SPEC = ServiceSpec(
    name="planner",
    title="ssj planner — 抽查计划",
    description=(
        "Department proposals, merged joint plans (进一次门，查多项事), numbers, batches, "
        "ratios, publication and adjustments."
    ),
    application=PlannerApplication,
    routers=ROUTERS,
    # The register consumer keeps the department register (plans name departments from it)
    # and the token deny-list.
    read_model_ddl=[*views.DDL, *register_ddl()],
    consumers=[
        ConsumerSpec(
            name="items", source="registry", handler=views.apply_registry, tables=("items_view",)
        ),
        ConsumerSpec(
            name="plans",
            source="planner",
            handler=views.apply_own,
            tables=("plans_view", "modes_view", "proposals_view"),
        ),
        # Announced draws fix their batches (adjustments may only extend them).
        ConsumerSpec(
            name="draws", source="draw", handler=views.apply_draw, tables=("drawn_batches",)
        ),
        register_consumer("planner"),
    ],
    aggregates=[Plan, PlanMode, Proposal, ProposalDeadline, AnnualPlan],
    domain_errors={
        InvalidPlan: (422, "Invalid plan"),
        UnknownItem: (422, "Unknown item"),
        UnknownDepartment: (422, "Unknown department"),
        ItemNotPublished: (422, "Item not published"),
        PlanStateError: (409, "Plan state conflict"),
        ModeExists: (409, "Mode exists"),
        DeadlinePassed: (409, "Deadline passed"),
        ProposalClosed: (409, "Proposal closed"),
        BelowFloor: (422, "Below the floor"),
        BatchDrawn: (409, "Batch drawn"),
        BatchOrderRefused: (409, "Batch order refused"),
        RuleRefusal: (422, "Refused by a planning rule"),
        PeerUnavailable: (503, "Service unavailable"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
