"""DrawApplication — executes draws and answers what was drawn."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

from libs.common.eventstore import EventStoreApp
from services.draw.domain.draw import Draw, draw_id
from services.draw.domain.errors import AlreadyDrawn
from services.draw.domain.selection import Candidate, Examiner


class DrawApplication(EventStoreApp):
    """Commands and queries of draws. Draw streams are hash-chained."""

    service = "draw"
    hash_chained = True

    def execute_draw(
        self,
        batch: dict[str, Any],
        pool: Sequence[Candidate],
        examiners: Sequence[Examiner],
        conflicts: frozenset[tuple[str, str]] = frozenset(),
        seed: bytes | None = None,
    ) -> Draw:
        """Draw a published batch once; the seed is stored so anyone can re-run it."""
        if draw_id(batch["batch_id"]) in self.repository:
            raise AlreadyDrawn(f"batch {batch['batch_id']} was drawn already")
        draw = Draw.execute(
            batch=batch,
            seed=seed or secrets.token_bytes(32),
            pool=pool,
            examiners=examiners,
            conflicts=conflicts,
        )
        try:
            self.save(draw)
        except IntegrityError as exc:  # a concurrent draw of the same batch won the race
            raise AlreadyDrawn(f"batch {batch['batch_id']} was drawn already") from exc
        return draw

    def get_draw(self, batch_id: str) -> Draw:
        """The draw of a batch."""
        return self.repository.get(draw_id(batch_id))
