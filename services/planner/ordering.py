"""The batches' order drawn at random (批次顺序, domain/batch_order.py): commands of
:class:`~services.planner.application.PlannerApplication`."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from services.planner.domain import batch_order
from services.planner.domain.errors import BatchOrderRefused
from services.planner.domain.plan import Plan
from services.planner.lookups import PlannerLookups

# How long before its drawing an order must be announced (as the draw service's default).
PRODUCTION_LEAD_SECONDS = 600
DEVELOPMENT_LEAD_SECONDS = 2


class BatchOrderCommands(PlannerLookups):
    """Announce the drawing that orders a plan's batches, then enter its numbers."""

    def lead_seconds(self) -> int:
        """The least time between an announcement and its drawing."""
        development = self.settings.environment == "development"
        return DEVELOPMENT_LEAD_SECONDS if development else PRODUCTION_LEAD_SECONDS

    def announce_batch_order(
        self, plan_id: UUID, *, source: dict[str, object], issue: str, scheduled_at: datetime
    ) -> Plan:
        """公告 — name the drawing (``source``: the drawing as the draw service checked it)."""
        plan = self.get_plan(plan_id)
        announced = batch_order.announcement(
            plan_number=plan.number,
            task_numbers=[b["task_number"] or b["batch_id"] for b in plan.batches],
            source=str(source["source"]),
            issue=issue,
            scheduled_at=scheduled_at,
            announced_at=datetime.now(UTC),
            lead_seconds=self.lead_seconds(),
        )
        announced["source_name"] = str(source.get("name", ""))
        plan.announce_batch_order(announced, batch_order.announcement_hash(announced))
        self.save(plan)
        return plan

    def draw_batch_order(self, plan_id: UUID, numbers: str) -> Plan:
        """抽取 — enter the drawing's numbers; the order follows from them."""
        plan = self.get_plan(plan_id)
        if plan.batch_order is None:
            raise BatchOrderRefused(
                "batch_order_unannounced", "no drawing of the batches' order was announced"
            )
        canonical = batch_order.canonical_numbers(numbers)
        announced = {
            k: v
            for k, v in plan.batch_order.items()
            if k not in ("announcement_hash", "numbers", "order", "drawn_at")
        }
        order = batch_order.order(
            batch_order.announcement_hash(announced), canonical, announced["tasks"]
        )
        plan.draw_batch_order(canonical, order, datetime.now(UTC))
        self.save(plan)
        return plan
