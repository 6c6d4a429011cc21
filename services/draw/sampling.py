"""The selection core's sampler, vectorised with NumPy: the same draws as
:func:`services.draw.protocol.stream.sample`, value for value, with the stream left in
the same state.

The protocol package stays standard-library only, so that anyone can verify a draw with
nothing but Python; this module is the service's faster way to the same answer. Its
equality with the reference is tested on random inputs (``tests/unit/test_draw_sampling.py``).

How the partial Fisher–Yates shuffle is worked out without walking it step by step:
step *i* swaps position *i* with target ``j_i = i + below(n − i)``. Every ``j_i`` is known
from the stream at once. Writing ``g(s)`` for the value standing at position *s* when step
*s* comes to it:

- step *i* draws the value at ``j_i``, which is ``j_i`` itself unless an earlier step *s*
  had the same target; then it is ``g(s)`` for the latest such *s*;
- ``g(s)`` is *s* unless an earlier step *r* targeted position *s*; then it is ``g(r)``
  for the latest such *r* (``r < s``, so following these links always ends).

Targets rarely repeat (a few hundred in a stratum of thousands), so the two "latest
earlier step with this target" lookups are one sort of (target, step) keys and one binary
search, and the links are followed by pointer jumping.
"""

from __future__ import annotations

import numpy as np

from services.draw.protocol import stream as reference
from services.draw.protocol.stream import Stream, hash_blocks

_TWO64 = 1 << 64
# Below this many draws the reference loop is as fast; above 2⁶² the sort keys overflow.
_SMALL = 256
_KEY_LIMIT = 1 << 62


def sample(stream: Stream, n: int, k: int) -> list[int]:
    """:func:`services.draw.protocol.stream.sample`, vectorised."""
    if not 0 <= k <= n:
        raise ValueError(f"cannot draw {k} of {n}")
    if k < _SMALL or n * k >= _KEY_LIMIT:
        return reference.sample(stream, n, k)
    left = stream._buffer[::-1]  # what is left of the current block, in stream order
    kept = len(left)  # at most 3 < k: every draw past them needs new blocks
    blocks = -(-(k - kept) // 4)
    hashed = np.frombuffer(hash_blocks(stream, stream._counter, blocks), dtype=">u8")
    values = np.concatenate((np.array(left, dtype=np.uint64), hashed.astype(np.uint64)))[:k]
    if int(values.max()) >= _TWO64 - n:
        # A value that may need the exact rejection test (odds about k·n / 2⁶⁴): let the
        # reference walk it. The stream has not been touched yet.
        return reference.sample(stream, n, k)

    steps = np.arange(k, dtype=np.int64)
    targets = steps + (values % np.arange(n, n - k, -1, dtype=np.uint64)).astype(np.int64)

    # (target, step) pairs in order, as one integer each: the sort needs no stability.
    keys = np.sort(targets * k + steps)
    by_target, order = np.divmod(keys, k)
    # The latest earlier step with the same target: the neighbour before in sorted order.
    repeat = by_target[1:] == by_target[:-1]
    previous = np.full(k, -1, dtype=np.int64)
    previous[order[1:][repeat]] = order[:-1][repeat]
    # The latest earlier step r that targeted position s (s < k): binary search for the
    # key (s, s) among the (target, step) keys.
    found = np.searchsorted(keys, steps * k + steps) - 1
    hit = found >= 0
    hit[hit] = by_target[found[hit]] == steps[hit]
    link = np.where(hit, order[np.maximum(found, 0)], steps)
    while True:  # pointer jumping: link[s] becomes the end of s's chain, which is g(s)
        jumped = link[link]
        if np.array_equal(jumped, link):
            break
        link = jumped
    out = np.where(previous >= 0, link[np.maximum(previous, 0)], targets)

    # Leave the stream where the reference would: after the last block, with the rest of
    # that block buffered.
    stream._counter += blocks
    stream._buffer = hashed[k - kept :].tolist()[::-1]
    return out.tolist()
