"""HTTP API of the planner: proposals, modes, plans (抽查计划), their publication and
adjustments."""

from __future__ import annotations

from services.planner.api import modes, ordering, plans, proposals
from services.planner.api.models import MAX_BATCHES, MAX_PLAN_ITEMS, BatchIn, PlanIn

# Proposals first: its /v1/plans/compile is matched before /v1/plans/{plan_id}.
ROUTERS = [proposals.router, modes.router, plans.router, ordering.router]

__all__ = ["MAX_BATCHES", "MAX_PLAN_ITEMS", "ROUTERS", "BatchIn", "PlanIn"]
