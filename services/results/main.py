"""Results service: inspection records within 20 working days, corrections. Port 8004."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from libs.common.workers import WorkerSpec
from services.results import watch
from services.results.api import router
from services.results.application import ResultsApplication
from services.results.calendar_api import router as calendar_router
from services.results.domain.calendar import CalendarYear
from services.results.domain.errors import InvalidCalendar, InvalidResult, NotInGroup
from services.results.domain.overdue import OverdueNotice
from services.results.domain.record import InspectionRecord
from services.results.projections import views

SPEC = ServiceSpec(
    name="results",
    title="ssj results — 检查结果",
    description="Inspection results of drawn subjects, deadlines; corrections are appended.",
    application=ResultsApplication,
    routers=[calendar_router, router],
    read_model_ddl=[*views.DDL, *register_ddl()],
    consumers=[
        ConsumerSpec(name="assignments", source="draw", handler=views.apply_draw),
        ConsumerSpec(name="records", source="results", handler=views.apply_own),
        register_consumer("results"),
    ],
    # The deadline watch (逾期监测): one process of the replicas records ResultOverdue.
    workers=[WorkerSpec(name="deadline-watch", run=watch.watch_pass, interval=watch.interval)],
    aggregates=[InspectionRecord, CalendarYear, OverdueNotice],
    domain_errors={
        InvalidResult: (422, "Invalid result"),
        NotInGroup: (403, "Forbidden"),
        InvalidCalendar: (422, "Invalid calendar"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
