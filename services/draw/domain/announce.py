"""公告 — freezing a batch's pool and roster into the announcement of protocol ssj-draw-3."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from services.draw.domain.errors import InvalidDraw, PoolEmpty
from services.draw.keyed import keyed_members, sort_members
from services.draw.protocol.blinding import Trees, private_hash, public_announcement
from services.draw.protocol.canonical import (
    FULL_LIST,
    PROTOCOL,
    RFC3797_SELECTION,
    SHA256_SELECTION,
    STRATA,
    announcement_hash,
    field,
    pool_line,
    pool_text_hash,
    sort_pool,
)
from services.draw.protocol.rfc3797 import MAX_POOL
from services.draw.protocol.subjects import stratum_count
from services.draw.protocol.v3 import replacement_cap as protocol_cap


@dataclass(frozen=True)
class PoolSubject:
    """检查对象 — a subject as the draw's pool sees it."""

    subject_id: str
    identifier: str
    name: str
    region_code: str
    risk_class: str
    supervising_unit: str = ""
    full_list: bool = False  # on the batch's 100 % list (全覆盖)


@dataclass(frozen=True)
class RosterEntry:
    """执法检查人员 — an active inspector as the roster freezes them."""

    inspector_id: str
    name: str
    department: str
    jurisdiction: str
    unit: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class FrozenPool:
    """The canonical pool text, as the snapshot stores it; split into lines only when read."""

    text: str  # the pool's lines joined by LF (what pool_hash hashes)

    @classmethod
    def of(cls, lines: Sequence[str]) -> FrozenPool:
        """From lines in canonical order."""
        return cls("\n".join(lines))

    @cached_property
    def lines(self) -> list[str]:
        """The pool's lines, in canonical order."""
        return self.text.split("\n") if self.text else []

    @property
    def digest(self) -> str:
        """pool_hash of the lines."""
        return pool_text_hash(self.text)


# identifiers → {identifier: (subject_id, name)}: who the drawn subjects are, for the events
# (the pool's lines carry only what the draw depends on).
Directory = Callable[[Sequence[str]], Mapping[str, tuple[str, str]]]


@dataclass(frozen=True)
class FrozenDraw:
    """What an announcement fixed, as kept in the content-addressed store: the announcement
    itself, the frozen pool and the roster's names; and where to look up the drawn subjects'
    ids and names."""

    announcement: Mapping[str, Any]  # the full one: what the draw is computed from
    names: Mapping[str, str]
    pool: FrozenPool
    directory: Directory
    # ssj-draw-3: the public announcement (whose hash the seed binds) and the blinding key
    # that derives it from the full one; None for a draw announced before (the public
    # announcement was the full one).
    public: Mapping[str, Any] | None = None
    blinding_key: bytes | None = None
    # The strata's keyed order when the caller has it at hand (the trees it keeps).
    keyed: dict[str, list[int]] | None = None

    @property
    def published(self) -> Mapping[str, Any]:
        """The announcement as published."""
        return self.public if self.public is not None else self.announcement

    @property
    def announced(self) -> str:
        """The published announcement's hash (what the seed binds)."""
        return announcement_hash(self.published)

    def members(self) -> dict[str, list[int]] | None:
        """Each stratum's line indexes in the order the draw samples from: keyed by the
        blinding key (ssj-draw-3), or None for pool order (announced before)."""
        if self.blinding_key is None:
            return None
        if self.keyed is not None:
            return self.keyed
        return keyed_members(self.pool.lines, self.blinding_key)

    def intact(self) -> bool:
        """Whether the full announcement is the one the public one committed to."""
        if self.public is None or self.blinding_key is None:
            return self.public is None
        return private_hash(self.announcement, self.blinding_key) == self.public.get("private_hash")


def blind(full: Mapping[str, Any], pool: FrozenPool, key: bytes) -> tuple[dict[str, Any], Trees]:
    """The public announcement of a full one (ssj-draw-3): the strata's Merkle roots over
    salted leaves, unit tokens, the commitment to the full one; and the trees, which the
    proofs open leaves of. ``key`` is the blinding key: 32 random bytes, fresh for every
    announcement (CSPRNG), kept with the full announcement."""
    trees = Trees(full, pool.lines, key, sort_members)
    return public_announcement(full, key, trees.roots()), trees


