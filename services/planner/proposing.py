"""Proposals 部门拟发起的年度联合抽查计划 and the office's deadline for them: commands of
:class:`~services.planner.application.PlannerApplication`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.planner.domain.errors import InvalidPlan, UnknownDepartment
from services.planner.domain.merging import candidates
from services.planner.domain.plan import select_items
from services.planner.domain.proposals import (
    Proposal,
    ProposalDeadline,
    check_deadline,
    deadline_id,
    default_deadline,
)
from services.planner.lookups import PlannerLookups
from services.planner.peers import Counter


class ProposalCommands(PlannerLookups):
    """Filing, amending and withdrawing proposals; the deadline of each region and year."""

    # -- the deadline 报送截止 ---------------------------------------------------------

    def deadline(self, region: str, year: int) -> tuple[date, str]:
        """The deadline of ``region``'s proposals for ``year`` and where it comes from
        (``office`` or the seeds' ``default``, the end of February)."""
        key = deadline_id(region, year)
        if key in self.repository:
            found: ProposalDeadline = self.repository.get(key)
            return date.fromisoformat(found.deadline), "office"
        return default_deadline(year), "default"

    def set_deadline(self, region: str, year: int, deadline: date, reason: str) -> date:
        """The office sets (or moves) the deadline of a region and year."""
        key = deadline_id(region, year)
        if key in self.repository:
            found: ProposalDeadline = self.repository.get(key)
            found.move(deadline, reason)
            self.save(found)
        else:
            self.save(
                ProposalDeadline(
                    region=region,
                    year=year,
                    deadline=check_deadline(year, deadline),
                    reason=reason.strip(),
                )
            )
        return deadline

    # -- proposals ---------------------------------------------------------------------

    def _content(self, department: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Request fields with the items resolved against the item list (published ones,
        with their methods)."""
        content = dict(fields)
        if "item_codes" in content:
            codes = list(content.pop("item_codes"))
            catalogue = self.catalogue(codes)
            items = select_items(codes, catalogue)
            for item in items:
                item["methods"] = list(catalogue[item["code"]]["methods"])
            content["items"] = items
        partners = content.get("partners") or []
        active = self.departments_active(partners)
        unknown = [p for p in partners if not active.get(p, False)]
        if unknown:
            raise UnknownDepartment("partners", unknown)
        return content

    def get_proposal(self, proposal_id: UUID) -> Proposal:
        """The proposal as it stands (InvalidPlan if the id names something else)."""
        found: object = self.repository.get(proposal_id)
        if not isinstance(found, Proposal):
            raise InvalidPlan(f"{proposal_id} is not a proposal")
        return found

    def file_proposal(
        self, *, year: int, department: str, late_reason: str = "", **fields: Any
    ) -> Proposal:
        """报送 — a department files what it proposes for ``year``."""
        if not self.departments_active([department]).get(department, False):
            raise UnknownDepartment("department", [department])
        region = self.department_region(department)
        deadline, _ = self.deadline(region, year)
        proposal = Proposal.file(
            year=year,
            region=region,
            department=department,
            content=self._content(department, fields),
            today=self.today(),
            deadline=deadline,
            late_reason=late_reason,
        )
        self.save(proposal)
        return proposal

    def amend_proposal(
        self, proposal_id: UUID, *, late_reason: str = "", **changes: Any
    ) -> tuple[Proposal, dict[str, Any]]:
        """修改 — change some of a proposal's fields; returns it and what changed."""
        proposal = self.get_proposal(proposal_id)
        deadline, _ = self.deadline(proposal.region, proposal.year)
        changed = proposal.amend(
            self._content(proposal.department, changes),
            today=self.today(),
            deadline=deadline,
            late_reason=late_reason,
        )
        self._save_proposal(proposal)
        return proposal, changed

    def withdraw_proposal(
        self, proposal_id: UUID, *, reason: str, late_reason: str = ""
    ) -> Proposal:
        """撤回 — the department withdraws its proposal."""
        proposal = self.get_proposal(proposal_id)
        deadline, _ = self.deadline(proposal.region, proposal.year)
        proposal.withdraw(reason, today=self.today(), deadline=deadline, late_reason=late_reason)
        self._save_proposal(proposal)
        return proposal

    def _save_proposal(self, proposal: Proposal) -> None:
        try:
            self.save(proposal)
        except IntegrityError as exc:
            raise IntegrityError(
                "the proposal was changed (or merged) meanwhile; reload and retry"
            ) from exc

    # -- merge suggestions 合并安排建议 -------------------------------------------------

    def merge_suggestions(
        self, year: int, region: str | None, count: Counter
    ) -> list[dict[str, Any]]:
        """Groups of open proposals of ``year`` (of one region each) whose scopes overlap
        and whose methods are close, with the number of subjects in the overlap (the
        registry counts them all in one request), most subjects first; groups whose
        overlap holds no subject are left out."""
        rows = self._rows(
            "SELECT proposal_id, region, department, title, pool, methods, starts_on, ends_on "
            "FROM {} WHERE year = %s AND status = 'filed' AND (%s::text IS NULL OR region = %s)"
            " ORDER BY filed_at, proposal_id",
            "proposals_view",
            year,
            region,
            region,
        )
        keys = ("id", "region", "department", "title", "pool", "methods", "starts_on", "ends_on")
        proposals = [dict(zip(keys, r, strict=True)) for r in rows]
        groups = [
            group
            for one_region in dict.fromkeys(p["region"] for p in proposals)
            for group in candidates([p for p in proposals if p["region"] == one_region])
        ]
        answers = count([[m["pool"] for m in g.members] for g in groups]) if groups else []
        out = []
        for group, answer in zip(groups, answers, strict=True):
            subjects = int(answer["total"])
            if not subjects:
                continue
            out.append(
                {
                    "region": group.members[0]["region"],
                    "proposals": [
                        {k: str(m[k]) for k in ("id", "department", "title")} for m in group.members
                    ],
                    "reason": group.reason(subjects),
                    "overlap": group.scope.as_dict(),
                    "subjects_in_overlap": subjects,
                    "per_risk_class": answer["per_risk_class"],
                    "shared_methods": group.methods,
                    "suggested_batch": {
                        "pool": group.scope.as_pool(),
                        "starts_on": min(m["starts_on"] for m in group.members).isoformat(),
                        "ends_on": max(m["ends_on"] for m in group.members).isoformat(),
                    },
                }
            )
        return sorted(out, key=lambda s: -s["subjects_in_overlap"])
