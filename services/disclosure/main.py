"""Disclosure service: 一公开 — the public view of items, plans, draws and results. Port 8005."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from services.disclosure.api import router
from services.disclosure.application import DisclosureApplication
from services.disclosure.domain.export import InvalidExport, ResultsExport
from services.disclosure.export_api import router as export_router
from services.disclosure.portal.pages import router as portal_router
from services.disclosure.projections import public, results
from services.disclosure.results_api import router as results_router

SPEC = ServiceSpec(
    name="disclosure",
    title="ssj disclosure — 一公开",
    description="Public, token-free view of item lists, plans, draws and results, and the "
    "public portal (公示门户) at /.",
    application=DisclosureApplication,
    routers=[router, results_router, export_router, portal_router],
    aggregates=[ResultsExport],
    domain_errors={InvalidExport: (422, "Invalid export")},
    read_model_ddl=[*public.DDL, *register_ddl()],
    # The public look-ups by name and by USCC (results_query.generic_plan_suits).
    lookup_connections=5,
    consumers=[
        ConsumerSpec(
            name="registry",
            source="registry",
            handler=public.apply_registry,
            tables=("items", "item_versions"),
        ),
        ConsumerSpec(
            name="planner",
            source="planner",
            handler=public.apply_planner,
            tables=("plans", "plan_modes", "plan_versions"),
        ),
        ConsumerSpec(
            name="draw", source="draw", handler=public.apply_draw, tables=("public_draws",)
        ),
        ConsumerSpec(
            name="results",
            source="results",
            handler=results.apply_results,
            tables=("results", "result_name_pairs", "follow_ups", "overdue"),
        ),
        register_consumer("disclosure"),
    ],
)

if __name__ == "__main__":
    serve(SPEC)
