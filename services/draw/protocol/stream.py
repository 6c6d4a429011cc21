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


def sample(stream: Stream, n: int, k: int) -> list[int]:
    """``k`` distinct positions of ``0 … n−1`` in draw order (partial Fisher–Yates).

    Only the touched positions are remembered, so drawing 1 % of a million costs 1 %.
    This is ``below`` inlined (same blocks, same order, same rejections): the selection
    core's hot loop.
    """
    if not 0 <= k <= n:
        raise ValueError(f"cannot draw {k} of {n}")
    sha256, unpack, pack = hashlib.sha256, _BLOCK.unpack, _COUNTER.pack
    prefix, counter, buffer = stream._prefix, stream._counter, stream._buffer
    moved: dict[int, int] = {}
    get = moved.get
    out: list[int] = []
    for i in range(k):
        m = n - i
        limit = _TWO64 - _TWO64 % m
        while True:
            if not buffer:
                buffer = list(unpack(sha256(prefix + pack(counter)).digest()))
                buffer.reverse()
                counter += 1
            value = buffer.pop()
            if value < limit:
                break
        j = i + value % m
        out.append(get(j, j))
        moved[j] = get(i, i)
    stream._counter, stream._buffer = counter, buffer
    return out
