"""Compiling, numbering, publishing and adjusting plans: commands of
:class:`~services.planner.application.PlannerApplication`.

Publishing and adjusting ask the registry to count subjects (a :data:`Counter`) to work
out the share of each item's subjects the plan inspects (domain/coverage.py).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.planner.domain import coverage
from services.planner.domain.adjustments import adjusted
from services.planner.domain.annual import AnnualPlan, annual_id
from services.planner.domain.errors import (
    InvalidPlan,
    PlanStateError,
    ProposalClosed,
    RuleRefusal,
    UnknownDepartment,
)
from services.planner.domain.modes import check_mode
from services.planner.domain.plan import Plan, check_registered, select_items
from services.planner.domain.proposals import Proposal, check_mergeable, default_batch
from services.planner.lookups import PlannerLookups
from services.planner.peers import Counter, DrawnLookup

# Tries of a command whose aggregates another command saved meanwhile (numbering races).
ATTEMPTS = 20


# An event travels as one NATS message (1 MiB by default): what an adjustment records
# (the new state and the diff) must leave room for the envelope.
MAX_EVENT_BYTES = 900_000


def check_event_size(*parts: Any) -> None:
    """Refuse a change whose event could not be carried (it would stall the stream)."""
    size = sum(len(json.dumps(p, ensure_ascii=False, default=str).encode()) for p in parts)
    if size > MAX_EVENT_BYTES:
        raise RuleRefusal(
            "event_size",
            f"the adjustment would record {size} bytes, more than one event carries "
            f"({MAX_EVENT_BYTES}): change fewer batches or shorter 100 % lists at a time",
        )


class PlanCommands(PlannerLookups):
    """Plans from proposals, their numbers, publication with ratios, adjustments."""

    def file_numbered(
        self,
        *,
        region: str,
        year: int,
        make: Callable[[str], Plan],
        proposals: Sequence[UUID] = (),
        versions: Mapping[UUID, int] | None = None,
    ) -> Plan:
        """Number and save the plan ``make(number)`` builds, with the annual plan that
        numbers it and the proposals it absorbs, in one transaction; retried when another
        plan took the number meanwhile. ``versions``: the proposals' versions the plan was
        built from (an amendment since refuses the merge)."""
        versions = versions or {}
        for attempt in range(ATTEMPTS):
            key = annual_id(region, year)
            annual = (
                self.repository.get(key)
                if key in self.repository
                else AnnualPlan(region=region, year=year)
            )
            absorbed: list[Proposal] = [self.repository.get(p) for p in proposals]
            if absorbed:
                check_mergeable(absorbed)
            changed = [str(p.id) for p in absorbed if p.version != versions.get(p.id, p.version)]
            if changed:
                raise ProposalClosed(
                    "proposal_changed",
                    f"proposals {changed} were amended while the plan was compiled from them: "
                    "review them and compile again",
                )
            plan = make(annual.next_number())
            annual.number(str(plan.id), compiled=bool(absorbed))
            for proposal in absorbed:
                proposal.absorb(str(plan.id), plan.number)
            try:
                self.save(annual, plan, *absorbed)
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.05))  # apart from the other writers
                continue
            return plan
        raise AssertionError("unreachable")

    def compile_plan(
        self,
        *,
        proposal_ids: Sequence[UUID],
        initiating_department: str,
        title: str,
        mode: str,
        programme: str = "",
        content: Mapping[str, Any] | None = None,
        batches: Sequence[Mapping[str, Any]] | None = None,
    ) -> Plan:
        """合并安排 — the office compiles one plan from proposals: the initiating
        department it chooses among theirs (谁审批、谁监管), the others participating, the
        union of their items, one set of batches (given, or :func:`default_batch`)."""
        proposals: list[Proposal] = []
        for pid in proposal_ids:
            found: object = self.repository.get(pid)
            if not isinstance(found, Proposal):
                raise InvalidPlan(f"{pid} is not a proposal")
            proposals.append(found)
        check_mergeable(proposals)
        departments = list(dict.fromkeys(p.department for p in proposals))
        if initiating_department not in departments:
            raise InvalidPlan(
                f"the initiating department is one of the proposing departments {departments}"
                " (谁审批、谁监管): the office chooses among them"
            )
        participating = [d for d in departments if d != initiating_department]
        check_registered(initiating_department, participating, self.departments_active(departments))
        check_mode(self.find_mode(mode), mode, programme)
        codes = list(dict.fromkeys(i["code"] for p in proposals for i in p.items))
        items = select_items(codes, self.catalogue(codes))
        plan_batches = list(batches) if batches else [default_batch(proposals)]
        year, region = proposals[0].year, proposals[0].region
        return self.file_numbered(
            region=region,
            year=year,
            proposals=[p.id for p in proposals],
            versions={p.id: p.version for p in proposals},
            make=lambda number: Plan.create(
                year=year,
                title=title,
                mode=mode,
                programme=programme,
                initiating_department=initiating_department,
                participating_departments=participating,
                items=items,
                batches=plan_batches,
                number=number,
                region=region,
                content=content,
                proposals=[str(p.id) for p in proposals],
            ),
        )

    # -- ratios that add up ------------------------------------------------------------

    def coverage_of(
        self,
        region: str,
        items: Sequence[Mapping[str, Any]],
        batches: Sequence[Mapping[str, Any]],
        count: Counter,
    ) -> dict[str, Any]:
        """The computation of domain/coverage.py for these items and batches."""
        kinds = self.item_kinds([i["code"] for i in items])
        with_kinds = [{**i, "subject_kinds": kinds.get(i["code"], [])} for i in items]
        answers = count(coverage.queries(region, with_kinds, batches))
        return coverage.compute(region, with_kinds, batches, answers)

    def plan_coverage(self, plan_id: UUID, count: Counter) -> dict[str, Any]:
        """The share of each item's subjects the plan, as it stands, inspects."""
        return self.coverage_of_plan(self.get_plan(plan_id), count)

    def coverage_of_plan(self, plan: Plan, count: Counter) -> dict[str, Any]:
        """:meth:`plan_coverage` of a plan already loaded."""
        return self.coverage_of(
            plan.region or self.department_region(plan.initiating_department),
            plan.items,
            plan.batches,
            count,
        )

    def publish_plan(
        self,
        plan_id: UUID,
        count: Counter,
        floor_overrides: Mapping[str, str] | None = None,
    ) -> Plan:
        """发布 — publish a plan whose general items reach their floor (or are overridden);
        a second time is a state conflict."""
        plan = self.get_plan(plan_id)
        if plan.published:  # refused as published before anything is counted
            raise PlanStateError(f"the plan was already published on {plan.published_on}")
        computed = self.coverage_of_plan(plan, count)
        applied = coverage.check_floor(computed, floor_overrides or {})
        plan.publish(self.today(), coverage.summary(computed), applied)
        annual = self.annual_plan(plan.region, plan.year) if plan.proposals else None
        if annual is not None and str(plan.id) in annual.unpublished():
            # A compiled plan published on its own is published in the annual plan too.
            annual.publish([str(plan.id)], self.today())
            self.save(annual, plan)
        else:
            self.save(plan)
        return plan

    def annual_plan(self, region: str, year: int) -> AnnualPlan | None:
        """The annual plan of a region and year, if any plan was numbered in it."""
        key = annual_id(region, year)
        return self.repository.get(key) if key in self.repository else None

    def publish_annual(
        self,
        region: str,
        year: int,
        count: Counter,
        floor_overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> tuple[AnnualPlan, list[Plan]]:
        """汇总公示 — publish together every compiled plan of the region and year not yet
        published; refused as a whole when one of them is under a floor without override
        (``floor_overrides``: plan id → item code → reason)."""
        annual = self.annual_plan(region, year)
        if annual is None:
            raise InvalidPlan(f"no plan has been compiled for {region} in {year}")
        overrides = floor_overrides or {}
        plans: list[Plan] = []
        for plan_id in annual.unpublished():
            plan = self.get_plan(UUID(plan_id))
            if plan.published:
                continue  # published on its own before the annual plan
            computed = self.coverage_of_plan(plan, count)
            applied = coverage.check_floor(computed, overrides.get(plan_id, {}))
            plan.publish(self.today(), coverage.summary(computed), applied)
            plans.append(plan)
        annual.publish([str(p.id) for p in plans], self.today())
        self.save(annual, *plans)
        return annual, plans

    # -- adjustments 调整 --------------------------------------------------------------

    def adjust_plan(
        self,
        plan_id: UUID,
        *,
        reason: str,
        approved_by: str,
        changes: Mapping[str, Any],
        count: Counter,
        drawn: DrawnLookup,
        floor_overrides: Mapping[str, str] | None = None,
    ) -> Plan:
        """调整 — change a published plan; it is published again as its next edition.

        Which of its batches have been drawn: those the draw stream has told the planner of,
        and, for the batches the adjustment would change or remove, those the draw service
        says (its stream may lag a draw announced a moment ago). A draw announced between
        that answer and this save is the one window left; the draw's announcement records
        the batch's terms it drew on, so such a draw shows in the public record."""
        plan = self.get_plan(plan_id)
        if not plan.published:
            raise PlanStateError("only a published plan is adjusted; publish it first")
        added_codes = list(changes.get("add_item_codes") or [])
        added_items = select_items(added_codes, self.catalogue(added_codes)) if added_codes else []
        added = [str(d) for d in changes.get("add_participants") or []]
        active = self.departments_active(added)
        unknown = [d for d in added if not active.get(d, False)]
        if unknown:
            raise UnknownDepartment("add_participants", unknown)
        touched = [str(c.get("batch_id")) for c in changes.get("change_batches") or []]
        touched += [str(b) for b in changes.get("remove_batches") or []]
        known = self.drawn_batches(plan_id)
        fresh = drawn([b for b in dict.fromkeys(touched) if b not in known]) if touched else set()
        state, diff = adjusted(plan, changes, known | fresh, added_items)
        check_mode(self.find_mode(plan.mode), plan.mode, state["programme"])
        region = plan.region or self.department_region(plan.initiating_department)
        computed = self.coverage_of(region, state["items"], state["batches"], count)
        applied = coverage.check_floor(computed, floor_overrides or {})
        check_event_size(state, diff)
        plan.adjust(
            today=self.today(),
            reason=reason,
            approved_by=approved_by,
            state=state,
            changes=diff,
            coverage=coverage.summary(computed),
            floor_overrides=applied,
        )
        self.save(plan)
        return plan
