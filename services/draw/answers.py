"""Answers of the draw service's API: what a route sends, field by field (the OpenAPI
document declares them; FastAPI checks the answers routes return as dicts against them).

The draw, its proof and the full proof go out as prepared JSON (``api._json``: tens of
thousands of subjects are too slow through FastAPI's encoder), so their models are
declared and not applied; ``make fuzz`` holds those answers to them. The announcement, the
proofs' documents and a replacement request are the protocol's own forms
(docs/draw-protocol.md): declared here down to what the service adds, the protocol's
inner parts as objects.

Keys only some records carry (a stratum is drawn by count or by ratio; a voided draw's
reason in staff's words is for internal readers) are optional fields, and the routes leave
unset fields out (``response_model_exclude_unset``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from libs.common.answers import Answer

# -- entropy sources 公开随机源 -------------------------------------------------------


class NumberGroup(Answer):
    """One group of a source's numbers."""

    name: str
    count: int
    low: int
    high: int
    ordered: bool


class NumberFormat(Answer):
    """The shape of a source's numbers."""

    groups: list[NumberGroup]


class SourceSchedule(Answer):
    """When the source draws, in Beijing time: ISO weekdays and HH:MM."""

    days: list[int]
    time: str


class SourceView(Answer):
    """A source of public entropy as registered."""

    code: str
    name: str
    publisher: str
    format: NumberFormat
    schedule: SourceSchedule | None = Field(description="null: drawn when announced (现场摇号)")
    registered_at: str


class Drawing(Answer):
    """A drawing of a source, as an announcement names it (its ``entropy``)."""

    source: str
    name: str
    issue: str
    scheduled_at: str
    format: NumberFormat


class SourceNumbers(Answer):
    """A drawing's numbers in the source's canonical text."""

    source: str
    numbers: str


# -- a draw --------------------------------------------------------------------------


class Voided(Answer):
    """Why and when the draw was voided; ``reason`` (staff's words) for internal readers."""

    reason_code: str
    reason_text: str
    voided_at: str
    reason: str | None = None


class StratumRoot(Answer):
    """A stratum of the pool: its size and Merkle root."""

    size: int
    root: str


class StratumRule(Answer):
    """How many of a credit-risk class are drawn: a fixed ``count`` or a ``ratio``
    (a decimal string)."""

    count: int | None = None
    ratio: str | None = None


class Seat(Answer):
    """A department's seat in every group, and the item categories it must cover."""

    department: str
    categories: list[str]


class PoolItem(Answer):
    """An item the pool was made for."""

    code: str
    category: str


class PoolSpec(Answer):
    """How the pool was made (ssj-draw-3), its long lists as their sizes."""

    year: int
    filters: dict[str, list[str]]
    items: list[PoolItem]
    complaint_referral: bool
    registry_position: dict[str, Any] = Field(description="where the registry copy stood")
    overlaps: list[tuple[str, int]] = Field(description="open draws sharing subjects: [id, n]")
    full_list_size: int
    excluded_size: int


class Execution(Answer):
    """抽取: the secret revealed, the entropy, the seed and what was drawn."""

    algorithm: str
    executed_at: str
    secret: str
    entropy: str
    seed: str
    commitment: str
    announcement_hash: str
    pool_hash: str | None = Field(description="internal readers; null for others")
    pool_size: int
    strata: dict[str, dict[str, int]]
    selected: int


class DrawSummary(Answer):
    """A draw's announcement and state (公告)."""

    id: str
    version: int
    batch_id: str
    plan_id: str
    batch_name: str
    attempt: int
    status: Literal["announced", "executed", "voided", "overdue"]
    voided: Voided | None
    announced_at: str
    announcement_hash: str
    protocol: str
    selection: str
    pool_hash: str | None = Field(description="internal readers; null for others")
    pool_roots: dict[str, StratumRoot] | None = Field(description="ssj-draw-3: per stratum")
    pool_size: int
    strata: dict[str, StratumRule]
    departments: list[Seat]
    min_group_size: int
    rules: dict[str, bool]
    roster_size: int
    conflicts_size: int
    previous_size: int
    commitment: str
    entropy: Drawing | None = Field(description="ssj-draw-3: the drawing that completes it")
    pool_spec: PoolSpec | None
    entropy_source: str
    entropy_not_before: str | None
    executed: Execution | None


class GroupMember(Answer):
    """An inspector of a group, with the name the roster froze."""

    inspector_id: str
    department: str
    role: str
    name: str


class DrawnSubject(Answer):
    """A drawn subject and its inspection group, replacements applied."""

    subject_id: str
    identifier: str
    name: str
    region_code: str
    stratum: str
    risk_class: str
    inspectors: list[GroupMember]


class DrawView(DrawSummary):
    """The draw as it stands: the subjects and groups, and the replacements."""

    subjects: list[DrawnSubject]
    replacements: list[dict[str, Any]] = Field(
        description="each request (public readers: its public form) with what it drew"
    )


class Member(Answer):
    """A group member as the protocol writes it."""

    inspector_id: str
    department: str
    role: str


class ReplacementOutcome(Answer):
    """递补 as the protocol writes it: an inspector's seat (``replaced``, ``replacement``
    the newcomer) or a subject (``replacement`` the alternate, its stratum and group)."""

    sequence: int
    kind: Literal["inspector", "subject"]
    identifier: str
    replaced: str | None = None
    replacement: Member | str
    stratum: str | None = None
    group: list[Member] | None = None


class BatchDraws(Answer):
    """A batch's draws, first attempt first."""

    batch_id: str
    draws: list[str]


class ChainCheck(Answer):
    """The draw's hash chain recomputed."""

    id: str
    intact: bool
    problems: list[str]
    checked_on: str


# -- proofs (docs/draw-protocol.md §10) ------------------------------------------------


class LeafOpening(Answer):
    """A pool line's leaf opened: position, salt, line and Merkle path."""

    position: int
    salt: str
    line: str
    path: list[str]


class PublicProof(Answer):
    """Everything needed to verify a draw. ssj-draw-3: the leaves the draw used, opened
    (``opened``); a draw announced before it: the whole pool (``pool``). Before execution
    the secret, entropy, execution time and result are null."""

    announcement: dict[str, Any]
    announcement_hash: str
    opened: dict[str, list[LeafOpening]] | None = None
    pool: str | None = None
    secret: str | None
    entropy: str | None
    executed_at: str | None
    replacements: list[dict[str, Any]]
    result: dict[str, Any] | None


class FullProof(Answer):
    """The public proof's announcement with the full one, the blinding key and the whole
    pool (a draw announced before ssj-draw-3: its public proof, which is full)."""

    announcement: dict[str, Any]
    announcement_hash: str
    full_announcement: dict[str, Any] | None = None
    blinding_key: str | None = None
    pool: str
    secret: str | None
    entropy: str | None
    executed_at: str | None
    replacements: list[dict[str, Any]]
    result: dict[str, Any] | None


class LineProof(Answer):
    """A subject's own leaf opened against the public announcement."""

    announcement: dict[str, Any]
    announcement_hash: str
    stratum: str
    opened: LeafOpening
