"""部门拟发起的年度联合抽查计划 — what each department proposes to initiate in a year, filed
with the joint-meeting office before its deadline (002 第十二条: 每年 2 月底前报送).

A proposal names its items (the department's own published items), the subjects it would
inspect (a batch pool filter), its methods, its timing and ratios, and the departments it
would like with it. It may be amended or withdrawn until the office merges it into a plan
(合并安排) or the deadline passes; after the deadline each step needs a recorded reason.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.planner.domain.batches import _parse_day, check_counts, check_pool, check_ratios
from services.planner.domain.errors import DeadlinePassed, InvalidPlan, ProposalClosed
from services.planner.domain.merging import overlap

NAMESPACE = uuid.UUID("8a3e1c5b-2d4f-4b6a-9e8c-1f3a5c7e9b2d")
CLASSES = ("A", "B", "C", "D")
STATUSES = ("filed", "withdrawn", "merged")
# Fields an amendment may change (the department and year never change).
AMENDABLE = (
    "title",
    "items",
    "pool",
    "methods",
    "starts_on",
    "ends_on",
    "ratios",
    "counts",
    "partners",
    "note",
)


def default_deadline(year: int) -> date:
    """The seeds' deadline: the last day of February of the plan year."""
    return date(year, 2, calendar.monthrange(year, 2)[1])


def deadline_id(region: str, year: int) -> uuid.UUID:
    """Id of the deadline of one region and year."""
    return uuid.uuid5(NAMESPACE, f"proposal-deadline:{region}:{year}")


class ProposalDeadline(Aggregate):
    """报送截止日期 — the office's deadline for one region's proposals of one year; set
    again, the latest setting counts (each setting is an event with its reason)."""

    @staticmethod
    def create_id(region: str, year: int, **_: object) -> uuid.UUID:
        return deadline_id(region, year)

    @event("ProposalDeadlineSet")
    def __init__(self, region: str, year: int, deadline: str, reason: str) -> None:
        self.region = region
        self.year = year
        self.deadline = deadline
        self.reason = reason

    def move(self, deadline: date, reason: str) -> None:
        """Set the deadline again."""
        self._moved(deadline=check_deadline(self.year, deadline), reason=reason.strip())

    @event("ProposalDeadlineMoved")
    def _moved(self, deadline: str, reason: str) -> None:
        self.deadline = deadline
        self.reason = reason


def check_deadline(year: int, deadline: date) -> str:
    """A deadline lies in the plan year or the year before it (plans are prepared ahead)."""
    if deadline.year not in (year - 1, year):
        raise InvalidPlan(f"a deadline for {year}'s proposals lies in {year - 1} or {year}")
    return deadline.isoformat()


def lateness(today: date, deadline: date, late_reason: str, step: str) -> str:
    """The recorded reason of a step taken after the deadline ("" when on time); a late
    step without one is refused."""
    if today <= deadline:
        return ""
    if not late_reason.strip():
        raise DeadlinePassed(
            "proposal_deadline",
            f"the deadline for proposals was {deadline.isoformat()}: to {step} a proposal "
            "now, give the reason (late_reason)",
        )
    return late_reason.strip()


