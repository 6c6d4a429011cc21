"""年度部门联合抽查计划 — the annual plan of a region: the plans the joint-meeting office
compiled from the departments' proposals for one year, published together (002 第六条:
汇总编制并公示). It also gives every plan of the region and year its number, in filing
order (domain/numbers.py), so that two plans filed at once cannot take the same one: both
write the same version of this aggregate, and one of them retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.planner.domain.errors import PlanStateError
from services.planner.domain.numbers import plan_number

NAMESPACE = uuid.UUID("0d4c2a9e-5b1f-4e3a-8c7d-2f6e9a1b3c5d")


def annual_id(region: str, year: int) -> uuid.UUID:
    """Id of the annual plan of one region and year."""
    return uuid.uuid5(NAMESPACE, f"annual-plan:{region}:{year}")


class AnnualPlan(Aggregate):
    """年度部门联合抽查计划 of one region and year, and the numbering of its plans."""

    @staticmethod
    def create_id(region: str, year: int, **_: object) -> uuid.UUID:
        return annual_id(region, year)

    @event("AnnualPlanStarted")
    def __init__(self, region: str, year: int) -> None:
        self.region = region
        self.year = year
        self.issued = 0
        self.compiled: list[dict[str, Any]] = []  # plans compiled from proposals
        self.publications: list[dict[str, Any]] = []

    def next_number(self) -> str:
        """The number :meth:`number` will record next."""
        return plan_number(self.region, self.year, self.issued + 1)

    def number(self, plan_id: str, *, compiled: bool) -> str:
        """Record the next plan number against ``plan_id``; ``compiled``: the office
        compiled the plan from proposals, so it belongs to the annual plan."""
        number = self.next_number()
        self._numbered(number=number, plan_id=plan_id, compiled=compiled)
        return number

    @event("PlanNumberIssued")
    def _numbered(self, number: str, plan_id: str, compiled: bool) -> None:
        self.issued += 1
        if compiled:
            self.compiled.append({"plan_id": plan_id, "number": number, "published": False})

    def unpublished(self) -> list[str]:
        """Ids of compiled plans not yet published with the annual plan."""
        return [p["plan_id"] for p in self.compiled if not p["published"]]

    def publish(self, plan_ids: Sequence[str], today: date) -> None:
        """汇总公示 — publish the compiled plans not yet published (again, after late
        proposals were compiled: each publication is an event)."""
        if not plan_ids:
            raise PlanStateError(
                f"the annual plan of {self.region} for {self.year} has no compiled plan "
                "left to publish"
            )
        self._published(plan_ids=list(plan_ids), published_on=today.isoformat())

    @event("AnnualPlanPublished")
    def _published(self, plan_ids: list[str], published_on: str) -> None:
        for entry in self.compiled:
            if entry["plan_id"] in plan_ids:
                entry["published"] = True
        self.publications.append({"plan_ids": plan_ids, "published_on": published_on})
