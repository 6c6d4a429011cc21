"""PlannerApplication — the only way into the planner's write side.

Its commands live by capability: proposals (proposing.py), compiling, publishing and
adjusting plans (compiling.py); modes and plans filed directly live here, with the
look-ups of the planner's own read models they all use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

from services.planner.compiling import PlanCommands
from services.planner.domain.errors import ModeExists
from services.planner.domain.modes import BUILT_IN, PlanMode, check_mode, mode_id
from services.planner.domain.plan import Plan, check_registered, select_items
from services.planner.ordering import BatchOrderCommands
from services.planner.proposing import ProposalCommands


class PlannerApplication(ProposalCommands, PlanCommands, BatchOrderCommands):
    """Commands and queries of proposals, plans (抽查计划) and their batches."""

    service = "planner"

    def __init__(self, settings: Any, env: dict[str, str] | None = None) -> None:
        super().__init__(settings, env)
        self.define_built_in_modes()

    def create_plan(
        self,
        *,
        item_codes: Sequence[str],
        catalogue: Mapping[str, Mapping[str, Any]],
        **fields: Any,
    ) -> Plan:
        """File a plan directly (not compiled from proposals); ``catalogue`` is what the
        planner's projection knows of the items. Every department it names must be active
        in the department register (部门名录); it is numbered in its initiating
        department's region."""
        initiating, participating = (
            fields["initiating_department"],
            fields["participating_departments"],
        )
        check_registered(
            initiating, participating, self.departments_active([initiating, *participating])
        )
        check_mode(self.find_mode(fields["mode"]), fields["mode"], fields.get("programme", ""))
        items = select_items(item_codes, catalogue)
        region = self.department_region(initiating)
        return self.file_numbered(
            region=region,
            year=fields["year"],
            make=lambda number: Plan.create(items=items, number=number, region=region, **fields),
        )

    # -- modes 联查模式 ------------------------------------------------------------------

    def define_mode(self, *, code: str, name: str, needs_programme: bool) -> PlanMode:
        """The office adds a mode (a code once: 409 ModeExists)."""
        if mode_id(code) in self.repository:
            raise ModeExists(f"mode {code} is defined already")
        mode = PlanMode.define(code=code, name=name, needs_programme=needs_programme)
        try:
            self.save(mode)
        except IntegrityError as exc:
            raise ModeExists(f"mode {code} is defined already") from exc
        return mode

    def define_built_in_modes(self) -> None:
        """The seeds' three modes, on the service's first start (idempotent: replicas
        starting together race for each, and the loser finds it defined)."""
        for code, name, needs_programme in BUILT_IN:
            with contextlib.suppress(ModeExists):
                self.define_mode(code=code, name=name, needs_programme=needs_programme)
