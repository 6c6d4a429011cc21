"""Stratified selection of subjects (抽取检查对象) and inspector groups (抽取执法检查人员)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.draw.domain.errors import NoValidGroup, PoolEmpty
from services.draw.domain.sampling import Sha256Stream, pool_hash, sample


@dataclass(frozen=True)
class Candidate:
    """A subject in the frozen pool (检查对象)."""

    subject_id: str
    identifier: str
    name: str
    region_code: str
    risk_class: str

    def canonical(self) -> str:
        """The line this subject contributes to the pool hash."""
        return f"{self.identifier}|{self.risk_class}|{self.region_code}"


@dataclass(frozen=True)
class Examiner:
    """An inspector who may be drawn (执法检查人员)."""

    inspector_id: str
    name: str
    department: str
    region_code: str
    categories: tuple[str, ...]


def stratum_count(pool_size: int, ratio: float) -> int:
    """Subjects to draw from a stratum: the ratio rounded up, so a non-empty stratum with a
    positive ratio is never skipped, and never more than the stratum holds."""
    if pool_size == 0 or ratio <= 0:
        return 0
    return min(pool_size, math.ceil(pool_size * ratio - 1e-9))


def select_subjects(
    seed: bytes, pool: Sequence[Candidate], ratios: Mapping[str, float]
) -> tuple[list[Candidate], dict[str, dict[str, float]], str]:
    """Draw each risk-class stratum with its own sub-stream; return (selection, strata, hash)."""
    if not pool:
        raise PoolEmpty("no subject matches the batch's pool filter")
    ordered = sorted(pool, key=lambda c: c.identifier)
    selection: list[Candidate] = []
    strata: dict[str, dict[str, float]] = {}
    for risk_class in sorted(ratios):
        members = [c for c in ordered if c.risk_class == risk_class]
        count = stratum_count(len(members), ratios[risk_class])
        strata[risk_class] = {"pool": len(members), "ratio": ratios[risk_class], "count": count}
        selection += sample(Sha256Stream(seed, f"subjects:{risk_class}"), members, count)
    return selection, strata, pool_hash([c.canonical() for c in ordered])


def covers(jurisdiction: str, region_code: str) -> bool:
    """Whether an inspector's GB/T 2260 jurisdiction (province 420000, city 420200 or county
    420202) includes the subject's region."""
    prefix = jurisdiction
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return region_code.startswith(prefix)


def draw_groups(
    seed: bytes,
    subjects: Sequence[Candidate],
    examiners: Sequence[Examiner],
    initiating: str,
    participating: Sequence[str],
    categories: set[str],
    conflicts: frozenset[tuple[str, str]] = frozenset(),
) -> list[dict[str, object]]:
    """One group per subject: a leader from the initiating department and a member from each
    participating department (a second initiating-department inspector when there is none).

    Nobody with an active conflict-of-interest record (回避关系, pairs of inspector id and
    subject id in ``conflicts``) is drawn for that subject. Among the eligible, the least
    loaded are preferred and ties are broken by the seeded
    stream, which spreads work evenly and keeps the draw reproducible.
    """
    stream = Sha256Stream(seed, "inspectors")
    load: dict[str, int] = {e.inspector_id: 0 for e in examiners}
    ordered = sorted(examiners, key=lambda e: e.inspector_id)
    seats = [initiating, *participating] if participating else [initiating, initiating]
    groups: list[dict[str, object]] = []
    for subject in subjects:
        chosen: list[Examiner] = []
        for department in seats:
            eligible = [
                e
                for e in ordered
                if e.department == department
                and e not in chosen
                and covers(e.region_code, subject.region_code)
                and categories <= set(e.categories)
                and (e.inspector_id, subject.subject_id) not in conflicts
            ]
            if not eligible:
                raise NoValidGroup(
                    f"no eligible inspector of {department} for subject {subject.identifier} "
                    f"(region {subject.region_code}, categories {sorted(categories)}): "
                    "check jurisdiction, qualification, status and conflicts of interest"
                )
            least = min(load[e.inspector_id] for e in eligible)
            lightest = [e for e in eligible if load[e.inspector_id] == least]
            pick = lightest[stream.below(len(lightest))]
            load[pick.inspector_id] += 1
            chosen.append(pick)
        groups.append(
            {
                "subject_id": subject.subject_id,
                "inspectors": [
                    {
                        "inspector_id": e.inspector_id,
                        "name": e.name,
                        "department": e.department,
                        "role": "leader" if i == 0 else "member",
                    }
                    for i, e in enumerate(chosen)
                ],
            }
        )
    return groups
