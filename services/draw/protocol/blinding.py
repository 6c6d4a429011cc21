"""Verifiable without disclosing what is internal: the public and the full announcement of
``ssj-draw-3`` (docs/draw-protocol.md §3a).

The draw depends on what supervision keeps internal: each pooled subject's credit-risk
class and supervising unit, the declared conflicts of interest (回避) and who inspected a
subject last time. The **full announcement** (what the service freezes, what auditors
get) holds them all; the **public announcement**, whose hash the seed binds and whose
proof anyone downloads, holds instead:

- per stratum (``*``, ``A``–``D``) the size and the RFC 9162 Merkle root (:mod:`.merkle`)
  of its members' **leaves** in pool order, where a leaf is ``SHA-256(0x00 ‖ salt ‖
  line)``, ``line`` = ``identifier TAB stratum TAB region TAB unit token TAB bars``;
- the roster with each inspector's unit replaced by its **unit token**, so that 所所交叉
  (an inspector's token differs from the subject's) is decided exactly as with the names;
- ``private_hash``, the SHA-256 of the full announcement and the blinding key together,
  so the full one is fixed before the entropy exists too.

The salts are 32-byte blocks of ``SHAKE-256("ssj-draw-3 salt" ‖ 0x00 ‖ key)``, block ``i``
for the pool's line ``i``; ``token`` is the first 32 hex digits of ``SHA-256("ssj-draw-3
unit" ‖ 0x00 ‖ key ‖ unit)`` (empty for no unit); the **blinding key** is 32 random bytes
per announcement that only the full proof reveals. (SHAKE-256 is an extendable-output
function: blocks revealed for opened leaves say nothing of the others, and a million salts
come out of one call, where a keyed hash per subject would add a second at that scale.)
``bars`` are the inspectors barred from the subject (a declared conflict, or last time's
inspector when that rule is on), sorted, joined by commas, without saying which.

After execution the public proof **opens** the leaves the draw used (the selected, the
replacements and the alternates passed over): line, salt and inclusion path, so anyone
checks they are the committed leaves at the positions the seed gives, and recomputes the
groups from them. Unopened leaves stay salted hashes: the public learns the strata's sizes
and, of the drawn only, the stratum, region, an opaque unit token and the barred
inspectors. A subject gets the opening of its own leaf; auditors the full proof.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from services.draw.protocol import merkle
from services.draw.protocol.canonical import FULL_LIST, STRATA, canonical_json

KEY_BYTES = 32
ORDER = (FULL_LIST, *STRATA)  # the strata, each its own tree, in this order
# What the public announcement leaves out of the full one.
PRIVATE_KEYS = ("pool_hash", "conflicts", "previous")
PUBLIC_KEYS = ("pool_roots", "private_hash")  # and what it adds
TOKEN_HEX = 32
_TOKEN = re.compile(f"[0-9a-f]{{{TOKEN_HEX}}}")
_SALT_TAG = b"ssj-draw-3 salt\x00"
_UNIT_TAG = b"ssj-draw-3 unit\x00"


def salts(key: bytes, size: int) -> bytes:
    """The salts of a pool of ``size`` lines: 32 bytes each, line ``i``'s at ``32·i``."""
    return hashlib.shake_256(_SALT_TAG + key).digest(32 * size) if size else b""


def unit_token(key: bytes, unit: str) -> str:
    """A unit's token in this draw (empty for no unit)."""
    if not unit:
        return ""
    return hashlib.sha256(_UNIT_TAG + key + unit.encode("utf-8")).hexdigest()[:TOKEN_HEX]


def leaf_line(identifier: str, stratum: str, region: str, token: str, bars: Iterable[str]) -> str:
    """The text a leaf commits to."""
    return "\t".join((identifier, stratum, region, token, ",".join(bars)))


def leaf_hash(salt_: bytes, line: str) -> bytes:
    """``SHA-256(0x00 ‖ salt ‖ line)``: an RFC 9162 leaf whose data is salt and line."""
    return hashlib.sha256(b"\x00" + salt_ + line.encode("utf-8")).digest()


