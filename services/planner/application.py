"""PlannerApplication — the only way into the planner's write side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import tuple_row

from libs.common.eventstore import EventStoreApp
from services.planner.domain.plan import Plan, check_registered, select_items

# Plans are published on Chinese calendar days, whatever the server's clock zone.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def today_in_china() -> date:
    """The current date in China (UTC+8)."""
    return datetime.now(CHINA).date()


class PlannerApplication(EventStoreApp):
    """Commands and queries of plans (抽查计划) and their batches."""

    service = "planner"

    def create_plan(
        self,
        *,
        item_codes: Sequence[str],
        catalogue: Mapping[str, Mapping[str, Any]],
        **fields: Any,
    ) -> Plan:
        """File a plan; ``catalogue`` is what the planner's projection knows of the items.
        Every department it names must be active in the department register (部门名录)."""
        initiating, participating = (
            fields["initiating_department"],
            fields["participating_departments"],
        )
        check_registered(
            initiating, participating, self.departments_active([initiating, *participating])
        )
        plan = Plan.create(items=select_items(item_codes, catalogue), **fields)
        self.save(plan)
        return plan

    def publish_plan(self, plan_id: UUID, today: date | None = None) -> Plan:
        """Publish a plan (a second time is a state conflict)."""
        plan: Plan = self.repository.get(plan_id)
        plan.publish(today or today_in_china())
        self.save(plan)
        return plan

    def get_plan(self, plan_id: UUID) -> Plan:
        """The plan as it stands, from its events."""
        return self.repository.get(plan_id)

    def departments_active(self, codes: Sequence[str]) -> dict[str, bool]:
        """Whether each of these departments is active, as the planner's copy of the
        registry's department register says (built from the registry stream, which carries a
        department before any item of it); codes it does not hold are left out."""
        table = sql.Identifier(self.schema, "departments_view")
        with self.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                sql.SQL("SELECT code, active FROM {} WHERE code = ANY(%s)").format(table),
                (list(codes),),
            )
            return {code: active for code, active in cur.fetchall()}
