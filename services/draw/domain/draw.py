"""抽查 draw — one batch's verifiable draw: announced, executed once, replacements appended.

Events (all on one hash-chained stream per draw):
``DrawAnnounced`` (pool and roster frozen, secret committed, public entropy named),
``DrawExecuted`` (secret revealed, seed, strata, counts), then ``SubjectsDrawn`` in parts of
at most :data:`PART_SIZE` subjects with their inspector groups and at most
:data:`PART_BYTES` of JSON each (so no message grows past what a JetStream message may
carry, however long the names), then any ``InspectorReplaced`` / ``SubjectReplaced``
(递补).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.draw import sampling as vectorised
from services.draw.domain import draw_views as reading
from services.draw.domain.announce import FrozenDraw
from services.draw.domain.draw_parts import (
    OVERDUE_AFTER,
    PART_BYTES,
    PART_SIZE,
    draw_id,
    entropy_label,
    evidence_of,
    look_up,
    member,
    split_parts,
)
from services.draw.domain.errors import (
    AlreadyExecuted,
    CommitmentMismatch,
    DrawVoided,
    EntropyNotYetAvailable,
    InvalidDraw,
    InvalidEntropy,
    InvalidReplacement,
    NotExecuted,
    NoValidGroup,
    TooLateToVoid,
)
from services.draw.keyed import sort_members
from services.draw.protocol import forms
from services.draw.protocol.blinding import Trees
from services.draw.protocol.canonical import (
    PROTOCOL_V3,
    RFC3797_SELECTION,
    commitment,
    field,
)
from services.draw.protocol.entropy import EntropyError, canonical_text, parse_numbers
from services.draw.protocol.proof import ReplacementError, compute, pool_problems
from services.draw.protocol.reasons import VOID_REASONS, public_request, reason_problem
from services.draw.protocol.replace3 import RegistryFacts
from services.draw.protocol.rfc3797 import parse_sources
from services.draw.protocol.v3 import entropy_spec

__all__ = [
    "OVERDUE_AFTER",
    "PART_BYTES",
    "PART_SIZE",
    "Draw",
    "draw_id",
    "entropy_label",
    "split_parts",
]


class Draw(Aggregate):
    """抽取 — a batch's draw of subjects and inspector groups."""

    @staticmethod
    def create_id(batch_id: str, attempt: int = 1, **_: Any) -> uuid.UUID:
        return draw_id(batch_id, attempt)

    @event("DrawAnnounced")
    def __init__(
        self,
        batch_id: str,
        plan_id: str,
        year: int,
        batch_name: str,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        ends_on: str,
        announcement_hash: str,
        summary: dict[str, Any],
        sealed_secret: str = "",
        attempt: int = 1,
        pool_hash: str = "",
    ) -> None:
        self.batch_id = batch_id
        # The frozen pool's hash, for internal readers (the summary is the public
        # announcement's, which has strata roots instead); empty before ssj-draw-3, whose
        # summary carried it.
        self.pool_hash = pool_hash or str(summary.get("pool_hash", ""))
        self.attempt = attempt  # the batch's n-th draw (after n - 1 voided ones)
        self.plan_id = plan_id
        self.year = year
        self.batch_name = batch_name
        self.initiating_department = initiating_department
        self.participating_departments = participating_departments
        self.items = items
        self.ends_on = ends_on
        # The announcement itself (roster, exclusions: possibly megabytes) is kept in the
        # content-addressed store under this hash; the event pins it.
        self.announcement_hash = announcement_hash
        self.summary = summary
        # ssj-draw-3: the random secret, sealed until execution (services/draw/sealing.py);
        # empty for ssj-draw-2 draws, whose secret is derived from the server key.
        self.sealed_secret = sealed_secret
        self.executed: dict[str, Any] | None = None  # DrawExecuted data
        self.drawn: list[dict[str, Any]] = []  # subjects with their groups, as drawn
        self.requests: list[dict[str, Any]] = []  # replacement requests, in order
        self.outcomes: list[dict[str, Any]] = []  # what each replacement drew
        self.voided: dict[str, Any] | None = None  # DrawVoided data

    # -- voiding 作废 ------------------------------------------------------------------

    def void(self, *, reason_code: str, reason: str, now: datetime) -> None:
        """作废 — withdraw an announced draw before its entropy's draw time, with a public
        reason code (and staff's words for internal readers). Before that time nobody can
        know the draw's outcome, so voiding it chooses nothing; after it, the draw must be
        executed, or it stands overdue in public."""
        if self.voided is not None:
            raise DrawVoided(f"draw {self.id} was voided at {self.voided['voided_at']}")
        if self.executed is not None:
            raise AlreadyExecuted(f"draw {self.id} was executed; an executed draw stands")
        not_before = datetime.fromisoformat(str(self.summary["entropy_not_before"]))
        if now >= not_before:
            raise TooLateToVoid(
                f"the entropy of draw {self.id} ({entropy_label(self.summary)}) was due at "
                f"{not_before.isoformat()}: the draw can no longer be voided, only executed"
            )
        if reason_code not in VOID_REASONS:
            raise InvalidDraw(f"reason_code must be one of {sorted(VOID_REASONS)}")
        if not field(reason):
            raise InvalidDraw("say why the draw is voided (作废原因)")
        self._voided(reason_code=reason_code, reason=field(reason), voided_at=now.isoformat())

    @event("DrawVoided")
    def _voided(self, reason_code: str, reason: str, voided_at: str) -> None:
        self.voided = {"reason_code": reason_code, "reason": reason, "voided_at": voided_at}

    def status(self, now: datetime) -> str:
        """announced, executed, voided, or overdue: announced, its entropy due more than
        :data:`OVERDUE_AFTER` ago, and neither executed nor voided."""
        if self.executed is not None:
            return "executed"
        if self.voided is not None:
            return "voided"
        due = self.summary.get("entropy_not_before")
        if due and now > datetime.fromisoformat(str(due)) + OVERDUE_AFTER:
            return "overdue"
        return "announced"

    # -- execution --------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        """What consumers need with every part, so each event stands on its own."""
        return {
            "batch_id": self.batch_id,
            "plan_id": self.plan_id,
            "year": self.year,
            "initiating_department": self.initiating_department,
            "participating_departments": self.participating_departments,
            "items": self.items,
            "ends_on": self.ends_on,
        }

    def _check(self, frozen: FrozenDraw) -> None:
        if frozen.announced != self.announcement_hash or not frozen.intact():
            raise InvalidDraw(f"the stored announcement of draw {self.id} does not match its hash")

    def public_proof(self, frozen: FrozenDraw, trees: Trees | None = None) -> dict[str, Any]:
        """The public proof (docs/draw-protocol.md §10): before execution the secret,
        entropy, execution time and result are null. ssj-draw-3: the public announcement
        and, after execution, the leaves the draw used, opened (``trees``: the strata's
        trees over the full pool); a draw announced before: the whole pool."""
        executed = self.executed
        requests = [public_request(r) for r in self.requests]
        if frozen.public is not None:
            if trees is None and executed and frozen.blinding_key is not None:
                trees = Trees(
                    frozen.announcement, frozen.pool.lines, frozen.blinding_key, sort_members
                )
            return forms.public_proof(frozen.public, trees, executed, requests, self.result())
        return {
            "announcement": dict(frozen.announcement),
            "announcement_hash": self.announcement_hash,
            "pool": frozen.pool.text,
            "secret": executed["secret"] if executed else None,
            "entropy": executed["entropy"] if executed else None,
            "executed_at": executed["executed_at"] if executed else None,
            "replacements": [public_request(r) for r in self.requests],
            "result": self.result(),
        }

    def full_proof(self, frozen: FrozenDraw) -> dict[str, Any]:
        """The full proof (auditors): the public announcement with the full one, the
        blinding key and the whole pool (docs/draw-protocol.md §10)."""
        requests = [public_request(r) for r in self.requests]
        if frozen.public is None or frozen.blinding_key is None:
            return self.public_proof(frozen)  # announced before: the public one is full
        return forms.full_proof(
            frozen.public,
            frozen.announcement,
            frozen.blinding_key,
            frozen.pool.text,
            self.executed,
            requests,
            self.result(),
        )

    def proof_input(self, frozen: FrozenDraw, secret: str, entropy: str) -> dict[str, Any]:
        """The proof document without its result (public: replacement requests in their
        public form, reason codes and no staff text)."""
        self._check(frozen)
        return {
            "announcement": dict(frozen.announcement),
            "pool": frozen.pool.text,
            "secret": secret,
            "entropy": entropy,
            "replacements": [public_request(r) for r in self.requests],
            # ssj-draw-3: the strata are drawn in the order the blinding key gives them.
            **({"blinding_key": frozen.blinding_key.hex()} if frozen.blinding_key else {}),
        }

    def execute(
        self,
        frozen: FrozenDraw,
        *,
        secret: bytes,
        entropy: str,
        now: datetime,
    ) -> None:
        """抽取 — reveal the secret, take the public entropy, draw; only once."""
        if self.voided is not None:
            raise DrawVoided(f"draw {self.id} was voided at {self.voided['voided_at']}")
        if self.executed is not None:
            raise AlreadyExecuted(f"draw {self.id} was executed at {self.executed['executed_at']}")
        not_before = self.summary.get("entropy_not_before") or ""
        if not_before and now < datetime.fromisoformat(not_before):
            raise EntropyNotYetAvailable(
                f"the announced entropy ({entropy_label(self.summary)}) is not due "
                f"before {not_before}"
            )
        if commitment(secret) != frozen.announcement["commitment"]:
            raise CommitmentMismatch(
                f"the secret of draw {self.id} does not hash to its published commitment: "
                "nothing is drawn (the key or the record changed since the announcement)"
            )
        typed = entropy
        if frozen.announcement.get("protocol") == PROTOCOL_V3:
            fmt, _ = entropy_spec(frozen.announcement)
            try:
                entropy = canonical_text(fmt, parse_numbers(fmt, entropy))
            except EntropyError as exc:
                raise InvalidEntropy(f"{entropy_label(self.summary)}: {exc}") from exc
        elif not field(entropy):
            raise InvalidDraw("the public entropy must not be empty")
        elif frozen.announcement.get("selection") == RFC3797_SELECTION:
            try:
                parse_sources(field(entropy))
            except ValueError as exc:
                raise InvalidDraw(
                    "this draw selects by RFC 3797: the entropy lists its sources' whole "
                    f"numbers, sources separated by '/' ({exc})"
                ) from exc
        pool = frozen.pool
        digest = pool.digest
        # The snapshot must be the announced pool in canonical order, or the proof would
        # not verify: refuse to draw from anything else.
        problems = pool_problems(
            pool.text, pool.lines, frozen.announcement, digest, identifiers_unique=True
        )
        if problems:
            raise InvalidDraw(f"the stored pool of draw {self.id} is unusable: {problems}")
        try:
            result, positions = compute(
                self.proof_input(frozen, secret.hex(), entropy),
                pool.text,
                pool.lines,
                digest,
                sampler=vectorised.sample,
                members=frozen.members(),
                announced=frozen.announced,
            )
        except NoValidGroup:  # a ValueError with its own answer (which rule failed)
            raise
        except ValueError as exc:  # what the announcement asks cannot be drawn (RFC 3797 limits)
            raise InvalidDraw(f"draw {self.id} cannot be executed: {exc}") from exc
        self._executed(
            **self.context(),
            algorithm=result["protocol"],
            executed_at=now.isoformat(),
            secret=secret.hex(),
            entropy=field(entropy),
            entropy_as_typed=typed,
            seed=result["seed"],
            commitment=result["commitment"],
            announcement_hash=result["announcement_hash"],
            pool_hash=result["pool_hash"],
            pool_size=result["pool_size"],
            strata=result["strata"],
            selected=len(result["selection"]),
        )
        strata = {s["identifier"]: s["stratum"] for s in result["selection"]}
        who = look_up(frozen, [g["identifier"] for g in result["groups"]])
        entries = [
            self._entry(
                frozen,
                positions[g["identifier"]],
                who[g["identifier"]],
                strata[g["identifier"]],
                g["inspectors"],
            )
            for g in result["groups"]
        ]
        context = self.context()
        parts = split_parts(context, entries)
        for n, part in enumerate(parts):
            self._drawn(**context, part=n + 1, parts=len(parts), subjects=part)

    def _entry(
        self,
        frozen: FrozenDraw,
        position: int,
        who: tuple[str, str],
        stratum: str,
        inspectors: Sequence[Mapping[str, str]],
    ) -> dict[str, Any]:
        """The drawn subject at ``position`` of the pool, as events carry it."""
        subject_id, name = who
        identifier, _, region_code, _ = frozen.pool.lines[position].split("\t")
        return {
            "subject_id": subject_id,
            "identifier": identifier,
            "name": name,
            "region_code": region_code,
            "stratum": stratum,
            "risk_class": stratum,
            "inspectors": [member(frozen, m) for m in inspectors],
        }

    @event("DrawExecuted")
    def _executed(
        self,
        batch_id: str,
        plan_id: str,
        year: int,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        ends_on: str,
        algorithm: str,
        executed_at: str,
        secret: str,
        entropy: str,
        seed: str,
        commitment: str,
        announcement_hash: str,
        pool_hash: str,
        pool_size: int,
        strata: dict[str, dict[str, int]],
        selected: int,
        entropy_as_typed: str = "",  # ssj-draw-3: what the operator typed, for the record
    ) -> None:
        self.executed = {
            "algorithm": algorithm,
            "executed_at": executed_at,
            "secret": secret,
            "entropy": entropy,
            "seed": seed,
            "commitment": commitment,
            "announcement_hash": announcement_hash,
            "pool_hash": pool_hash,
            "pool_size": pool_size,
            "strata": strata,
            "selected": selected,
        }

    @event("SubjectsDrawn")
    def _drawn(
        self,
        batch_id: str,
        plan_id: str,
        year: int,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        ends_on: str,
        part: int,
        parts: int,
        subjects: list[dict[str, Any]],
    ) -> None:
        self.drawn.extend(subjects)

    # -- replacements 递补 ------------------------------------------------------------

    def _replace(
        self, frozen: FrozenDraw, request: dict[str, Any], facts: RegistryFacts | None
    ) -> dict[str, Any]:
        if self.executed is None:
            raise NotExecuted(f"draw {self.id} has not been executed; nothing to replace")
        if not field(str(request.get("reason", ""))) or not field(str(request.get("approver", ""))):
            raise InvalidReplacement("a replacement needs a reason and an approver (审批人)")
        problem = reason_problem(str(request["kind"]), str(request.get("reason_code", "")))
        if problem:
            raise InvalidReplacement(problem)
        request = {**request, "sequence": len(self.requests) + 1}
        v3_rules = frozen.announcement.get("protocol") == PROTOCOL_V3
        if v3_rules:  # the ground is a registry fact, carried as the request's evidence
            if facts is None:
                raise InvalidReplacement("a v3 replacement needs the registry's facts")
            request["evidence"] = evidence_of(request, facts)
        proof = self.proof_input(frozen, self.executed["secret"], self.executed["entropy"])
        proof["replacements"].append(request)
        pool = frozen.pool
        try:
            result, positions = compute(
                proof,
                pool.text,
                pool.lines,
                sampler=vectorised.sample,
                facts=facts if v3_rules else None,
                members=frozen.members(),
                announced=frozen.announced,
            )
        except ReplacementError as exc:
            raise InvalidReplacement(str(exc)) from exc
        return {"request": request, "outcome": result["replacements"][-1], "positions": positions}

    def replace_inspector(
        self,
        frozen: FrozenDraw,
        *,
        identifier: str,
        inspector_id: str,
        reason_code: str,
        reason: str,
        approver: str,
        facts: RegistryFacts | None = None,
    ) -> dict[str, Any]:
        """递补 a drawn inspector (回避, 岗位调整, 工作冲突 …): v3 takes the seat's next
        candidate, on a registry fact (``facts``); v2 drew from the sub-seed.

        ``reason_code`` (from the fixed list of ``protocol.reasons``) is what the public
        sees; ``reason`` and ``approver`` are staff's own words, kept for internal readers.
        """
        done = self._replace(
            frozen,
            {
                "kind": "inspector",
                "identifier": identifier,
                "inspector_id": inspector_id,
                "reason_code": reason_code,
                "reason": field(reason),
                "approver": field(approver),
            },
            facts,
        )
        subject = next(s for s in self.current() if s["identifier"] == identifier)
        self._inspector_replaced(
            **self.context(),
            request=done["request"],
            subject_id=subject["subject_id"],
            replaced=done["outcome"]["replaced"],
            replacement=member(frozen, done["outcome"]["replacement"]),
        )
        return done["outcome"]

    def replace_subject(
        self,
        frozen: FrozenDraw,
        *,
        identifier: str,
        reason_code: str,
        reason: str,
        approver: str,
        unavailable: Sequence[str],
        facts: RegistryFacts | None = None,
    ) -> dict[str, Any]:
        """递补 a drawn subject that can no longer be inspected (e.g. 注销 before the visit);
        ``reason_code`` is public, ``reason`` and ``approver`` internal."""
        request: dict[str, Any] = {"kind": "subject", "identifier": identifier}
        if frozen.announcement.get("protocol") != PROTOCOL_V3:  # v3 skips on evidence
            request["unavailable"] = sorted(set(unavailable))
        request |= {
            "reason_code": reason_code,
            "reason": field(reason),
            "approver": field(approver),
        }
        done = self._replace(frozen, request, facts)
        outcome = done["outcome"]
        old = next(s for s in self.current() if s["identifier"] == identifier)
        self._subject_replaced(
            **self.context(),
            request=done["request"],
            replaced={"subject_id": old["subject_id"], "identifier": identifier},
            replacement=self._entry(
                frozen,
                done["positions"][outcome["replacement"]],
                look_up(frozen, [outcome["replacement"]])[outcome["replacement"]],
                outcome["stratum"],
                outcome["group"],
            ),
        )
        return outcome

    @event("InspectorReplaced")
    def _inspector_replaced(
        self,
        batch_id: str,
        plan_id: str,
        year: int,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        ends_on: str,
        request: dict[str, Any],
        subject_id: str,
        replaced: str,
        replacement: dict[str, str],
    ) -> None:
        self.requests.append(request)
        self.outcomes.append(
            {"subject_id": subject_id, "replaced": replaced, "replacement": replacement}
        )

    @event("SubjectReplaced")
    def _subject_replaced(
        self,
        batch_id: str,
        plan_id: str,
        year: int,
        initiating_department: str,
        participating_departments: list[str],
        items: list[dict[str, Any]],
        ends_on: str,
        request: dict[str, Any],
        replaced: dict[str, str],
        replacement: dict[str, Any],
    ) -> None:
        self.requests.append(request)
        self.outcomes.append({"replaced": replaced, "replacement": replacement})

    # -- reading ----------------------------------------------------------------------

    def current(self) -> list[dict[str, Any]]:
        """The drawn subjects and groups with every replacement applied, in draw order."""
        return reading.current(self.drawn, self.requests, self.outcomes)

    def result(self) -> dict[str, Any] | None:
        """The result in the protocol's own form (what a verifier recomputes)."""
        if self.executed is None:
            return None
        return reading.result(self.executed, self.drawn, self.requests, self.outcomes)