def bars_of(announcement: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per subject identifier, the inspectors barred from it, sorted (full announcement)."""
    rows = list(announcement.get("conflicts", []))
    if announcement.get("rules", {}).get("avoid_previous_inspectors", True):
        rows += announcement.get("previous", [])
    out: dict[str, set[str]] = {}
    for inspector_id, identifier in rows:
        out.setdefault(str(identifier), set()).add(str(inspector_id))
    return {k: sorted(v) for k, v in out.items()}


def private_hash(full: Mapping[str, Any], key: bytes) -> str:
    """SHA-256 of the full announcement and the blinding key, in canonical JSON."""
    document = {"announcement": dict(full), "blinding_key": key.hex()}
    return hashlib.sha256(canonical_json(document)).hexdigest()


class Trees:
    """The strata's trees over a full pool (lines in canonical order), under a key."""

    def __init__(self, full: Mapping[str, Any], lines: Sequence[str], key: bytes) -> None:
        self.key = key
        bars = bars_of(full)
        tokens: dict[str, str] = {}
        salted = salts(key, len(lines))
        sha = hashlib.sha256
        leaves: dict[str, list[bytes]] = {s: [] for s in ORDER}
        add = {s: leaves[s].append for s in ORDER}
        self._index: dict[str, tuple[int, int]] = {}  # by opening(), when first asked
        self._lines = lines
        self._bars = bars
        self._salts = salted
        at = 0
        try:
            for at, line in enumerate(lines):
                identifier, stratum, region, unit = line.split("\t")
                token = tokens.get(unit)
                if token is None:
                    token = tokens[unit] = unit_token(key, unit)
                barred = ",".join(bars.get(identifier, ()))
                text = f"{identifier}\t{stratum}\t{region}\t{token}\t{barred}"
                salt = salted[32 * at : 32 * at + 32]
                add[stratum](sha(b"\x00" + salt + text.encode("utf-8")).digest())
        except (ValueError, KeyError):
            raise ValueError(
                f"pool line {at} is not: identifier, stratum (*, A-D), region, unit"
            ) from None
        self.levels: dict[str, list[list[bytes]]] = {s: merkle.levels(leaves[s]) for s in ORDER}

    def roots(self) -> dict[str, dict[str, Any]]:
        """``{stratum: {"size", "root"}}`` for the public announcement."""
        return {
            s: {
                "size": len(levels[0]),
                "root": (levels[-1][0] if levels[0] else merkle.EMPTY_ROOT).hex(),
            }
            for s, levels in self.levels.items()
        }

    def opening(self, identifier: str) -> tuple[str, dict[str, Any]]:
        """The stratum and opening (position, salt, line, path) of a subject's leaf."""
        if not self._index:
            count = dict.fromkeys(ORDER, 0)
            for at, line in enumerate(self._lines):
                ident, stratum, _ = line.split("\t", 2)
                self._index[ident] = (at, count[stratum])
                count[stratum] += 1
        at, position = self._index[identifier]  # KeyError: not in the pool
        _, stratum, region, unit = self._lines[at].split("\t")
        text = leaf_line(
            identifier, stratum, region, unit_token(self.key, unit), self._bars.get(identifier, ())
        )
        return stratum, {
            "position": position,
            "salt": self._salts[32 * at : 32 * at + 32].hex(),
            "line": text,
            "path": [h.hex() for h in merkle.path(self.levels[stratum], position)],
        }

    def openings(self, identifiers: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The openings of these subjects' leaves, per stratum, by position."""
        out: dict[str, list[dict[str, Any]]] = {}
        for identifier in dict.fromkeys(identifiers):
            stratum, opened = self.opening(identifier)
            out.setdefault(stratum, []).append(opened)
        return {s: sorted(v, key=lambda o: o["position"]) for s, v in sorted(out.items())}


def public_announcement(
    full: Mapping[str, Any], key: bytes, roots: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The announcement the public sees and the seed binds, from the full one."""
    public = {k: v for k, v in full.items() if k not in PRIVATE_KEYS}
    public["roster"] = [
        [row[0], row[1], row[2], unit_token(key, str(row[3])), row[4]] for row in full["roster"]
    ]
    public["pool_roots"] = {s: dict(roots[s]) for s in ORDER}
    public["private_hash"] = private_hash(full, key)
    return public


class OpenedPool(Sequence[str]):
    """The pool as a public proof shows it: strata one after another (``*``, ``A``–``D``)
    at virtual positions, and only the opened lines readable, as ``identifier TAB stratum
    TAB region TAB unit token`` (what the protocol's computation reads of a line)."""

    def __init__(self, sizes: Mapping[str, int], opened: Mapping[str, Mapping[int, str]]):
        self.offsets: dict[str, int] = {}
        at = 0
        for s in ORDER:
            self.offsets[s] = at
            at += sizes[s]
        self._size = at
        self._lines = {
            self.offsets[s] + position: line
            for s, rows in opened.items()
            for position, line in rows.items()
        }
        self._sizes = dict(sizes)

    def members(self) -> dict[str, range]:
        """Each stratum's virtual positions, in pool order."""
        return {s: range(self.offsets[s], self.offsets[s] + self._sizes[s]) for s in ORDER}

    def __len__(self) -> int:
        return self._size

    def opened_lines(self) -> list[str]:
        """The opened lines, in virtual position order."""
        return [self._lines[at] for at in sorted(self._lines)]

    def __getitem__(self, at: Any) -> Any:
        if isinstance(at, slice):
            raise TypeError("an opened pool is read one line at a time")
        try:
            return self._lines[at]
        except KeyError:
            stratum = next(s for s in reversed(ORDER) if at >= self.offsets[s])
            raise ValueError(
                f"the draw uses position {at - self.offsets[stratum]} of stratum {stratum}, "
                "which the proof does not open"
            ) from None

    def __iter__(self) -> Iterator[str]:
        raise TypeError("an opened pool cannot be read whole")


def token_ok(token: str) -> bool:
    """A unit token's form: empty or 32 lowercase hex digits."""
    return token == "" or bool(_TOKEN.fullmatch(token))
