"""合并安排 — which proposals the office could merge (进一次门，查多项事).

Two proposals are worth merging when their subject scopes overlap and their methods are
close (002 第十二条: 对检查对象和检查方式等相近的，协调相关部门合并安排). The overlap of
scopes is worked out here, dimension by dimension; how many subjects lie in it only the
registry can say, so a suggestion is completed with the registry's count of the subjects
matching every member's pool at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Statuses never drawn (注销, 吊销, 撤销), as in the draw's pool.
CLOSED = ("deregistered", "revoked", "cancelled")
OPEN_STATUSES = ("operating", "moved_out")
# Proposals in one suggestion at most: the registry counts the overlap of at most 16 pools,
# and a joint inspection of more departments at one door is not one visit any more.
MAX_GROUP = 16
# Methods are close when they share at least this share of all the methods either names.
METHODS_CLOSE = 0.5
METHOD_NAMES = {
    "on_site": "实地核查",
    "documentary": "书面检查",
    "online": "网络检查",
    "sampling": "抽样检测",
    "expert": "委托专业机构",
    "other_department": "采信其他部门结论",
}


def _prefixes(a: Sequence[str], b: Sequence[str]) -> list[str] | None:
    """Region or industry prefixes matched by both lists (empty: no restriction); None
    when no code can match both."""
    if not a or not b:
        return sorted(set(a or b))
    both = {
        x if len(x) >= len(y) else y for x in a for y in b if x.startswith(y) or y.startswith(x)
    }
    return sorted(both) or None


def _values(a: Sequence[str], b: Sequence[str]) -> list[str] | None:
    if not a or not b:
        return sorted(set(a or b))
    both = sorted(set(a) & set(b))
    return both or None


def _statuses(values: Sequence[str]) -> list[str]:
    return sorted(set(values or ["operating"]) - set(CLOSED))


@dataclass(frozen=True)
class Overlap:
    """The scope two or more pools share: each dimension narrowed to what all admit.

    ``tags`` and ``flags`` stay one list per member (a subject must have one of each
    list), since "any of" filters do not narrow to one list.
    """

    region_prefixes: list[str]
    kinds: list[str]
    industries: list[str]
    risk_classes: list[str]
    statuses: list[str]
    tags: list[list[str]] = field(default_factory=list)
    flags: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The overlap as suggestions show it."""
        return {
            "region_prefixes": self.region_prefixes,
            "kinds": self.kinds,
            "industries": self.industries,
            "risk_classes": self.risk_classes,
            "statuses": self.statuses,
            "tags_all_of": self.tags,
            "flags_all_of": self.flags,
        }

    def as_pool(self) -> dict[str, list[str]]:
        """A single batch pool inside the overlap (the first tag and flag lists stand for
        all: the office narrows a batch further by hand if it needs every one)."""
        return {
            "region_prefixes": self.region_prefixes,
            "kinds": self.kinds,
            "industries": self.industries,
            "risk_classes": self.risk_classes,
            "tags": self.tags[0] if self.tags else [],
            "statuses": [] if self.statuses == ["operating"] else self.statuses,
            "flags": self.flags[0] if self.flags else [],
        }


def overlap(pools: Sequence[Mapping[str, Sequence[str]]]) -> Overlap | None:
    """The scope every pool admits, or None when the filters alone show there is none."""
    regions: list[str] | None = []
    kinds: list[str] | None = []
    industries: list[str] | None = []
    classes: list[str] | None = []
    statuses: list[str] | None = list(OPEN_STATUSES)
    for pool in pools:
        regions = (
            _prefixes(regions, pool.get("region_prefixes") or []) if regions is not None else None
        )
        kinds = _values(kinds, pool.get("kinds") or []) if kinds is not None else None
        industries = (
            _prefixes(industries, pool.get("industries") or []) if industries is not None else None
        )
        classes = _values(classes, pool.get("risk_classes") or []) if classes is not None else None
        admitted = _statuses(pool.get("statuses") or [])
        statuses = _values(statuses, admitted) if statuses and admitted else None
    if regions is None or kinds is None or industries is None or classes is None or not statuses:
        return None
    tags = sorted({tuple(sorted(p["tags"])) for p in pools if p.get("tags")})
    flags = sorted({tuple(sorted(p["flags"])) for p in pools if p.get("flags")})
    return Overlap(
        regions,
        kinds,
        industries,
        classes,
        statuses,
        [list(t) for t in tags],
        [list(f) for f in flags],
    )


def methods_closeness(a: Sequence[str], b: Sequence[str]) -> float:
    """Shared methods over all methods either names (Jaccard)."""
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 0.0


@dataclass
class Candidate:
    """A group of proposals whose scopes may overlap and whose methods are close."""

    members: list[Mapping[str, Any]]
    scope: Overlap
    methods: list[str]

    def reason(self, subjects: int) -> str:
        """Why merging is suggested, in the office's words."""
        shared = "、".join(METHOD_NAMES.get(m, m) for m in self.methods)
        departments = "、".join(dict.fromkeys(str(m["department"]) for m in self.members))
        return (
            f"{departments}拟发起的抽查检查对象范围重叠（重叠范围内检查对象 {subjects} 户），"
            f"检查方式相近（共同方式：{shared}），建议合并安排，进一次门、查多项事"
        )


def candidates(proposals: Sequence[Mapping[str, Any]]) -> list[Candidate]:
    """Groups of open proposals worth counting, greedily: each proposal, in the order
    given, starts a group or joins the first group whose common scope it overlaps and
    whose every member's methods are close to its own. Proposals of one department merge
    with others' (a department's own proposals need no joint-meeting office).

    Each proposal is a mapping with ``id``, ``department``, ``pool`` and ``methods``.
    """
    groups: list[Candidate] = []
    singles: list[Mapping[str, Any]] = []
    for proposal in proposals:
        joined = False
        for group in groups:
            if len(group.members) >= MAX_GROUP:
                continue
            if any(m["department"] == proposal["department"] for m in group.members):
                continue
            if any(
                methods_closeness(m["methods"], proposal["methods"]) < METHODS_CLOSE
                for m in group.members
            ):
                continue
            scope = overlap([*(m["pool"] for m in group.members), proposal["pool"]])
            if scope is not None:
                group.members.append(proposal)
                group.scope = scope
                group.methods = sorted(set(group.methods) & set(proposal["methods"]))
                joined = True
                break
        if joined:
            continue
        for n, other in enumerate(singles):
            if other["department"] == proposal["department"]:
                continue
            if methods_closeness(other["methods"], proposal["methods"]) < METHODS_CLOSE:
                continue
            scope = overlap([other["pool"], proposal["pool"]])
            if scope is not None:
                groups.append(
                    Candidate(
                        [other, proposal],
                        scope,
                        sorted(set(other["methods"]) & set(proposal["methods"])),
                    )
                )
                del singles[n]
                joined = True
                break
        if not joined:
            singles.append(proposal)
    return groups
