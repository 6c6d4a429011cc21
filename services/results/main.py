"""Results service: inspection tasks from dispatch to publication, review, follow-up, the
working calendar and its deadlines, credit events. Port 8004."""

from __future__ import annotations

from libs.common.departments import register_consumer, register_ddl
from libs.common.service import ConsumerSpec, ServiceSpec, serve
from libs.common.workers import WorkerSpec
from services.results import dispatch, evidence, recount, watch
from services.results.api import router
from services.results.application import ResultsApplication
from services.results.calendar_api import router as calendar_router
from services.results.domain.calendar import CalendarYear
from services.results.domain.credit import CreditNotice
from services.results.domain.errors import (
    InvalidCalendar,
    InvalidResult,
    NotInGroup,
    NotReviewer,
    TaskStateError,
)
from services.results.domain.missed import MissedDeadline
from services.results.domain.overdue import OverdueNotice
from services.results.domain.record import InspectionRecord
from services.results.domain.task import InspectionTask
from services.results.followup_api import router as followup_router
from services.results.projections import tasks, views
from services.results.task_api import router as task_router

SPEC = ServiceSpec(
    name="results",
    title="ssj results — 检查结果",
    description="Inspection results of drawn subjects, deadlines; corrections are appended.",
    application=ResultsApplication,
    routers=[calendar_router, task_router, followup_router, router],
    read_model_ddl=[*views.DDL, *evidence.DDL, *recount.DDL, *register_ddl()],
    consumers=[
        ConsumerSpec(
            name="assignments", source="draw", handler=views.apply_draw, tables=("assignments",)
        ),
        # Its task events also write assignments' columns (task, record, deadlines):
        # rebuilt together with "assignments".
        ConsumerSpec(
            name="records",
            source="results",
            handler=views.apply_own,
            tables=("records", "tasks", "calendar_years", "assignments"),
        ),
        ConsumerSpec(
            name="items", source="registry", batch_handler=tasks.apply_items, tables=("items",)
        ),
        register_consumer("results"),
    ],
    # The deadline watch (逾期监测): one process of the replicas records ResultOverdue.
    workers=[
        WorkerSpec(name="dispatch", run=dispatch.dispatch_pass, interval=dispatch.interval),
        WorkerSpec(name="deadline-watch", run=watch.watch_pass, interval=watch.interval),
    ],
    aggregates=[
        InspectionTask,
        CreditNotice,
        MissedDeadline,
        InspectionRecord,
        CalendarYear,
        OverdueNotice,
    ],
    domain_errors={
        InvalidResult: (422, "Invalid result"),
        NotInGroup: (403, "Forbidden"),
        InvalidCalendar: (422, "Invalid calendar"),
        NotReviewer: (403, "Forbidden"),
        TaskStateError: (409, "Not in this state"),
    },
)

if __name__ == "__main__":
    serve(SPEC)
