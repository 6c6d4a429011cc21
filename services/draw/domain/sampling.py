"""Seeded, verifiable randomness: a SHA-256 counter-mode generator and unbiased sampling.

Algorithm ``ssj-sha256-v1`` (kept stable; a change gets a new name):
- block *i* of a stream is ``SHA-256(seed ‖ label ‖ i)``, *i* as 8 bytes big-endian; each
  block gives four 64-bit unsigned integers, big-endian;
- ``below(n)`` rejects values ≥ 2⁶⁴ − (2⁶⁴ mod n) and returns ``value mod n``, so every
  residue is equally likely (no modulo bias);
- ``sample(population, k)`` is a partial Fisher–Yates shuffle of the population in its
  given (canonical, sorted) order, so the chance of selection does not depend on position.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import TypeVar

ALGORITHM = "ssj-sha256-v1"
T = TypeVar("T")
_TWO64 = 1 << 64


class Sha256Stream:
    """Deterministic stream of 64-bit integers derived from a seed and a label."""

    def __init__(self, seed: bytes, label: str) -> None:
        self._prefix = seed + label.encode("utf-8")
        self._counter = 0
        self._buffer: list[int] = []

    def next_u64(self) -> int:
        """The next 64-bit unsigned integer of the stream."""
        if not self._buffer:
            block = hashlib.sha256(self._prefix + struct.pack(">Q", self._counter)).digest()
            self._counter += 1
            self._buffer = list(reversed(struct.unpack(">4Q", block)))
        return self._buffer.pop()

    def below(self, n: int) -> int:
        """Uniform integer in ``[0, n)`` by rejection sampling."""
        if n <= 0:
            raise ValueError("n must be positive")
        limit = _TWO64 - (_TWO64 % n)
        while True:
            value = self.next_u64()
            if value < limit:
                return value % n


def sample(stream: Sha256Stream, population: Sequence[T], k: int) -> list[T]:
    """``k`` distinct elements, in draw order, by a partial Fisher–Yates shuffle."""
    if not 0 <= k <= len(population):
        raise ValueError(f"cannot draw {k} of {len(population)}")
    pool = list(population)
    n = len(pool)
    for i in range(k):
        j = i + stream.below(n - i)
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def pool_hash(lines: Sequence[str]) -> str:
    """SHA-256 over the canonical pool: one line per subject, sorted, joined by newlines."""
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()
