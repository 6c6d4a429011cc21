"""DrawApplication — announces, executes and replaces draws; serves their proofs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from psycopg import sql

from libs.common.eventstore import EventStoreApp
from libs.common.faults import crash_point
from libs.common.settings import CommonSettings
from services.draw.domain.announce import (
    FrozenDraw,
    FrozenPool,
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
    NoLineProof,
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
from services.draw.keyed import sort_members
from services.draw.protocol import forms
from services.draw.protocol.blinding import Trees
from services.draw.protocol.canonical import (
    SHA256_SELECTION,
    announcement_hash,
    commitment,
    field,
)
from services.draw.protocol.entropy import LOTTERIES, EntropyFormat, lottery_problem
from services.draw.protocol.replace3 import RegistryFacts
from services.draw.recent import Recent
from services.draw.sealing import SealBroken, Sealer, new_secret
from services.draw.settings import DrawSettings

log = logging.getLogger(__name__)


class DrawApplication(EventStoreApp):
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

    def _create_snapshot_table(self) -> None:
        stmt = sql.SQL(
            """
            CREATE TABLE IF NOT EXISTS {schema}.pool_snapshots (
              pool_hash text PRIMARY KEY, lines text NOT NULL,
              stored_at timestamptz NOT NULL DEFAULT now());
            -- Snapshots stored before December 2026 also kept each line's subject id and
            -- name (meta); they keep them, new snapshots store the lines alone.
            ALTER TABLE {schema}.pool_snapshots ADD COLUMN IF NOT EXISTS meta text;
            ALTER TABLE {schema}.pool_snapshots ALTER COLUMN meta DROP NOT NULL;
            CREATE OR REPLACE TRIGGER pool_snapshots_append_only
              BEFORE UPDATE OR DELETE ON {schema}.pool_snapshots
              FOR EACH ROW EXECUTE FUNCTION {schema}.ssj_reject_event_change();
            CREATE TABLE IF NOT EXISTS {schema}.announcements (
              announcement_hash text PRIMARY KEY, document text NOT NULL,
              names text NOT NULL, stored_at timestamptz NOT NULL DEFAULT now());
            -- ssj-draw-3: the full announcement and the blinding key behind the public one
            -- (document), which commits to them by its private_hash; NULL before.
            ALTER TABLE {schema}.announcements ADD COLUMN IF NOT EXISTS internal text;
            CREATE OR REPLACE TRIGGER announcements_append_only
              BEFORE UPDATE OR DELETE ON {schema}.announcements
              FOR EACH ROW EXECUTE FUNCTION {schema}.ssj_reject_event_change();
            """
        ).format(schema=sql.Identifier(self.schema))
        # A snapshot is ~75 MB of text at 1M subjects. lz4 stores it in a fifth of the
        # space and faster than writing it raw; pglz (the only other method) takes seconds,
        # so a server built without lz4 stores snapshots uncompressed.
        lz4 = sql.SQL(
            "ALTER TABLE {}.pool_snapshots ALTER COLUMN lines SET STORAGE EXTENDED, "
            "ALTER COLUMN lines SET COMPRESSION lz4"
        ).format(sql.Identifier(self.schema))
        raw = sql.SQL(
            "ALTER TABLE {}.pool_snapshots ALTER COLUMN lines SET STORAGE EXTERNAL"
        ).format(sql.Identifier(self.schema))
        with self.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('draw.pool_snapshots'))")
            conn.execute(stmt)
            try:
                with conn.transaction():
                    conn.execute(lz4)
            except psycopg.errors.FeatureNotSupported:
                log.warning("PostgreSQL has no lz4: pool snapshots are stored uncompressed")
                conn.execute(raw)

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

    def get_source(self, code: str) -> EntropySource:
        """The registered source with this code."""
        try:
            source: EntropySource = self.repository.get(source_id(code))
        except AggregateNotFoundError as exc:
            raise UnknownSource(f"no entropy source has code {code}") from exc
        if not isinstance(source, EntropySource):
            raise UnknownSource(f"no entropy source has code {code}")
        return source

    def get_draw(self, ident: UUID) -> Draw:
        """The draw with this id; any other record (an entropy source, say) is not one: 404."""
        found: object = self.repository.get(ident)
        if not isinstance(found, Draw):
            raise AggregateNotFoundError(f"no draw has id {ident}")
        return found

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

    # -- the frozen pool ---------------------------------------------------------------

    def has_pool(self, digest: str) -> bool:
        """Whether the frozen pool with this hash is stored."""
        with self.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT 1 AS found FROM {}.pool_snapshots WHERE pool_hash = %s").format(
                    sql.Identifier(self.schema)
                ),
                (digest,),
            ).fetchone()
        return row is not None

    def load_pool(self, digest: str) -> FrozenPool:
        """The frozen pool with this hash."""
        with self.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT lines FROM {}.pool_snapshots WHERE pool_hash = %s").format(
                    sql.Identifier(self.schema)
                ),
                (digest,),
            ).fetchone()
        if row is None:
            raise LookupError(f"no stored pool has hash {digest}")
        return FrozenPool(row["lines"])

    def look_up_subjects(self, identifiers: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Subject id and name of drawn identifiers, from the draw's own projection of the
        registry (names as they stand when the draw is executed)."""
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT identifier, subject_id::text AS subject_id, name "
                "FROM draw.pool_subjects WHERE identifier = ANY (%s)",
                (list(identifiers),),
            ).fetchall()
        return {r["identifier"]: (r["subject_id"], field(r["name"])) for r in rows}

    def store_announcement(
        self,
        announcement: Mapping[str, Any],
        names: Mapping[str, str],
        full: Mapping[str, Any] | None = None,
        key: bytes | None = None,
    ) -> str:
        """Keep the (public) announcement under its hash (the event carries only the hash),
        with the full announcement and blinding key behind it (ssj-draw-3)."""
        digest = announcement_hash(announcement)
        internal = (
            json.dumps({"announcement": full, "blinding_key": key.hex()}, ensure_ascii=False)
            if full is not None and key is not None
            else None
        )
        with self.connection() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.announcements (announcement_hash, document, names, internal) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (announcement_hash) DO NOTHING"
                ).format(sql.Identifier(self.schema)),
                (
                    digest,
                    json.dumps(announcement, ensure_ascii=False),
                    json.dumps(names),
                    internal,
                ),
            )
        return digest

    def frozen(self, draw: Draw) -> FrozenDraw:
        """The announcements, names and pool a draw's events point to by hash."""
        with self.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT document, names, internal FROM {}.announcements "
                    "WHERE announcement_hash = %s"
                ).format(sql.Identifier(self.schema)),
                (draw.announcement_hash,),
            ).fetchone()
        if row is None:
            raise LookupError(f"no stored announcement has hash {draw.announcement_hash}")
        published = json.loads(row["document"])
        if row["internal"] is None:  # announced before ssj-draw-3 was complete
            full, public, key = published, None, None
        else:
            internal = json.loads(row["internal"])
            full, public = internal["announcement"], published
            key = bytes.fromhex(internal["blinding_key"])
        # The keyed order of the trees this process built or read last, if it has them.
        cached = self._trees.get(draw.announcement_hash) if public is not None else None
        return FrozenDraw(
            full,
            json.loads(row["names"]),
            self.load_pool(full["pool_hash"]),
            self.look_up_subjects,
            public=public,
            blinding_key=key,
            keyed=cached.order if cached is not None else None,
        )

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

    # -- queries ----------------------------------------------------------------------

    def proof(self, ident: UUID) -> dict[str, Any]:
        """Everything needed to verify the draw without trusting us (see draw-protocol.md).

        Before execution the secret is not revealed and there is no result yet. The proof
        is public: replacement requests show their reason code, never staff's free text.
        """
        draw: Draw = self.get_draw(ident)
        key = (ident, draw.version)
        cached = self._proofs.get(key)
        if cached is None:
            frozen = self.frozen(draw)
            trees = self.trees(frozen) if draw.executed and frozen.public is not None else None
            cached = self._proofs.put(key, draw.public_proof(frozen, trees))
        return cached

    def full_proof(self, ident: UUID) -> dict[str, Any]:
        """The full proof (auditors): the public one's announcement with the full one, the
        blinding key and the whole pool (risk classes, units, conflicts)."""
        draw: Draw = self.get_draw(ident)
        return draw.full_proof(self.frozen(draw))

    def line_proof(self, ident: UUID, identifier: str) -> dict[str, Any]:
        """One subject's own leaf opened against the public announcement (ssj-draw-3)."""
        draw: Draw = self.get_draw(ident)
        frozen = self.frozen(draw)
        if frozen.public is None:
            raise NoLineProof(f"draw {ident} was announced before line proofs existed")
        try:
            return forms.line_proof(frozen.public, self.trees(frozen), identifier)
        except KeyError:
            raise NoLineProof(f"{identifier} is not in the pool of draw {ident}") from None

    def trees(self, frozen: FrozenDraw) -> Trees:
        """The strata's trees of a draw (kept for the few draws last asked)."""
        digest = frozen.announced
        trees = self._trees.get(digest)
        if trees is None:
            assert frozen.blinding_key is not None
            trees = self._trees.put(
                digest,
                Trees(frozen.announcement, frozen.pool.lines, frozen.blinding_key, sort_members),
            )
        return trees
