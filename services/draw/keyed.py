"""Each stratum's members in keyed order (docs/draw-protocol.md §3a), vectorised with
NumPy: the same order as :func:`services.draw.protocol.blinding.keyed_members`, which the
verifier uses (standard library only), tested equal in tests/unit/test_draw_sampling.py.

At a million subjects the reference sorts in Python (half a second at announcement, again
at execution and at each replacement); a stable argsort of the salts' first 8 bytes, read
big-endian as the protocol says, is a tenth of that."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.draw.protocol.blinding import salts
from services.draw.protocol.subjects import stratum_members


def keyed_members(lines: Sequence[str], key: bytes) -> dict[str, list[int]]:
    """Each stratum's line indexes, by salt (ties in pool order)."""
    return sort_members(stratum_members(lines), salts(key, len(lines)))


def sort_members(members: dict[str, list[int]], salted: bytes) -> dict[str, list[int]]:
    """:func:`services.draw.protocol.blinding.order_by_salts`, with a stable argsort."""
    first = np.frombuffer(salted, dtype=">u8")[::4]
    for stratum, positions in members.items():
        if positions:
            at = np.asarray(positions, dtype=np.int64)
            members[stratum] = at[np.argsort(first[at], kind="stable")].tolist()
    return members
