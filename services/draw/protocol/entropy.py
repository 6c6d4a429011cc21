"""Public entropy as data (protocol ``ssj-draw-3``): a lottery result is numbers, not text.

Protocol ``ssj-draw-2`` hashed the entropy as typed. Twelve ordinary spellings of one
lottery result (spaces or commas, full-width digits, ``+`` or not) gave twelve seeds, and an
invisible character (U+200B) could be inserted until a wanted company came out. From v3
the announcement fixes the **format** of the numbers its source will publish (for
福彩双色球: six red balls 01–33 in ascending order, then one blue ball 01–16); execution
reads what is typed into those numbers (:func:`parse_numbers`) and refuses anything else;
the seed hashes one encoding of the numbers (:func:`numbers_bytes`), so every spelling of
the same result gives the same draw and no spelling gives another.

**Format** (``format`` in the announcement's ``entropy``)::

    {"groups": [{"name": "red", "count": 6, "low": 1, "high": 33, "ordered": false},
                {"name": "blue", "count": 1, "low": 1, "high": 16, "ordered": false}]}

A group is ``count`` whole numbers from ``low`` to ``high``. ``ordered`` false: a set,
published in ascending order with no number twice (lottery balls); true: a sequence whose
order matters and whose numbers may repeat (the digits of 福彩3D).

**Reading** (:func:`parse_numbers`): the text is NFKC-normalised (full-width digits and
punctuation become ASCII); it may hold only ASCII digits and the separators of
:data:`SEPARATORS`; its runs of digits are the numbers, in order, filling the groups one
after the other (the first six are red, the seventh blue); there must be exactly as many as
the groups hold, each in its range, each set group strictly ascending. Labels (红球),
letters, invisible and control characters are refused: the typist copies the numbers only.

**Encoding** (:func:`numbers_bytes`): the canonical JSON of the list of groups, each the
list of its numbers as integers (``[[3,9,14,22,27,31],[8]]``). :func:`canonical_text`
writes the same numbers for people (``03 09 14 22 27 31 | 08``), which the proof carries
and the verifier reads back and requires to be written exactly so.

**RFC 3797** (:func:`rfc3797_sources`): each group is one source of the RFC, in the
format's order; so a bonus ball is its own source, by the format, not by a guess.
"""

from __future__ import annotations

import itertools
import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What may stand between numbers besides whitespace (after NFKC: full-width forms fold in).
SEPARATORS = frozenset(",+/|;、·")
GROUP_SEPARATOR = " | "
# The fewest possible results a source's drawing may have (EntropyFormat.weakness).
MIN_OUTCOMES = 10_000_000
MAX_GROUPS = 8
MAX_NUMBERS = 64  # 快乐8 publishes 20; room for bigger games, never unbounded
MAX_VALUE = 10**6


class EntropyError(ValueError):
    """The typed entropy does not read as the announced source's numbers (says why)."""


@dataclass(frozen=True)
class NumberGroup:
    """One group of a source's numbers (红球, 蓝球, …)."""

    name: str
    count: int
    low: int
    high: int
    ordered: bool = False  # False: a set, ascending, no repeats; True: a sequence

    def as_json(self) -> dict[str, Any]:
        """The group as the announcement writes it."""
        return {
            "name": self.name,
            "count": self.count,
            "low": self.low,
            "high": self.high,
            "ordered": self.ordered,
        }