def freeze_pool(subjects: Iterable[PoolSubject]) -> FrozenPool:
    """Canonical pool of protocol ssj-draw-3 (one line per subject, sorted by identifier)."""
    lines = sort_pool(
        dict.fromkeys(
            pool_line(
                s.identifier,
                FULL_LIST if s.full_list else s.risk_class,
                s.region_code,
                s.supervising_unit,
            )
            for s in subjects
        )
    )
    if not lines:
        raise PoolEmpty("no subject matches the batch's pool filter")
    return FrozenPool.of(lines)


def directory_of(subjects: Iterable[PoolSubject]) -> Directory:
    """A :data:`Directory` over subjects in memory."""
    known = {field(s.identifier): (s.subject_id, field(s.name)) for s in subjects}

    def look_up(identifiers: Sequence[str]) -> Mapping[str, tuple[str, str]]:
        return {i: known[i] for i in identifiers if i in known}

    return look_up


def strata_of(batch: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each credit-risk class to draw: a fixed count or the ratio as a decimal string."""
    classes = list(batch["pool"].get("risk_classes") or STRATA)
    counts = batch.get("counts") or {}
    ratios = batch.get("ratios") or {}
    strata: dict[str, dict[str, Any]] = {}
    for risk_class in classes:
        if risk_class in counts:
            strata[risk_class] = {"count": int(counts[risk_class])}
        elif risk_class in ratios:
            strata[risk_class] = {"ratio": repr(float(ratios[risk_class]))}
    return strata


def departments_of(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Seats of every group: the initiating department first, then each participating
    department, with the item categories its inspectors must be qualified for."""
    out = []
    for department in [batch["initiating_department"], *batch["participating_departments"]]:
        categories = sorted(
            {i["category"] for i in batch["items"] if i["department"] == department}
        )
        out.append({"department": department, "categories": categories})
    return out


def build_announcement(
    *,
    draw_id: str,
    attempt: int = 1,
    batch: Mapping[str, Any],
    pool_hash: str,
    pool_size: int,
    roster: Sequence[RosterEntry],
    conflicts: Iterable[tuple[str, str]],
    previous: Iterable[tuple[str, str]],
    commitment: str,
    entropy: Mapping[str, Any],
    announced_at: str,
    selection: str = SHA256_SELECTION,
    strata_sizes: Mapping[str, int] | None = None,
    pool_spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The announcement: everything the draw depends on, fixed before the entropy is known.

    ``conflicts`` and ``previous`` are (inspector id, subject identifier) pairs about
    subjects of the pool; only those of inspectors on the roster are kept. ``entropy`` names
    the registered source, its issue and draw time and the shape of its numbers
    (:func:`services.draw.domain.sources.EntropySource.spec`); the draw time is the
    announcement's ``entropy_not_before``. ``selection`` ``rfc3797`` draws the subjects by
    RFC 3797 from the source's numbers (each group one source); ``strata_sizes`` (members
    per class) lets its limits be checked now.
    """
    strata = strata_of(batch)
    if selection not in (SHA256_SELECTION, RFC3797_SELECTION):
        raise InvalidDraw(f"selection must be {SHA256_SELECTION} or {RFC3797_SELECTION}")
    if selection == RFC3797_SELECTION and strata_sizes is not None:
        _check_rfc3797(strata, strata_sizes)
    on_roster = {r.inspector_id for r in roster}

    def pairs(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return sorted({(i, s) for i, s in rows if i in on_roster})

    return {
        "protocol": PROTOCOL,
        "draw_id": draw_id,
        "attempt": attempt,
        "batch_id": batch["batch_id"],
        "plan_id": batch["plan_id"],
        "pool_hash": pool_hash,
        "pool_size": pool_size,
        "strata": strata,
        "departments": departments_of(batch),
        "min_group_size": int(batch.get("min_group_size", 2)),
        "rules": {
            "cross_jurisdiction": bool(batch.get("cross_jurisdiction", False)),
            "avoid_previous_inspectors": bool(batch.get("avoid_previous_inspectors", True)),
        },
        "roster": [
            [r.inspector_id, r.department, r.jurisdiction, field(r.unit), sorted(r.categories)]
            for r in sorted(roster, key=lambda r: r.inspector_id)
        ],
        "conflicts": [list(p) for p in pairs(conflicts)],
        "previous": [list(p) for p in pairs(previous)],
        "commitment": commitment,
        "max_replacements": replacement_cap(strata, strata_sizes),
        "pool_spec": dict(pool_spec) if pool_spec is not None else explain_pool(batch),
        "entropy": dict(entropy),
        "entropy_not_before": entropy["scheduled_at"],
        "announced_at": announced_at,
        # Absent for the default, so announcements of the default selection stay as they were.
        **({"selection": selection} if selection != SHA256_SELECTION else {}),
    }


def replacement_cap(
    strata: Mapping[str, Mapping[str, Any]], sizes: Mapping[str, int] | None
) -> int:
    """How many replacements the draw allows (the protocol's rule, announced, so nobody
    raises it later): from the subjects it will select."""
    expected = sum(
        stratum_count(int((sizes or {}).get(s, 0)), rule) for s, rule in strata.items()
    ) + int((sizes or {}).get(FULL_LIST, 0))
    return protocol_cap(expected)


POOL_FILTERS = (
    "region_prefixes",
    "kinds",
    "industries",
    "tags",
    "statuses",
    "flags",
    "risk_classes",
)


def explain_pool(
    batch: Mapping[str, Any],
    excluded: Iterable[Sequence[str]] = (),
    registry_position: Mapping[str, Any] | None = None,
    overlaps: Iterable[Sequence[Any]] = (),
) -> dict[str, Any]:
    """How the pool was made (ssj-draw-3), so anyone can see what it was meant to hold:
    the year, the filters, the items, whether the same-year rule was waived (complaint /
    referral), the 100 % list, where the draw's copy of the registry stood when the pool
    was frozen, and every subject the filters matched that a rule kept out, with the
    rule and the draw that drew it; and the open draws (announced, neither executed nor
    voided) whose pools share subjects with this one, with how many."""
    spec = batch.get("pool") or {}
    return {
        "year": int(batch["year"]),
        "filters": {k: sorted(str(v) for v in spec.get(k) or []) for k in POOL_FILTERS},
        "items": sorted(
            ({"code": str(i["code"]), "category": str(i["category"])} for i in batch["items"]),
            key=lambda i: i["code"],
        ),
        "complaint_referral": bool(batch.get("complaint_referral", False)),
        "full_list": sorted(str(i) for i in batch.get("full_list") or []),
        "registry_position": dict(registry_position or {"stream_seq": 0, "event_id": ""}),
        "excluded": sorted(list(map(str, row)) for row in excluded),
        "overlaps": sorted([str(d), int(n)] for d, n in overlaps),
    }


def _check_rfc3797(strata: Mapping[str, Mapping[str, Any]], sizes: Mapping[str, int]) -> None:
    """RFC 3797's two-byte round counter: at most 65 535 members in a stratum drawn from
    and 65 536 rounds in all."""
    rounds = 0
    for stratum, rule in strata.items():
        size = int(sizes.get(stratum, 0))
        count = stratum_count(size, rule)
        if count and size > MAX_POOL:
            raise InvalidDraw(
                f"stratum {stratum} has {size} subjects; RFC 3797 draws from at most "
                f"{MAX_POOL}: narrow the pool or use the default selection"
            )
        rounds += count
    if rounds > MAX_POOL + 1:
        raise InvalidDraw(
            f"RFC 3797 draws at most {MAX_POOL + 1} subjects; this batch needs {rounds}"
        )


def summarise(announcement: Mapping[str, Any]) -> dict[str, Any]:
    """What ``DrawAnnounced`` carries of the announcement: everything but the long lists
    (roster and exclusions, which only the hash-pinned document holds), with their sizes."""
    summary = {
        k: v for k, v in announcement.items() if k not in ("roster", "conflicts", "previous")
    }
    for key in ("roster", "conflicts", "previous"):  # a public v3 one has no pairs
        if key in announcement:
            summary[f"{key}_size"] = len(announcement[key])
    spec = announcement.get("pool_spec")
    if spec is not None:  # the two lists that grow with the pool: their sizes only
        summary["pool_spec"] = {
            **{k: v for k, v in spec.items() if k not in ("full_list", "excluded")},
            "full_list_size": len(spec["full_list"]),
            "excluded_size": len(spec["excluded"]),
        }
    return summary
