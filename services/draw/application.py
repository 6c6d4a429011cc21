"""DrawApplication — announces, executes and replaces draws; serves their proofs."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from libs.common.faults import crash_point
from libs.common.settings import CommonSettings
from services.draw.domain.announce import (
    RosterEntry,
    blind,
    build_announcement,
    explain_pool,
    summarise,
)
from services.draw.domain.draw import Draw, draw_id
from services.draw.domain.errors import (
    AlreadyAnnounced,
    BatchNotDrawable,
    CommitmentMismatch,
    InvalidDraw,
    SourceExists,
    UnknownSource,
)
from services.draw.domain.sources import (
    EntropySource,
    check_issue,
    check_scheduled,
    source_id,
)
from services.draw.freeze import FrozenSummary
from services.draw.proofs import ProofQueries
from services.draw.protocol.blinding import Trees
from services.draw.protocol.canonical import (
    SHA256_SELECTION,
    commitment,
)
from services.draw.protocol.entropy import LOTTERIES, EntropyFormat, lottery_problem
from services.draw.protocol.replace3 import RegistryFacts
from services.draw.recent import Recent
from services.draw.sealing import SealBroken, Sealer, new_secret
from services.draw.settings import DrawSettings

log = logging.getLogger(__name__)


class DrawApplication(ProofQueries):
    """Commands and queries of draws. Draw streams are hash-chained.

    The frozen pool is stored once per pool hash in ``draw.pool_snapshots`` (append-only,
    like the events): an event carries the hash, the table the million lines behind it.
    """

    service = "draw"
    hash_chained = True

    def __init__(self, settings: CommonSettings, env: dict[str, str] | None = None) -> None:
        super().__init__(settings, env)
        draw_settings = DrawSettings()
        key = draw_settings.draw_key
        self._lead = draw_settings.lead_seconds(settings.environment)
        self._key = key.encode("utf-8")  # ssj-draw-2 secrets derive from it
        self._sealer = Sealer(key)  # ssj-draw-3 secrets are sealed under it
        # A proof of a province-wide draw takes seconds to assemble (its trees): keep the
        # last few, keyed by what changes them (the draw's version; the announcement).
        self._proofs: Recent[tuple[UUID, int], dict[str, Any]] = Recent(16)
        self._trees: Recent[str, Trees] = Recent(2)
        self._create_snapshot_table()

    # -- secrets ----------------------------------------------------------------------

    def secret(self, draw: Draw) -> bytes:
        """The draw's 32-byte secret: unsealed (ssj-draw-3), or for a draw announced under
        ssj-draw-2, HMAC-SHA256(server key, draw id)."""
        if draw.sealed_secret:
            return self._sealer.open(
                draw.sealed_secret, str(draw.id), str(draw.summary["commitment"])
            )
        message = f"ssj-draw-2 secret\x00{draw.id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    # -- entropy sources 公开随机源 ----------------------------------------------------

    def register_source(self, **fields: Any) -> EntropySource:
        """Register a source of public entropy (the office); a code is registered once."""
        if source_id(fields["code"]) in self.repository:
            raise SourceExists(f"entropy source {fields['code']} is registered already")
        self._refuse_weak(fields["code"], fields["format"])
        if fields.get("schedule") is not None and fields["code"] not in LOTTERIES:
            raise InvalidDraw(
                f"a source with a schedule is a lottery, and the protocol knows the lotteries "
                f"by code: one of {sorted(LOTTERIES)}; an on-site drawing (现场摇号) has no "
                "schedule"
            )
        source = EntropySource(**fields)
        try:
            self.save(source)
        except IntegrityError as exc:
            raise SourceExists(f"entropy source {fields['code']} is registered already") from exc
        return source

    @property
    def lead_seconds(self) -> int:
        """The least time between an announcement and its entropy's drawing."""
        return self._lead

    def get_source(self, code: str) -> EntropySource:
        """The registered source with this code."""
        try:
            source: EntropySource = self.repository.get(source_id(code))
        except AggregateNotFoundError as exc:
            raise UnknownSource(f"no entropy source has code {code}") from exc
        if not isinstance(source, EntropySource):
            raise UnknownSource(f"no entropy source has code {code}")
        return source

    def announceable_source(self, code: str) -> EntropySource:
        """The source an announcement names: unknown is the request's fault (422)."""
        try:
            source = self.get_source(code)
        except UnknownSource as exc:
            raise InvalidDraw(f"{exc}: register it first (POST /v1/entropy-sources)") from exc
        self._refuse_weak(code, source.format)  # registered before the rule
        return source

    @staticmethod
    def _refuse_weak(code: str, fmt: Mapping[str, Any]) -> None:
        """A source with too few possible results is no source (EntropyFormat.weakness)."""
        try:
            weakness = EntropyFormat.from_json(fmt).weakness()
        except ValueError:
            return  # the format's own check names what is wrong with it
        if weakness:
            raise InvalidDraw(f"entropy source {code}: {weakness}")
        if mismatch := lottery_problem(code, EntropyFormat.from_json(fmt)):
            raise InvalidDraw(f"entropy source {mismatch}")

    # -- commands ---------------------------------------------------------------------

    def announce(
        self,
        *,
        batch: Mapping[str, Any],
        pool: FrozenSummary,
        roster: Sequence[RosterEntry],
        entropy: Mapping[str, Any],
        now: datetime,
        selection: str = SHA256_SELECTION,
        named_issues: Sequence[tuple[str, datetime]] = (),
    ) -> Draw:
        """公告 — pool frozen (stored under its hash), roster and rules fixed, a random
        secret committed (and kept sealed), the entropy's source, issue and time named.

        ``entropy``: ``source`` (a registered code), ``issue`` and ``scheduled_at`` (when
        that issue is drawn: a time of the source's schedule, far enough ahead)."""
        attempt = self.check_announceable(batch)
        ident = draw_id(batch["batch_id"], attempt)
        source = self.announceable_source(entropy["source"])
        scheduled_at: datetime = entropy["scheduled_at"].astimezone(UTC)
        check_scheduled(source, scheduled_at, now, timedelta(seconds=self._lead))
        check_issue(source, entropy["issue"], scheduled_at, list(named_issues))
        secret = new_secret()
        committed = commitment(secret)
        announcement = build_announcement(
            draw_id=str(ident),
            attempt=attempt,
            batch=batch,
            pool_hash=pool.pool_hash,
            pool_size=pool.pool_size,
            roster=roster,
            conflicts=pool.conflicts,
            previous=pool.previous,
            commitment=committed,
            entropy=source.spec(entropy["issue"], scheduled_at),
            announced_at=now.isoformat(),
            selection=selection,
            strata_sizes=pool.strata_sizes,
            pool_spec=explain_pool(batch, pool.excluded, pool.registry_position, pool.overlaps),
        )
        # What the public sees instead of the internal parts (risk classes, units,
        # conflicts): the strata's Merkle roots over salted leaves, under a fresh key.
        key = new_secret()
        public, trees = blind(announcement, self.load_pool(pool.pool_hash), key)
        names = {r.inspector_id: r.name for r in roster}
        digest = self.store_announcement(public, names, announcement, key)
        self._trees.put(digest, trees)
        draw = Draw(
            batch_id=batch["batch_id"],
            plan_id=str(batch["plan_id"]),
            year=int(batch["year"]),
            batch_name=batch["name"],
            initiating_department=batch["initiating_department"],
            participating_departments=list(batch["participating_departments"]),
            items=list(batch["items"]),
            ends_on=str(batch["ends_on"]),
            announcement_hash=digest,
            # The public announcement's summary, with the sizes of the internal lists.
            summary=summarise(public)
            | {f"{k}_size": len(announcement[k]) for k in ("conflicts", "previous")},
            sealed_secret=self._sealer.seal(secret, str(ident), committed),
            attempt=attempt,
            pool_hash=pool.pool_hash,
        )
        try:
            self.save(draw)
        except IntegrityError as exc:  # a concurrent announcement of the same batch won
            raise AlreadyAnnounced(f"batch {batch['batch_id']} has its draw already") from exc
        return draw

    def check_announceable(self, batch: Mapping[str, Any]) -> int:
        """Published, and every earlier draw of the batch voided; returns the attempt the
        new draw is (checked again, atomically, at save: its id is the attempt's)."""
        if not batch.get("published"):
            raise BatchNotDrawable(f"batch {batch['batch_id']} belongs to an unpublished plan")
        attempt = 1
        while (ident := draw_id(batch["batch_id"], attempt)) in self.repository:
            earlier: Draw = self.get_draw(ident)
            if earlier.voided is None:
                raise AlreadyAnnounced(f"batch {batch['batch_id']} has its draw {ident} already")
            attempt += 1
        return attempt

    def void(self, ident: UUID, reason_code: str, reason: str, now: datetime) -> Draw:
        """作废 — withdraw an announced draw before its entropy time."""
        draw: Draw = self.get_draw(ident)
        draw.void(reason_code=reason_code, reason=reason, now=now)
        self.save(draw)
        return draw

    def execute(self, ident: UUID, entropy: str, now: datetime) -> Draw:
        """抽取 — complete the seed with the public entropy and draw, once."""
        draw: Draw = self.get_draw(ident)
        try:
            secret = self.secret(draw)
        except SealBroken as exc:
            raise CommitmentMismatch(str(exc)) from exc
        draw.execute(self.frozen(draw), secret=secret, entropy=entropy, now=now)
        self.save(draw)  # a concurrent second execution fails on the version: 409
        crash_point("draw.after_execute")  # stored, not yet answered (crash tests)
        return draw

    def replace_inspector(
        self,
        ident: UUID,
        identifier: str,
        inspector_id: str,
        reason_code: str,
        reason: str,
        approver: str,
        facts: RegistryFacts | None = None,
    ) -> dict[str, Any]:
        """递补 an inspector (v3: on a registry fact, by the seat's fixed order)."""
        return self._replace(
            ident,
            Draw.replace_inspector,
            identifier=identifier,
            inspector_id=inspector_id,
            reason_code=reason_code,
            reason=reason,
            approver=approver,
            facts=facts,
        )

    def replace_subject(
        self,
        ident: UUID,
        identifier: str,
        reason_code: str,
        reason: str,
        approver: str,
        unavailable: Sequence[str],
        facts: RegistryFacts | None = None,
    ) -> dict[str, Any]:
        """递补 a subject (v3: on a registry fact, the stratum's next alternate)."""
        return self._replace(
            ident,
            Draw.replace_subject,
            identifier=identifier,
            reason_code=reason_code,
            reason=reason,
            approver=approver,
            unavailable=unavailable,
            facts=facts,
        )

    def _replace(self, ident: UUID, replace: Any, **request: Any) -> dict[str, Any]:
        draw: Draw = self.get_draw(ident)
        outcome: dict[str, Any] = replace(draw, self.frozen(draw), **request)
        self.save(draw)
        return outcome