def check_content(year: int, department: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate what a proposal says and return it in the form its events carry.

    ``fields["items"]`` are the items as :func:`~services.planner.domain.plan.select_items`
    copied them, with their ``methods``; all must be the department's own. The methods
    proposed must be methods of those items; the partners are other departments.
    """
    title = str(fields.get("title") or "").strip()
    if not title:
        raise InvalidPlan("a proposal needs a title")
    items = list(fields["items"])
    strangers = [i["code"] for i in items if i["department"] != department]
    if strangers:
        raise InvalidPlan(f"a department proposes its own items only, not {strangers}")
    methods = [str(m) for m in fields.get("methods") or []]
    if not methods or len(set(methods)) != len(methods):
        raise InvalidPlan("a proposal names its methods (检查方式), each once")
    offered = {m for i in items for m in i.get("methods", [])}
    foreign = [m for m in methods if m not in offered]
    if foreign:
        raise InvalidPlan(f"methods {foreign} are not methods of the proposed items")
    starts = _parse_day(fields.get("starts_on"), "starts_on")
    ends = _parse_day(fields.get("ends_on"), "ends_on")
    if ends < starts or starts.year != year or ends.year != year:
        raise InvalidPlan(f"the proposed timing {starts}–{ends} must lie within {year}")
    partners = [str(p) for p in fields.get("partners") or []]
    if department in partners or len(set(partners)) != len(partners):
        raise InvalidPlan("partners are other departments, each named once")
    pool = check_pool(fields.get("pool"), "pool")
    return {
        "title": title,
        "items": [
            {k: i[k] for k in ("code", "department", "name", "category", "ratio", "methods")}
            for i in items
        ],
        "pool": pool,
        "methods": methods,
        "starts_on": starts.isoformat(),
        "ends_on": ends.isoformat(),
        "ratios": check_ratios(fields.get("ratios"), "ratios"),
        "counts": check_counts(fields.get("counts"), pool["risk_classes"], "counts"),
        "partners": partners,
        "note": str(fields.get("note") or "").strip(),
    }


class Proposal(Aggregate):
    """部门拟发起的联合抽查 — one department's proposal for one year."""

    @classmethod
    def file(
        cls,
        *,
        year: int,
        region: str,
        department: str,
        content: Mapping[str, Any],
        today: date,
        deadline: date,
        late_reason: str = "",
    ) -> Proposal:
        """报送 — validate and record ``ProposalFiled``."""
        late = lateness(today, deadline, late_reason, "file")
        return cls(
            year=year,
            region=region,
            department=department,
            late_reason=late,
            **check_content(year, department, content),
        )

    @event("ProposalFiled")
    def __init__(
        self,
        year: int,
        region: str,
        department: str,
        title: str,
        items: list[dict[str, Any]],
        pool: dict[str, list[str]],
        methods: list[str],
        starts_on: str,
        ends_on: str,
        ratios: dict[str, float],
        counts: dict[str, int],
        partners: list[str],
        note: str,
        late_reason: str,
    ) -> None:
        self.year = year
        self.region = region
        self.department = department
        self.title = title
        self.items = items
        self.pool = pool
        self.methods = methods
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.ratios = ratios
        self.counts = counts
        self.partners = partners
        self.note = note
        self.late_reason = late_reason
        self.status = "filed"
        self.plan_id: str | None = None
        self.plan_number: str | None = None

    def content(self) -> dict[str, Any]:
        """What the proposal says now (the amendable fields)."""
        return {key: getattr(self, key) for key in AMENDABLE}

    def _open(self, step: str) -> None:
        if self.status != "filed":
            raise ProposalClosed(
                "proposal_closed",
                f"the proposal was {self.status}"
                + (f" into plan {self.plan_number}" if self.plan_number else "")
                + f": it cannot be {step}",
            )

    def amend(
        self, changes: Mapping[str, Any], *, today: date, deadline: date, late_reason: str = ""
    ) -> dict[str, Any]:
        """修改 — change some fields; returns the fields that changed (nothing: no event)."""
        self._open("amended")
        unknown = sorted(set(changes) - set(AMENDABLE))
        if unknown:
            raise InvalidPlan(f"fields {unknown} cannot be amended; amendable: {AMENDABLE}")
        late = lateness(today, deadline, late_reason, "amend")
        merged = check_content(self.year, self.department, {**self.content(), **changes})
        changed = {k: v for k, v in merged.items() if v != getattr(self, k)}
        if changed:
            self._amended(changes=changed, late_reason=late)
        return changed

    @event("ProposalAmended")
    def _amended(self, changes: dict[str, Any], late_reason: str) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def withdraw(self, reason: str, *, today: date, deadline: date, late_reason: str = "") -> None:
        """撤回 — the department withdraws its proposal, with a reason."""
        self._open("withdrawn")
        if not reason.strip():
            raise InvalidPlan("a withdrawal gives its reason")
        late = lateness(today, deadline, late_reason, "withdraw")
        self._withdrawn(reason=reason.strip(), late_reason=late)

    @event("ProposalWithdrawn")
    def _withdrawn(self, reason: str, late_reason: str) -> None:
        self.status = "withdrawn"

    def absorb(self, plan_id: str, plan_number: str) -> None:
        """合并 — the office merged the proposal into a plan (once: absorbed, it is closed)."""
        self._open("merged into a plan")
        self._merged(plan_id=plan_id, plan_number=plan_number)

    @event("ProposalMerged")
    def _merged(self, plan_id: str, plan_number: str) -> None:
        self.status = "merged"
        self.plan_id = plan_id
        self.plan_number = plan_number


def check_mergeable(proposals: Sequence[Proposal]) -> None:
    """Proposals merged into one plan: at least one, each once, all of one year and region."""
    if not proposals:
        raise InvalidPlan("a plan is compiled from at least one proposal")
    ids = [p.id for p in proposals]
    if len(set(ids)) != len(ids):
        raise InvalidPlan("a proposal is named more than once")
    for p in proposals:
        p._open("merged into a plan")
    if len({(p.year, p.region) for p in proposals}) > 1:
        raise InvalidPlan("proposals of different years or regions cannot be merged")


def default_batch(proposals: Sequence[Proposal]) -> dict[str, Any]:
    """One batch for plans compiled without batches: a single proposal's own scope, timing
    and ratios; for merged ones, the scope they share, from the earliest proposed start to
    the latest end, at the higher of their ratios per class."""
    if len(proposals) == 1:
        p = proposals[0]
        pool, counts = p.pool, p.counts
    else:
        scope = overlap([p.pool for p in proposals])
        if scope is None:
            raise InvalidPlan(
                "the proposals' subject scopes do not overlap: give the plan's batches"
            )
        if len(scope.tags) > 1 or len(scope.flags) > 1:
            # One batch pool holds one any-of list: it would be wider than the overlap.
            raise InvalidPlan(
                "the proposals filter on different tags or lists: one pool cannot hold their "
                "overlap; give the plan's batches"
            )
        pool, counts = scope.as_pool(), {}
    ratios = {c: max(float(p.ratios[c]) for p in proposals) for c in CLASSES}
    return {
        "name": "第一批次",
        "pool": pool,
        "ratios": ratios,
        "counts": counts,
        "directed": any(pool.values()),
        "starts_on": min(p.starts_on for p in proposals),
        "ends_on": max(p.ends_on for p in proposals),
    }