@dataclass(frozen=True)
class EntropyFormat:
    """The shape of the numbers a public source publishes at each drawing."""

    groups: tuple[NumberGroup, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.groups) <= MAX_GROUPS:
            raise ValueError(f"a format has 1 to {MAX_GROUPS} groups")
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError("group names must differ")
        total = 0
        for g in self.groups:
            _check_int(g.count, "count")
            _check_int(g.low, "low")
            _check_int(g.high, "high")
            if not g.name or not g.name.isascii() or not g.name.replace("_", "").isalnum():
                raise ValueError(f"group name {g.name!r}: ASCII letters, digits and _ only")
            if not 0 <= g.low < g.high <= MAX_VALUE:
                raise ValueError(f"group {g.name}: need 0 <= low < high <= {MAX_VALUE}")
            if g.count < 1:
                raise ValueError(f"group {g.name}: count must be at least 1")
            if not g.ordered and g.count > g.high - g.low + 1:
                raise ValueError(f"group {g.name}: {g.count} distinct numbers do not fit")
            total += g.count
        if total > MAX_NUMBERS:
            raise ValueError(f"a format has at most {MAX_NUMBERS} numbers")

    @property
    def size(self) -> int:
        """How many numbers one drawing publishes."""
        return sum(g.count for g in self.groups)

    @property
    def outcomes(self) -> int:
        """How many different results one drawing can have: per group, sequences of
        ``count`` numbers (ordered) or sets of ``count`` distinct numbers."""
        total = 1
        for g in self.groups:
            width = g.high - g.low + 1
            total *= width**g.count if g.ordered else math.comb(width, g.count)
        return total

    def weakness(self) -> str | None:
        """Why a drawing of this shape is too small a source of entropy (None: it is not).

        Whoever fixes the secret can try many before announcing, and with few possible
        results pick one under which a chosen company's chance, averaged over the results,
        is highest: an independent attack moved a 5 % chance to 7.5 % with a 1,000-result
        source (福彩3D). The bias shrinks with the square root of the number of results; at
        :data:`MIN_OUTCOMES` a million tries move a 5 % chance by less than a hundredth of
        itself."""
        if self.outcomes < MIN_OUTCOMES:
            return (
                f"a drawing of this format has {self.outcomes:,} possible results; a draw "
                f"needs a source of at least {MIN_OUTCOMES:,} (福彩双色球 has 17,721,088), or "
                "whoever fixes the secret could pick one that favours a chosen company"
            )
        return None

    def as_json(self) -> dict[str, Any]:
        """The format as the announcement writes it."""
        return {"groups": [g.as_json() for g in self.groups]}

    @classmethod
    def from_json(cls, value: Any) -> EntropyFormat:
        """Read a format strictly (exact keys and JSON types), as the verifier must."""
        if not isinstance(value, Mapping) or set(value) != {"groups"}:
            raise ValueError('a format is {"groups": [...]} and nothing else')
        groups = value["groups"]
        if not isinstance(groups, list):
            raise ValueError("format groups must be a list")
        out = []
        for g in groups:
            if not isinstance(g, Mapping) or set(g) != {"name", "count", "low", "high", "ordered"}:
                raise ValueError("a group has exactly name, count, low, high and ordered")
            if not isinstance(g["name"], str) or not isinstance(g["ordered"], bool):
                raise ValueError("a group's name is a string and ordered a boolean")
            out.append(NumberGroup(g["name"], g["count"], g["low"], g["high"], g["ordered"]))
        return cls(tuple(out))


def _check_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")


Numbers = tuple[tuple[int, ...], ...]


def _tokens(text: str) -> list[str]:
    """The runs of digits of ``text`` (NFKC), refusing anything but digits and separators."""
    folded = unicodedata.normalize("NFKC", text)
    tokens: list[str] = []
    current: list[str] = []
    for position, char in enumerate(folded, start=1):
        if "0" <= char <= "9":
            current.append(char)
            continue
        if current:
            tokens.append("".join(current))
            current = []
        if char in SEPARATORS or char in " \t\n\r":
            continue
        name = unicodedata.name(char, f"U+{ord(char):04X}")
        raise EntropyError(
            f"character {position} ({name}) is not a digit or a separator: type the numbers "
            f"only, separated by spaces or one of {''.join(sorted(SEPARATORS))} "
            "(输入开奖号码本身，不含文字)"
        )
    if current:
        tokens.append("".join(current))
    return tokens


def parse_numbers(fmt: EntropyFormat, text: str) -> Numbers:
    """The numbers ``text`` gives for a source of format ``fmt``; raises
    :class:`EntropyError` naming the first thing that does not fit."""
    if not isinstance(text, str):
        raise EntropyError("the entropy is text")
    tokens = _tokens(text)
    if len(tokens) != fmt.size:
        raise EntropyError(
            f"the source publishes {fmt.size} numbers "
            f"({', '.join(f'{g.count} {g.name}' for g in fmt.groups)}); {len(tokens)} typed"
        )
    numbers: list[tuple[int, ...]] = []
    at = 0
    for group in fmt.groups:
        chunk = tuple(int(t) for t in tokens[at : at + group.count])
        at += group.count
        for n in chunk:
            if not group.low <= n <= group.high:
                raise EntropyError(f"{group.name}: {n} is outside {group.low}-{group.high}")
        if not group.ordered and any(a >= b for a, b in itertools.pairwise(chunk)):
            raise EntropyError(
                f"{group.name}: the numbers of a set are published in ascending order, each "
                f"once; read {' '.join(map(str, chunk))}"
            )
        numbers.append(chunk)
    return tuple(numbers)


