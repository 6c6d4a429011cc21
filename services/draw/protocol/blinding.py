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

import array
import bisect
import gc
import hashlib
import operator
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from services.draw.protocol import merkle
from services.draw.protocol.canonical import FULL_LIST, STRATA, canonical_json
from services.draw.protocol.groups import covers
from services.draw.protocol.subjects import stratum_members

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


def units_that_decide(full: Mapping[str, Any]) -> set[str]:
    """The units whose tokens the public sees: those of roster inspectors, when 所所交叉
    is on (a subject's unit no inspector has excludes nobody, as its empty token does)."""
    if not full.get("rules", {}).get("cross_jurisdiction", False):
        return set()
    return {str(row[3]) for row in full["roster"] if row[3]}


def relevant_bars(
    full: Mapping[str, Any], lines: Sequence[str], bars: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """Of each subject's bars, the inspectors who could otherwise take a seat of its group
    (§8: of a seat's department, qualified for its categories, with a jurisdiction that
    covers the subject's region): a bar on anyone else decides nothing, and publishing it
    would only disclose a conflict."""
    wanted = {str(d["department"]): set(d["categories"]) for d in full["departments"]}
    roster = {
        str(row[0]): (str(row[1]), str(row[2]), set(row[4]))
        for row in full["roster"]
        if str(row[1]) in wanted and wanted[str(row[1])] <= set(row[4])
    }
    out: dict[str, list[str]] = {}
    for identifier, barred in bars.items():
        at = bisect.bisect_left(lines, identifier + "\t")
        if at == len(lines) or not lines[at].startswith(identifier + "\t"):
            continue  # not in the pool: bars nobody drawn
        region = lines[at].split("\t")[2]
        kept = [i for i in barred if i in roster and covers(roster[i][1], region)]
        if kept:
            out[identifier] = kept
    return out


def private_hash(full: Mapping[str, Any], key: bytes) -> str:
    """SHA-256 of the full announcement and the blinding key, in canonical JSON."""
    document = {"announcement": dict(full), "blinding_key": key.hex()}
    return hashlib.sha256(canonical_json(document)).hexdigest()


def keyed_members(lines: Sequence[str], key: bytes) -> dict[str, list[int]]:
    """Each stratum's members (line indexes) in **keyed order**: by their salts, which only
    the blinding key gives. This is the order of the stratum's tree, and the order §7
    samples positions from in ssj-draw-3: in pool (identifier) order, an opened leaf's
    position would tell anyone who knows the pool's identifiers how many of the
    stratum's members sort before it, and so the classes of subjects never drawn."""
    return order_by_salts(stratum_members(lines), salts(key, len(lines)))


# Puts each stratum's line indexes (in pool order) in keyed order, given the salts.
Sorter = Callable[[dict[str, list[int]], bytes], dict[str, list[int]]]


def order_by_salts(members: dict[str, list[int]], salted: bytes) -> dict[str, list[int]]:
    """Sort each stratum's line indexes by their salts' first 8 bytes read as an unsigned
    big-endian integer (ties, of chance 2⁻⁶⁴ a pair, in pool order). A million keys are
    read out of the salts in one C call, not cut one by one."""
    words = array.array("Q")
    words.frombytes(salted)
    if sys.byteorder == "little":
        words.byteswap()
    first = words[::4].tolist()  # the first 8 bytes of each 32-byte salt
    for positions in members.values():
        positions.sort(key=first.__getitem__)
    return members


class Trees:
    """The strata's trees over a full pool (lines in canonical order), under a key.

    A province's pool is a million lines, hashed once at announcement: the loop below cuts
    each line from the right (the region is six digits, the stratum one character before
    it) and adds the few subjects with bars from a small map; each stratum's leaves are
    then put in keyed order (:func:`keyed_members`) and its tree built."""

    def __init__(
        self,
        full: Mapping[str, Any],
        lines: Sequence[str],
        key: bytes,
        sort: Sorter | None = None,
    ) -> None:
        """``sort`` puts each stratum's line indexes in keyed order (:func:`order_by_salts`,
        or the service's NumPy version of it)."""
        self.key = key
        self._lines = lines
        self._bars = bars = relevant_bars(full, lines, bars_of(full))
        self._salts = salted = salts(key, len(lines))
        # A unit decides something only under 所所交叉 and when an inspector of the roster
        # has it; otherwise its token would only tell the public which subjects share one.
        self._tokened = tokened = units_that_decide(full)
        tokens: dict[str, str] = {u: "" for u in {*(r[3] for r in full["roster"])} - tokened}
        sha = hashlib.sha256
        leaves: list[bytes] = []
        leaf = leaves.append
        members: dict[str, list[int]] = {s: [] for s in ORDER}
        member = {s: members[s].append for s in ORDER}
        barred_at = {}  # line index → its bars, for the few subjects that have any
        for identifier, barred in bars.items():
            at = bisect.bisect_left(lines, identifier + "\t")
            if at < len(lines) and lines[at].startswith(identifier + "\t"):
                barred_at[at] = ",".join(barred)
        at = 0
        # A million tuples and digests made and dropped: the cyclic collector would walk
        # the whole heap again and again for nothing (none of them forms a cycle).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for at, line in enumerate(lines):
                head, _, unit = line.rpartition("\t")
                token = tokens.get(unit)
                if token is None:
                    token = tokens[unit] = unit_token(key, unit) if unit in tokened else ""
                text = f"{head}\t{token}\t{barred_at.get(at, '')}"
                leaf(sha(b"\x00" + salted[32 * at : 32 * at + 32] + text.encode()).digest())
                # A six-digit region and a one-character stratum before it, or the slow
                # way (a stratum of more than one character is a KeyError below).
                quick = head[-7] == "\t" and head[-9] == "\t"
                member[head[-8] if quick else head.split("\t")[1]](at)
                if head.count("\t") != 2:
                    raise ValueError
            self.order = (sort or order_by_salts)(members, salted)
            self.position = array.array("l", bytes(8 * len(lines)))  # line → place in tree
            self.levels: dict[str, list[list[bytes]]] = {}
            for s, order in self.order.items():
                for p, i in enumerate(order):
                    self.position[i] = p
                self.levels[s] = merkle.levels(
                    list(operator.itemgetter(*order)(leaves))
                    if len(order) > 1
                    else [leaves[i] for i in order]
                )
        except (ValueError, KeyError, IndexError):
            raise ValueError(
                f"pool line {at} is not: identifier, stratum (*, A-D), region, unit"
            ) from None
        finally:
            if collecting:
                gc.enable()

    def roots(self) -> dict[str, dict[str, Any]]:
        """``{stratum: {"size", "root"}}`` for the public announcement."""
        return {
            s: {
                "size": len(levels[0]),
                "root": (levels[-1][0] if levels[0] else merkle.EMPTY_ROOT).hex(),
            }
            for s, levels in self.levels.items()
        }

    def _at(self, identifier: str) -> int:
        """The line index of a subject (KeyError: not in the pool)."""
        at = bisect.bisect_left(self._lines, identifier + "\t")
        if at == len(self._lines) or not self._lines[at].startswith(identifier + "\t"):
            raise KeyError(identifier)
        return at

    def _opening(self, at: int, position: int) -> tuple[str, dict[str, Any]]:
        identifier, stratum, region, unit = self._lines[at].split("\t")
        token = unit_token(self.key, unit) if unit in self._tokened else ""
        text = leaf_line(identifier, stratum, region, token, self._bars.get(identifier, ()))
        return stratum, {
            "position": position,
            "salt": self._salts[32 * at : 32 * at + 32].hex(),
            "line": text,
            "path": [h.hex() for h in merkle.path(self.levels[stratum], position)],
        }

    def opening(self, identifier: str) -> tuple[str, dict[str, Any]]:
        """The stratum and opening (position, salt, line, path) of a subject's leaf."""
        at = self._at(identifier)
        return self._opening(at, self.position[at])

    def openings(self, identifiers: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The openings of these subjects' leaves, per stratum, by position."""
        out: dict[str, list[dict[str, Any]]] = {}
        for at in {self._at(i) for i in identifiers}:
            stratum, opened = self._opening(at, self.position[at])
            out.setdefault(stratum, []).append(opened)
        return {s: sorted(v, key=lambda o: o["position"]) for s, v in sorted(out.items())}


def public_announcement(
    full: Mapping[str, Any], key: bytes, roots: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The announcement the public sees and the seed binds, from the full one."""
    public = {k: v for k, v in full.items() if k not in PRIVATE_KEYS}
    deciding = units_that_decide(full)
    public["roster"] = [
        [row[0], row[1], row[2], unit_token(key, row[3]) if row[3] in deciding else "", row[4]]
        for row in full["roster"]
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
