"""The proofs a draw service answers with (docs/draw-protocol.md §10): the public proof,
the full proof for oversight, a subject's line proof."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.draw.domain.announce import FrozenDraw
from services.draw.domain.draw import Draw
from services.draw.domain.draw_parts import draw_id
from services.draw.domain.errors import NoLineProof
from services.draw.frozen_store import FrozenStore
from services.draw.keyed import sort_members
from services.draw.protocol import forms
from services.draw.protocol.blinding import Trees
from services.draw.recent import Recent


class ProofQueries(FrozenStore):
    """Queries of a draw's proofs (the commands are the application's)."""

    _proofs: Recent[tuple[UUID, int], dict[str, Any]]

    def get_draw(self, ident: UUID) -> Draw:
        """The draw with this id; any other record (an entropy source, say) is not one: 404."""
        found: object = self.repository.get(ident)
        if not isinstance(found, Draw):
            raise AggregateNotFoundError(f"no draw has id {ident}")
        return found

    def draws_of_batch(self, batch_id: str) -> list[UUID]:
        """The batch's draws, first attempt first, from the write side itself (so the
        planner, which must not change a batch once drawn, gets a fresh answer)."""
        found: list[UUID] = []
        while (ident := draw_id(batch_id, len(found) + 1)) in self.repository:
            found.append(ident)
        return found

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
