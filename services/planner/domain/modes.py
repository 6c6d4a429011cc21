"""联查模式 — the modes of joint inspection a plan may follow, a list the office keeps.

The seeds name 综合大联查, 风险分类联查 and 专项整治联查 "and others": a region adds its own
(市场秩序联查, say) without a release. The three are defined by the service itself on its
first start (:data:`BUILT_IN`); every other mode is defined by the office. A mode of kind
``special`` (专项整治) requires a plan to name the work programme it carries out.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.planner.domain.errors import InvalidPlan

NAMESPACE = uuid.UUID("4f6b2d1e-8c3a-4e7f-9b2d-6a1c3e5f7d90")
CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# (code, name, needs a work programme 工作方案)
BUILT_IN = (
    ("comprehensive", "综合大联查", False),
    ("risk_based", "风险分类联查", False),
    ("special", "专项整治联查", True),
)


def mode_id(code: str) -> uuid.UUID:
    """Id of the mode with this code."""
    return uuid.uuid5(NAMESPACE, f"plan-mode:{code}")


class PlanMode(Aggregate):
    """联查模式 — one mode of joint inspection."""

    @staticmethod
    def create_id(code: str, **_: Any) -> uuid.UUID:
        return mode_id(code)

    @classmethod
    def define(cls, *, code: str, name: str, needs_programme: bool) -> PlanMode:
        """Validate and record ``PlanModeDefined``."""
        if not CODE.fullmatch(code):
            raise InvalidPlan(
                f"a mode's code is 1-32 lower-case letters, digits or _, not {code!r}"
            )
        if not name.strip():
            raise InvalidPlan("a mode needs a name")
        return cls(code=code, name=name.strip(), needs_programme=needs_programme)

    @event("PlanModeDefined")
    def __init__(self, code: str, name: str, needs_programme: bool) -> None:
        self.code = code
        self.name = name
        self.needs_programme = needs_programme


def check_mode(mode: PlanMode | None, code: str, programme: str) -> None:
    """A plan's mode must be defined; a mode that needs one, a work programme."""
    if mode is None:
        raise InvalidPlan(
            f"mode {code!r} is not defined: the office defines modes (POST /v1/plan-modes)"
        )
    if mode.needs_programme and not programme.strip():
        raise InvalidPlan(
            f"a plan of mode {mode.name} ({code}) names its work programme (工作方案)"
        )