def numbers_bytes(numbers: Numbers) -> bytes:
    """What the seed hashes of the entropy: canonical JSON of the groups' numbers."""
    return json.dumps([list(g) for g in numbers], separators=(",", ":")).encode("ascii")


def canonical_text(fmt: EntropyFormat, numbers: Numbers) -> str:
    """The numbers as people read them: each zero-padded to its group's widest number,
    separated by spaces, groups by `` | ``."""
    parts = []
    for group, chunk in zip(fmt.groups, numbers, strict=True):
        width = len(str(group.high))
        parts.append(" ".join(str(n).zfill(width) for n in chunk))
    return GROUP_SEPARATOR.join(parts)


def rfc3797_sources(numbers: Numbers) -> list[str]:
    """The sources of RFC 3797 (:mod:`.rfc3797`): one per group, in the format's order."""
    return [" ".join(str(n) for n in group) for group in numbers]


def read_canonical(fmt: EntropyFormat, text: str) -> Numbers:
    """The numbers of an entropy text that must be written exactly as
    :func:`canonical_text` writes them (the proof's ``entropy``)."""
    numbers = parse_numbers(fmt, text)
    if canonical_text(fmt, numbers) != text:
        raise EntropyError(
            f"entropy {text!r} is not in canonical form {canonical_text(fmt, numbers)!r}"
        )
    return numbers


def _shape(*groups: tuple[str, int, int, int, bool]) -> EntropyFormat:
    return EntropyFormat(tuple(NumberGroup(*g) for g in groups))


# The shapes of the national lotteries' results, as templates for registering a source
# (the office registers each source with its shape, publisher and schedule).
SHAPES: dict[str, EntropyFormat] = {
    "ssq": _shape(("red", 6, 1, 33, False), ("blue", 1, 1, 16, False)),  # 福彩双色球
    "dlt": _shape(("front", 5, 1, 35, False), ("back", 2, 1, 12, False)),  # 体彩超级大乐透
    "qlc": _shape(("basic", 7, 1, 30, False), ("special", 1, 1, 30, False)),  # 福彩七乐彩
    "kl8": _shape(
        ("numbers", 20, 1, 80, False),
    ),  # 福彩快乐8
    "fc3d": _shape(
        ("digits", 3, 0, 9, True),
    ),  # 福彩3D
    "pl3": _shape(
        ("digits", 3, 0, 9, True),
    ),  # 体彩排列3
    "pl5": _shape(
        ("digits", 5, 0, 9, True),
    ),  # 体彩排列5
    "qxc": _shape(("digits", 6, 0, 9, True), ("last", 1, 0, 14, False)),  # 体彩七星彩
}

# The lotteries a draw may name by code, with the shape of what their publishers publish:
# the verifier compares an announcement naming one of these codes with this shape, so an
# office cannot declare a wider range (福彩3D's digits as 0-999999) or a group the lottery
# never draws (a number typed after the drawing: a free choice of seed). Every other
# source is an on-site drawing (现场摇号), whose shape its witnesses compare.
LOTTERIES: dict[str, tuple[str, EntropyFormat]] = {
    "cwl-ssq": ("中国福利彩票双色球", SHAPES["ssq"]),
    "cwl-qlc": ("中国福利彩票七乐彩", SHAPES["qlc"]),
    "cwl-kl8": ("中国福利彩票快乐8", SHAPES["kl8"]),
    "slt-dlt": ("中国体育彩票超级大乐透", SHAPES["dlt"]),
    "slt-qxc": ("中国体育彩票七星彩", SHAPES["qxc"]),
}


def lottery_problem(source: str, fmt: EntropyFormat) -> str | None:
    """Why a source's declared format is not its lottery's (None: it is, or the source is
    no known lottery)."""
    known = LOTTERIES.get(source)
    if known is not None and known[1] != fmt:
        return (
            f"{source} is {known[0]}, whose drawings publish {known[1].as_json()}, not "
            f"{fmt.as_json()}"
        )
    return None
