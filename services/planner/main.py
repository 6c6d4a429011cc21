"""Planner service: department and joint plans, batches, publication. Port 8002."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from services.planner.api import router
from services.planner.application import PlannerApplication
from services.planner.domain.errors import (
    InvalidPlan,
    ItemNotPublished,
    PlanStateError,
    UnknownDepartment,
    UnknownItem,
)
from services.planner.domain.plan import Plan
from services.planner.projections import views

SPEC = ServiceSpec(
    name="planner",
    title="ssj planner — 抽查计划",
    description="Department plans, joint plans (进一次门，查多项事), batches and publication.",
    application=PlannerApplication,
    routers=[router],
    # The register consumer keeps the department register (plans name departments from it)
    # and the token deny-list.
    read_model_ddl=[*views.DDL, *register_ddl()],
    consumers=[
        ConsumerSpec(name="items", source="registry", handler=views.apply_registry),
        ConsumerSpec(name="plans", source="planner", handler=views.apply_own),
        register_consumer("planner"),
    ],
    aggregates=[Plan],
    domain_errors={
        InvalidPlan: (422, "Invalid plan"),
        UnknownItem: (422, "Unknown item"),
        UnknownDepartment: (422, "Unknown department"),
        ItemNotPublished: (422, "Item not published"),
        PlanStateError: (409, "Plan state conflict"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
