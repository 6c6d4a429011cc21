"""Selection of subjects (抽取检查对象), per stratum, protocol ``ssj-draw-2``.

Every subject on the 100 % list (stratum ``*``) is selected, in pool order. Then for each
credit-risk class in ``A, B, C, D`` order, its members are taken in pool order and
``count`` of them drawn with :func:`~services.draw.protocol.stream.sample` on the stream
labelled ``subjects/<class>``. ``count`` is the stratum's fixed count, or its ratio as an
exact decimal times the number of members, rounded up (a non-empty stratum with a
positive ratio always yields at least one subject); never more than the stratum holds.

With the alternative selection ``rfc3797`` (:func:`select_rfc3797`) the strata and counts
are the same, but each stratum's members are drawn by the procedure of RFC 3797 from the
public sources alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from services.draw.protocol import rfc3797
from services.draw.protocol.canonical import FULL_LIST, STRATA
from services.draw.protocol.stream import Stream, sample


@dataclass(frozen=True)
class Picked:
    """A selected subject: its identifier, its stratum and its position in the pool."""

    identifier: str
    stratum: str
    position: int


def parse_ratio(text: str) -> Fraction:
    """A ratio written as a decimal string in ``(0, 1]``, exactly."""
    try:
        value = Fraction(Decimal(str(text)))
    except (InvalidOperation, ValueError, OverflowError) as exc:  # "Infinity" overflows
        raise ValueError(f"ratio {text!r} is not a decimal number") from exc
    if not 0 < value <= 1:
        raise ValueError(f"ratio {text} is not in (0, 1]")
    return value


def stratum_count(members: int, rule: Mapping[str, Any]) -> int:
    """How many of a stratum's ``members`` to draw under ``{"ratio": "0.03"}`` or
    ``{"count": 5}``."""
    if "count" in rule:
        count = int(rule["count"])
        if count < 0:
            raise ValueError("a stratum count must not be negative")
        return min(members, count)
    return min(members, math.ceil(members * parse_ratio(rule["ratio"])))


# (stratum, its number of members, how many to draw) → indices into the stratum's members
# (in pool order), in draw order.
StratumDraw = Callable[[str, int, int], list[int]]


# ``sample``'s signature: (stream, n, k) → k distinct positions of 0 … n−1 in draw order.
Sampler = Callable[[Stream, int, int], list[int]]


def select(
    seed: bytes,
    lines: Sequence[str],
    strata: Mapping[str, Mapping[str, Any]],
    sampler: Sampler = sample,
    members: Mapping[str, Sequence[int]] | None = None,
) -> tuple[list[Picked], dict[str, dict[str, int]]]:
    """The selection and, per stratum, the pool size and the count drawn.

    ``members`` is :func:`stratum_members` of ``lines`` if the caller has it already.

    ``sampler`` is :func:`~services.draw.protocol.stream.sample` or an implementation
    giving the same draws (the service's vectorised one); the protocol is the reference.
    """

    def draw(stratum: str, members: int, count: int) -> list[int]:
        return sampler(Stream(seed, f"subjects/{stratum}"), members, count)

    return _select(lines, strata, draw, members)


def select_rfc3797(
    sources: Sequence[str],
    lines: Sequence[str],
    strata: Mapping[str, Mapping[str, Any]],
    members: Mapping[str, Sequence[int]] | None = None,
) -> tuple[list[Picked], dict[str, dict[str, int]]]:
    """:func:`select` with the selection procedure of RFC 3797 instead of the SHA-256
    stream: the key is RFC 3797's canonical key of ``sources``; the strata are drawn in
    ``A, B, C, D`` order with one round counter running on across them (round *r* hashes
    ``MD5(u16be(r) ‖ key ‖ u16be(r))``), and each round takes ``value mod remaining`` as
    the 0-based index into the stratum's members still unselected, in pool order.

    RFC 3797's two-byte counter bounds both a stratum's size and the number of rounds to
    65 535 (:class:`ValueError` beyond).
    """
    key = rfc3797.canonical_key(sources)
    rounds = 0

    def draw(stratum: str, members: int, count: int) -> list[int]:
        nonlocal rounds
        if count and members > rfc3797.MAX_POOL:
            raise ValueError(
                f"stratum {stratum} has {members} members; RFC 3797 draws from at most "
                f"{rfc3797.MAX_POOL}"
            )
        if rounds + count > rfc3797.MAX_POOL + 1:
            raise ValueError(f"RFC 3797 allows at most {rfc3797.MAX_POOL + 1} rounds in a draw")
        remaining = list(range(members)) if count else []
        drawn = []
        for _ in range(count):
            value = int.from_bytes(rfc3797.round_digest(key, rounds), "big")
            drawn.append(remaining.pop(value % len(remaining)))
            rounds += 1
        return drawn

    return _select(lines, strata, draw, members)


def _select(
    lines: Sequence[str],
    strata: Mapping[str, Mapping[str, Any]],
    draw: StratumDraw,
    members: Mapping[str, Sequence[int]] | None,
) -> tuple[list[Picked], dict[str, dict[str, int]]]:
    """The 100 % list, then each class in ``A, B, C, D`` order drawn by ``draw``."""
    if members is None:
        members = stratum_members(lines)
    unknown = sorted(set(strata) - set(STRATA))
    if unknown:
        raise ValueError(f"unknown strata {unknown}")

    def pick(position: int, stratum: str) -> Picked:
        return Picked(lines[position][: lines[position].index("\t")], stratum, position)

    picked = [pick(p, FULL_LIST) for p in members[FULL_LIST]]
    summary = {FULL_LIST: {"pool": len(members[FULL_LIST]), "count": len(members[FULL_LIST])}}
    for stratum in STRATA:
        pool = members[stratum]
        count = stratum_count(len(pool), strata[stratum]) if stratum in strata else 0
        summary[stratum] = {"pool": len(pool), "count": count}
        picked += [pick(pool[p], stratum) for p in draw(stratum, len(pool), count)]
    return picked, summary


def stratum_members(lines: Sequence[str]) -> dict[str, list[int]]:
    """Positions of each stratum's members in the pool, in pool order."""
    members: dict[str, list[int]] = {s: [] for s in (FULL_LIST, *STRATA)}
    append = {s: m.append for s, m in members.items()}
    try:
        column = [line.split("\t", 2)[1] for line in lines]
    except IndexError:
        raise ValueError("every pool line has 4 tab-separated fields") from None
    for position, stratum in enumerate(column):
        try:
            append[stratum](position)
        except KeyError:
            raise ValueError(
                f"pool line {position} has no valid stratum: {lines[position]!r}"
            ) from None
    return members
