"""Publicly verifiable random selection of RFC 3797 (Eastlake, June 2004).

RFC 3797, "Publicly Verifiable Nominations Committee (NomCom) Random Selection", lets anyone
re-run a draw from values published later by sources nobody controls (lottery draws and
the like). This module does what its section 4 ("A Suggested Precise Algorithm") and its
reference program (section 8, "Reference Code") do, using the standard library only:

1. **Key** (section 4, :func:`canonical_key`). Each source gives whole numbers. Each is
   written in decimal without leading zeros and followed by ``"."``; the numbers of one
   source are sorted from smallest to largest and joined, then ``"/"`` ends the source.
   The sources are joined in their announced order, never re-sorted, and the key is the
   ASCII of the result. The worked example of section 6 gives
   ``9319./2.5.8.10.12./9.18.26.34.41.45./``.
2. **Round values** (section 4, :func:`round_digest`). Round *i*, counting from 0, hashes
   ``MD5(u16be(i) ‖ key ‖ u16be(i))``. The 2-byte big-endian counter comes before and
   after the key, and the 16-byte digest is read as an unsigned 128-bit big-endian integer.
3. **Selection** (section 4 and the loop of section 8, :func:`select`). The pool is
   numbered ``1 … P`` in its published order. Round *i* takes ``value mod (P − i)`` as a
   0-based index into the members still unselected, in their original order, and removes
   that member.

Things this module does not accept, and why:

- **Reals.** Section 8 reads reals only in a separate ``float`` input mode and does not
  sort them, so this module takes whole numbers only and no draw can depend on which
  rule was meant.
- **Text and signs.** Sources must be non-negative whole numbers in ASCII digits. Section
  4 only defines numeric values, and section 8 rejects anything else. Commas are refused
  rather than guessed at: "1,000" could be one number or two.
- **Pools above 65 535.** Section 8 stops with "Pool too big." The counter has two bytes.

The reference program can only read up to 16 sources of up to 16 integers each, and at
most about 500 key characters. This module has no such limit. Draws that stay inside it
give the same result in both programs.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Sequence

MAX_POOL = 65_535  # section 8: "pool limit of 2**8-1 extended to 2**16-1"; "Pool too big."
_NUMBER = re.compile(r"[0-9]+")


def _source_part(position: int, source: str) -> str:
    """One source as section 4 writes it: sorted, ``"N."`` each, ``"/"`` at the end."""
    if not isinstance(source, str):
        raise ValueError(f"source {position} must be a string, not {type(source).__name__}")
    tokens = source.split()
    if not tokens:
        raise ValueError(f"source {position} is empty: give at least one number")
    numbers: list[int] = []
    for token in tokens:
        if not _NUMBER.fullmatch(token):
            raise ValueError(
                f"source {position}: {token!r} is not a whole number; RFC 3797 sources are "
                "non-negative whole numbers in ASCII digits 0-9, separated by spaces"
            )
        numbers.append(int(token))  # int() drops leading zeros, as section 4 requires
    return "".join(f"{n}." for n in sorted(numbers)) + "/"


def canonical_key(sources: Sequence[str]) -> str:
    """The key string of RFC 3797 section 4 for ``sources``, in their announced order.

    Each source is one string of whole numbers separated by whitespace, for example
    ``"2 5 12 8 10"``. Its numbers are sorted from smallest to largest. Each is written
    without leading zeros and followed by ``"."``, and ``"/"`` ends the source. Section 6
    example: ``["9319", "2 5 12 8 10", "9 18 26 34 41 45"]`` gives
    ``"9319./2.5.8.10.12./9.18.26.34.41.45./"``.

    Raises :class:`ValueError` when there is no source, when a source is empty, or when
    a source holds anything other than non-negative whole numbers in ASCII digits.
    """
    if isinstance(sources, str):
        raise ValueError("sources must be a sequence of strings, one per source, not one string")
    if len(sources) == 0:
        raise ValueError("at least one source of randomness is required")
    return "".join(_source_part(i, s) for i, s in enumerate(sources, start=1))


def parse_sources(entropy: str) -> list[str]:
    """The sources of an entropy text that lists them separated by ``/``, as the draw
    service takes them: ``"9319 / 2 5 12 8 10 / 9 18 26 34 41 45"``. The key is checked
    (:func:`canonical_key`), so a malformed text fails here."""
    sources = [part.strip() for part in entropy.split("/")]
    if sources and not sources[-1]:
        sources.pop()  # a closing "/", as the key itself writes it
    canonical_key(sources)
    return sources


def round_digest(key: str, round_index: int) -> bytes:
    """The MD5 digest of round ``round_index`` (0-based), RFC 3797 sections 4 and 8.

    The input is ``u16be(round_index) ‖ ASCII(key) ‖ u16be(round_index)``. The RFC's
    section 6 table prints these digests in hex, one per round.
    """
    if not 0 <= round_index <= 0xFFFF:
        raise ValueError(f"round index must be in [0, 65535], not {round_index}")
    counter = round_index.to_bytes(2, "big")
    return hashlib.md5(counter + key.encode("ascii") + counter, usedforsecurity=False).digest()


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")


def select(pool_size: int, count: int, sources: Sequence[str]) -> list[int]:
    """The 1-based pool positions chosen by RFC 3797, in selection order.

    ``pool_size`` is the number of pool members, numbered ``1 … pool_size`` in the order
    published before the draw. ``count`` is how many to select, and ``sources`` are the
    random values in their announced order (see :func:`canonical_key`). Round *i* (from 0)
    reads :func:`round_digest` as a 128-bit big-endian unsigned integer *v*. It picks the
    ``(v mod remaining)``-th member (0-based) of those still unselected, kept in their
    original order, and removes it (section 4, and the selection loop of section 8).

    Raises :class:`ValueError` if ``pool_size`` is not in ``[1, 65535]``, if ``count`` is
    not in ``[1, pool_size]``, or if the sources are invalid.
    """
    _check_count("pool_size", pool_size)
    _check_count("count", count)
    if pool_size < 1:
        raise ValueError(f"pool size must be at least 1, not {pool_size}")
    if pool_size > MAX_POOL:
        raise ValueError(
            f"pool size {pool_size} is too large: RFC 3797 (2-byte round counter) allows "
            f"at most {MAX_POOL}"
        )
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    if count > pool_size:
        raise ValueError(f"cannot select {count} from a pool of {pool_size}")
    key = canonical_key(sources)
    remaining = list(range(1, pool_size + 1))
    chosen: list[int] = []
    for round_index in range(count):
        value = int.from_bytes(round_digest(key, round_index), "big")
        chosen.append(remaining.pop(value % len(remaining)))
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--pool-size N --count K SOURCE...``; prints positions, one a line.

    Each SOURCE is one argument holding one source's numbers, for example
    ``"9 18 26 34 41 45"``. Returns 0 on success and 2 on bad input, with a message on
    standard error.
    """
    parser = argparse.ArgumentParser(
        prog="rfc3797",
        description=(
            "Publicly verifiable random selection of RFC 3797: print the 1-based positions "
            "selected from a pool, in selection order."
        ),
    )
    parser.add_argument("--pool-size", type=int, required=True, metavar="N", help="pool size")
    parser.add_argument("--count", type=int, required=True, metavar="K", help="how many to select")
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help='one source per argument, its numbers separated by spaces, e.g. "9 18 26 34 41 45"',
    )
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 on --help
        return exc.code if isinstance(exc.code, int) else 2
    try:
        positions = select(args.pool_size, args.count, args.sources)
    except ValueError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    for position in positions:
        print(position)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
