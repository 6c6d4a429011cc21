"""Inspector groups (抽取执法检查人员) and replacements (递补), protocol ``ssj-draw-2``.

Subjects get their groups in selection order. A group has seats: the leader's seat for the
initiating department, one seat for each participating department, then more seats for
the initiating department until the group has ``min_group_size`` people. For each seat,
the eligible inspectors are those of the seat's department who pass every rule of
:data:`RULES`; among them the least loaded (fewest seats so far in this draw) are taken,
sorted by inspector id, and one is picked with ``below(len)`` on the stream
``inspectors`` (one stream for the whole draw, used in seat order). Because the least
loaded is always taken, no inspector ends more than one group above the least loaded
eligible one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.draw.protocol.stream import Stream

# The rules in the order they are applied; an impossible seat names the first rule that
# left nobody.
RULES = (
    "department",  # an active inspector of the seat's department (on the frozen roster)
    "qualification",  # qualified for every item category of that department's items
    "jurisdiction",  # jurisdiction (province, city or county code) covers the subject
    "cross_jurisdiction",  # 所所交叉: not of the unit that routinely supervises the subject
    "conflict_of_interest",  # 回避: no declared relation with the subject
    "previous_inspector",  # did not inspect the same subject last time
    "group_size",  # not already in this group
    "replaced",  # not replaced out of this group before
)


class NoValidGroup(ValueError):
    """No inspector can take a seat; ``rule`` is the rule that left nobody."""

    def __init__(self, identifier: str, department: str, rule: str) -> None:
        self.identifier, self.department, self.rule = identifier, department, rule
        super().__init__(
            f"no valid inspector group for subject {identifier}: no inspector of "
            f"{department} is left after rule '{rule}'"
        )


# Seats a group may have, far above any plan's (the planner allows 20).
MAX_GROUP_SEATS = 1000


@dataclass(frozen=True)
class Examiner:
    """An inspector on the frozen roster (执法检查人员)."""

    inspector_id: str
    department: str
    jurisdiction: str
    unit: str
    categories: tuple[str, ...]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Examiner:
        """From ``[inspector_id, department, jurisdiction, unit, [categories]]``."""
        return cls(str(row[0]), str(row[1]), str(row[2]), str(row[3]), tuple(row[4]))


@dataclass(frozen=True)
class Target:
    """A selected subject as the groups need it."""

    identifier: str
    region_code: str
    unit: str


@dataclass
class Seat:
    """One seat of a group: the department it is for and the role it carries."""

    department: str
    role: str


def jurisdiction_prefix(code: str) -> str:
    """The region prefix a jurisdiction covers: 420000 → 42, 420200 → 4202, 420202 → 420202."""
    prefix = code
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return prefix


def covers(jurisdiction: str, region_code: str) -> bool:
    """Whether a jurisdiction includes a subject's region."""
    return region_code.startswith(jurisdiction_prefix(jurisdiction))


