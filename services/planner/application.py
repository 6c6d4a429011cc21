"""PlannerApplication — files and publishes plans."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from libs.common.eventstore import EventStoreApp
from services.planner.domain.plan import Plan


class PlannerApplication(EventStoreApp):
    """Commands and queries of plans."""

    service = "planner"

    def create_plan(self, **fields: Any) -> Plan:
        """File a plan; ``items`` are the registry items as the planner's projection has them."""
        plan = Plan.create(**fields)
        self.save(plan)
        return plan

    def publish_plan(self, plan_id: UUID, today: date) -> Plan:
        """Publish a plan."""
        plan: Plan = self.repository.get(plan_id)
        plan.publish(today)
        self.save(plan)
        return plan

    def get_plan(self, plan_id: UUID) -> Plan:
        """The plan as it stands."""
        return self.repository.get(plan_id)
