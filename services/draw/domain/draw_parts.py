"""What the Draw aggregate works with beside its events: the parts ``SubjectsDrawn`` is cut
into, the ids of a batch's draws, the evidence of a replacement, the names of drawn
subjects and inspectors. Pure functions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from services.draw.domain.announce import FrozenDraw
from services.draw.domain.errors import InvalidDraw, InvalidReplacement
from services.draw.protocol.replace3 import RegistryFacts
from services.draw.protocol.v3 import draw_id as protocol_draw_id

# An announced draw neither executed nor voided this long after its entropy was due is
# shown as overdue (逾期未抽取), in the service and in public.
OVERDUE_AFTER = timedelta(days=1)
PART_SIZE = 500
# A part's event as JSON, ASCII-escaped as the relay writes it: half of NATS's 1 MiB, which
# leaves room for the envelope, the headers and a hash-chain link.
PART_BYTES = 512 * 1024


def split_parts(
    context: Mapping[str, Any], entries: Sequence[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """The drawn subjects in order, cut into parts of at most :data:`PART_SIZE` entries
    whose event (``context`` and the entries) stays within :data:`PART_BYTES`."""
    budget = PART_BYTES - len(json.dumps(dict(context))) - 64  # "part", "parts", "subjects"
    parts: list[list[dict[str, Any]]] = [[]]
    used = 0
    for entry in entries:
        size = len(json.dumps(entry)) + 2  # and the separator before it
        if parts[-1] and (len(parts[-1]) >= PART_SIZE or used + size > budget):
            parts.append([])
            used = 0
        parts[-1].append(entry)
        used += size
    return parts


def evidence_of(request: Mapping[str, Any], facts: RegistryFacts) -> dict[str, Any]:
    """The registry fact that grounds a v3 replacement, or why there is none."""
    identifier = str(request["identifier"])
    if request["kind"] == "subject":
        found = facts.subject(identifier)
        whom = f"subject {identifier}"
    else:
        found = facts.inspector(str(request["inspector_id"]), identifier)
        whom = f"inspector {request['inspector_id']} (for {identifier})"
    if found is None:
        raise InvalidReplacement(
            f"the registry records nothing about {whom} since the announcement that grounds "
            f"{request['reason_code']!r}: record it there first (a status change, a "
            "suspension, a declared conflict), then replace (递补须有名录库记录为据)"
        )
    return dict(found)


def entropy_label(summary: Mapping[str, Any]) -> str:
    """The announced entropy as people name it: 中国福利彩票双色球 第2026141期 (ssj-draw-3),
    or the free text an ssj-draw-2 announcement carried."""
    spec = summary.get("entropy")
    if isinstance(spec, Mapping):
        return f"{spec['name']} 第{spec['issue']}期"
    return str(summary.get("entropy_source", ""))


def draw_id(batch_id: str, attempt: int = 1) -> uuid.UUID:
    """The batch's ``attempt``-th draw (the protocol's rule): a second announcement of
    the same attempt collides (409)."""
    return protocol_draw_id(batch_id, attempt)


def member(frozen: FrozenDraw, m: Mapping[str, str]) -> dict[str, str]:
    """A group member with the name the roster froze."""
    return {**m, "name": frozen.names.get(m["inspector_id"], "")}


def look_up(frozen: FrozenDraw, identifiers: Sequence[str]) -> Mapping[str, tuple[str, str]]:
    """Subject id and name of each drawn identifier; every one must be known."""
    found = frozen.directory(identifiers)
    missing = [i for i in identifiers if i not in found]
    if missing:
        raise InvalidDraw(f"drawn subjects unknown to the subject directory: {missing[:5]}")
    return found
