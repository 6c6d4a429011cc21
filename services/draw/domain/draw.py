"""抽查 draw — one batch's random selection of subjects and inspectors, recorded once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.draw.domain.sampling import ALGORITHM
from services.draw.domain.selection import (
    Candidate,
    Examiner,
    draw_groups,
    select_subjects,
)

NAMESPACE = uuid.UUID("0b1f3f2e-9a64-4f0e-8a4c-6f2d8e3c9b15")


def draw_id(batch_id: str) -> uuid.UUID:
    """One draw per batch: a second draw of the same batch collides and is rejected."""
    return uuid.uuid5(NAMESPACE, f"draw:{batch_id}")


class Draw(Aggregate):
    """抽查结果 — the recorded outcome of drawing one batch."""

    @staticmethod
    def create_id(batch_id: str, **_: Any) -> uuid.UUID:
        return draw_id(batch_id)

    @classmethod
    def execute(
        cls,
        *,
        batch: dict[str, Any],
        seed: bytes,
        pool: Sequence[Candidate],
        examiners: Sequence[Examiner],
        conflicts: frozenset[tuple[str, str]] = frozenset(),
    ) -> Draw:
        """Select subjects per stratum and their inspector groups from one seed."""
        selection, strata, digest = select_subjects(seed, pool, batch["ratios"])
        categories = {item["category"] for item in batch["items"]}
        groups = draw_groups(
            seed,
            selection,
            examiners,
            batch["initiating_department"],
            batch["participating_departments"],
            categories,
            conflicts,
        )
        return cls(
            batch_id=batch["batch_id"],
            plan_id=batch["plan_id"],
            year=batch["year"],
            initiating_department=batch["initiating_department"],
            participating_departments=list(batch["participating_departments"]),
            items=list(batch["items"]),
            ends_on=batch["ends_on"],
            algorithm=ALGORITHM,
            seed=seed.hex(),
            pool_hash=digest,
            pool_size=len(pool),
            strata=strata,
            selection=[vars(c).copy() for c in selection],
            groups=groups,
        )

    @event("DrawExecuted")
    def __init__(
        self,
        batch_id: str,
        plan_id: str,
        year: int,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        ends_on: str,
        algorithm: str,
        seed: str,
        pool_hash: str,
        pool_size: int,
        strata: dict[str, dict[str, float]],
        selection: list[dict[str, str]],
        groups: list[dict[str, Any]],
    ) -> None:
        self.batch_id = batch_id
        self.plan_id = plan_id
        self.year = year
        self.initiating_department = initiating_department
        self.participating_departments = participating_departments
        self.items = items
        self.ends_on = ends_on
        self.algorithm = algorithm
        self.seed = seed
        self.pool_hash = pool_hash
        self.pool_size = pool_size
        self.strata = strata
        self.selection = selection
        self.groups = groups