@dataclass
class GroupDrawer:
    """Draws seats from a frozen roster; keeps each inspector's load within the draw."""

    roster: Sequence[Examiner]
    departments: Sequence[Mapping[str, Any]]  # [{"department", "categories"}], initiating first
    min_group_size: int = 2
    cross_jurisdiction: bool = False
    avoid_previous: bool = True
    conflicts: frozenset[tuple[str, str]] = frozenset()
    previous: frozenset[tuple[str, str]] = frozenset()
    load: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.min_group_size < 2:
            raise ValueError("a group has at least two inspectors")
        if self.min_group_size > MAX_GROUP_SEATS:
            # A forged proof's absurd size would make the verifier add seats until it runs
            # out of memory (plans allow 20; a roster too small is the draw's own error).
            raise ValueError(f"a group has at most {MAX_GROUP_SEATS} seats")
        if not self.departments:
            raise ValueError("the initiating department is missing")
        self.load = {e.inspector_id: 0 for e in self.roster}
        self._seats = self.seats()
        self._categories = {d["department"]: frozenset(d["categories"]) for d in self.departments}
        # department → jurisdiction prefix → qualified inspectors: the fast path.
        self._index: dict[str, dict[str, list[Examiner]]] = {}
        for e in sorted(self.roster, key=lambda e: e.inspector_id):
            if self._categories.get(e.department, frozenset()) <= set(e.categories):
                by_prefix = self._index.setdefault(e.department, {})
                by_prefix.setdefault(jurisdiction_prefix(e.jurisdiction), []).append(e)
        # (department, region) → qualified inspectors covering it, sorted by id.
        self._covering: dict[tuple[str, str], list[Examiner]] = {}
        self._conflicts: dict[str, set[str]] = {}
        for inspector_id, identifier in self.conflicts:
            self._conflicts.setdefault(identifier, set()).add(inspector_id)
        self._previous: dict[str, set[str]] = {}
        for inspector_id, identifier in self.previous:
            self._previous.setdefault(identifier, set()).add(inspector_id)

    def seats(self) -> list[Seat]:
        """The seats every group has, leader first."""
        initiating = self.departments[0]["department"]
        seats = [Seat(initiating, "leader")]
        seats += [Seat(d["department"], "member") for d in self.departments[1:]]
        while len(seats) < self.min_group_size:
            seats.append(Seat(initiating, "member"))
        return seats

    def eligible(
        self, department: str, target: Target, taken: set[str], replaced: set[str]
    ) -> list[Examiner]:
        """Inspectors who may take a seat of ``department`` for ``target``, sorted by id."""
        ident = target.identifier
        covering = self._covering_of(department, target.region_code)
        excluded = taken | replaced | self._barred(ident)
        unit = target.unit if self.cross_jurisdiction else None
        found = [
            e for e in covering if e.inspector_id not in excluded and (not unit or e.unit != unit)
        ]
        if not found:
            rule = self._culprit(department, target, taken, replaced)
            raise NoValidGroup(ident, department, rule)
        return found

    def _barred(self, identifier: str) -> set[str]:
        """Inspectors who may not inspect this subject: conflicts of interest, and last
        time's inspectors when that rule is on."""
        barred = self._conflicts.get(identifier, set())
        if self.avoid_previous:
            barred = barred | self._previous.get(identifier, set())
        return barred

    def _covering_of(self, department: str, region: str) -> list[Examiner]:
        """Qualified inspectors of ``department`` whose jurisdiction covers ``region``,
        sorted by id (worked out once per department and region)."""
        covering = self._covering.get((department, region))
        if covering is None:
            by_prefix = self._index.get(department, {})
            covering = sorted(
                (
                    e
                    for p in dict.fromkeys((region[:2], region[:4], region[:6]))
                    for e in by_prefix.get(p, ())
                ),
                key=lambda e: e.inspector_id,
            )
            self._covering[(department, region)] = covering
        return covering

    def _culprit(self, department: str, target: Target, taken: set[str], replaced: set[str]) -> str:
        """The first rule after which nobody of ``department`` is left (slow, only on failure)."""
        wanted = self._categories.get(department, frozenset())
        checks = (
            ("department", lambda e: e.department == department),
            ("qualification", lambda e: wanted <= set(e.categories)),
            ("jurisdiction", lambda e: covers(e.jurisdiction, target.region_code)),
            (
                "cross_jurisdiction",
                lambda e: not (self.cross_jurisdiction and target.unit and e.unit == target.unit),
            ),
            (
                "conflict_of_interest",
                lambda e: (e.inspector_id, target.identifier) not in self.conflicts,
            ),
            (
                "previous_inspector",
                lambda e: (
                    not (
                        self.avoid_previous and (e.inspector_id, target.identifier) in self.previous
                    )
                ),
            ),
            ("group_size", lambda e: e.inspector_id not in taken),
            ("replaced", lambda e: e.inspector_id not in replaced),
        )
        left: Iterable[Examiner] = self.roster
        for rule, keep in checks:
            left = [e for e in left if keep(e)]
            if not left:
                return rule
        return RULES[-1]

    def pick(self, stream: Stream, candidates: Sequence[Examiner]) -> Examiner:
        """The least loaded candidate; ties broken by the stream."""
        least = min(self.load[e.inspector_id] for e in candidates)
        ties = [e for e in candidates if self.load[e.inspector_id] == least]
        chosen = ties[stream.below(len(ties))]
        self.load[chosen.inspector_id] += 1
        return chosen

    def group(self, stream: Stream, target: Target) -> list[dict[str, str]]:
        """Draw one subject's whole group.

        The same as :meth:`eligible` then :meth:`pick` for each seat, in one pass over the
        covering inspectors (the hot loop of a province-wide draw).
        """
        members: list[dict[str, str]] = []
        taken: set[str] = set()
        ident, load = target.identifier, self.load
        excluded = self._barred(ident)
        unit = target.unit if self.cross_jurisdiction else ""
        for seat in self._seats:
            least = -1
            ties: list[Examiner] = []
            for e in self._covering_of(seat.department, target.region_code):
                i = e.inspector_id
                if i in taken or i in excluded or (unit and e.unit == unit):
                    continue
                n = load[i]
                if n == least:
                    ties.append(e)
                elif n < least or least < 0:
                    least, ties = n, [e]
            if not ties:
                rule = self._culprit(seat.department, target, taken, set())
                raise NoValidGroup(ident, seat.department, rule)
            chosen = ties[stream.below(len(ties))]
            load[chosen.inspector_id] += 1
            taken.add(chosen.inspector_id)
            members.append(
                {
                    "inspector_id": chosen.inspector_id,
                    "department": chosen.department,
                    "role": seat.role,
                }
            )
        return members

    def release(self, inspector_ids: Iterable[str]) -> None:
        """Give back the seats of inspectors who leave a group."""
        for inspector_id in inspector_ids:
            self.load[inspector_id] -= 1
