"""The SHA-256 generator and unbiased sampling of protocol ``ssj-draw-2``.

- Block *i* of the stream (seed, label) is ``SHA-256(seed ‖ UTF-8(label) ‖ u64be(i))``,
  *i* = 0, 1, 2, …; each block yields four 64-bit unsigned integers, big-endian, in order.
- ``below(n)`` takes the next integer *v* and rejects it while ``v ≥ 2⁶⁴ − (2⁶⁴ mod n)``,
  then returns ``v mod n``: every residue is equally likely (no modulo bias).
- ``sample(n, k)`` is a partial Fisher–Yates shuffle of positions ``0 … n−1``: for
  ``i = 0 … k−1`` swap position ``i`` with ``i + below(n − i)``. Every k-subset is
  equally likely and the chance of a subject does not depend on where it stands.
"""

from __future__ import annotations

import hashlib
import struct
from operator import add, mod

_TWO64 = 1 << 64
_BLOCK = struct.Struct(">4Q")
_COUNTER = struct.Struct(">Q")


class Stream:
    """Deterministic stream of 64-bit integers derived from a seed and a label."""

    def __init__(self, seed: bytes, label: str) -> None:
        self._prefix = seed + label.encode("utf-8")
        self._counter = 0
        self._buffer: list[int] = []

    def next_u64(self) -> int:
        """The next 64-bit unsigned integer."""
        if not self._buffer:
            digest = hashlib.sha256(self._prefix + _COUNTER.pack(self._counter)).digest()
            self._counter += 1
            self._buffer = list(reversed(_BLOCK.unpack(digest)))
        return self._buffer.pop()

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``, by rejection (1 ≤ n ≤ 2⁶⁴)."""
        if not 1 <= n <= _TWO64:
            raise ValueError(f"n must be in [1, 2**64], not {n}")
        limit = _TWO64 - (_TWO64 % n)
        while True:
            value = self.next_u64()
            if value < limit:
                return value % n


def hash_blocks(stream: Stream, first: int, count: int) -> bytes:
    """Blocks ``first … first + count − 1`` of the stream, concatenated (32 bytes each):
    each continues one SHA-256 state of the prefix, so the prefix is hashed once."""
    start = hashlib.sha256(stream._prefix)
    pack = _COUNTER.pack
    blocks = []
    for c in range(first, first + count):
        block = start.copy()
        block.update(pack(c))
        blocks.append(block.digest())
    return b"".join(blocks)


def sample(stream: Stream, n: int, k: int) -> list[int]:
    """``k`` distinct positions of ``0 … n−1`` in draw order (partial Fisher–Yates).

    Only the touched positions are remembered, so drawing 1 % of a million costs 1 %.
    This is ``below`` inlined, the selection core's hot loop: the same blocks in the same
    order with the same rejections, but the blocks are hashed ahead in one batch, and a
    value below ``2⁶⁴ − n`` is taken without working out the exact limit (it is under every
    limit ``2⁶⁴ − (2⁶⁴ mod m)``, m ≤ n, since ``2⁶⁴ mod m < m``).
    """
    if not 0 <= k <= n:
        raise ValueError(f"cannot draw {k} of {n}")
    counter = stream._counter
    values = stream._buffer[::-1]  # what is left of the current block, in stream order
    kept = len(values)
    hashed = 0  # blocks hashed here

    def more(count: int) -> None:
        nonlocal hashed
        values.extend(struct.unpack(f">{4 * count}Q", hash_blocks(stream, counter + hashed, count)))
        hashed += count

    more(max(0, -(-(k - kept) // 4)))
    safe = _TWO64 - n
    moved: dict[int, int] = {}
    get = moved.get
    out: list[int] = []
    if k and max(values) < safe:
        # No value needs the exact test (checked over every value hashed, a few more than
        # k at most): the first k values are the k draws, and the swap targets are worked
        # out in one sweep.
        at = k
        targets = map(add, range(k), map(mod, values, range(n, n - k, -1)))
        for i, j in enumerate(targets):
            out.append(get(j, j))
            moved[j] = get(i, i)
    else:
        at = 0
        for i in range(k):
            while True:
                if at == len(values):
                    more(max(1, -(-(k - i) // 4)))
                value = values[at]
                at += 1
                if value < safe or value < _TWO64 - _TWO64 % (n - i):
                    break
            j = i + value % (n - i)
            out.append(get(j, j))
            moved[j] = get(i, i)
    # Leave the stream where ``below`` would have: after the last block used, with the
    # rest of that block buffered; blocks hashed ahead but not reached are not consumed.
    used = max(0, -(-(at - kept) // 4))
    stream._counter = counter + used
    stream._buffer = values[at : kept + 4 * used][::-1]
    return out
