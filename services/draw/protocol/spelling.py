"""One spelling only: a proof is accepted only as the draw service writes it.

:mod:`.strict` refuses what could be *read* two ways. This refuses what could be *written*
two ways: if a verifier accepted ``"Z"`` for ``"+00:00"``, an uppercase secret, a key the
service never writes or the file re-indented, two files that are "the same proof" would
differ, and anyone comparing proofs (a hash of the file, a diff, an archive) could be told
they differ for nothing, or could not tell a forgery's extra key from noise. So:

- **The file** (:func:`load`) is at most :data:`MAX_PROOF_BYTES` (refused before it is
  read), nests at most :data:`MAX_JSON_DEPTH` deep, and is exactly the canonical JSON (§2)
  of what it holds: keys sorted, no whitespace, no needless escapes, integers as
  integers. The service serves proofs so (``services/draw/api.py``); a file in any other
  spelling is refused with the first character that differs.
- **The document** (:func:`document_problems`) has exactly the keys its form has.
- **Fields** are each written one way where they are checked: times by :func:`time_spelled`
  (:func:`.v3.instant`, the evidence of §9), the secret as lowercase hex
  (:func:`.checks.secret_problems`), ratios as the service writes them
  (:mod:`.strict`), and recorded values compared with their type (:func:`.checks.compare`).

Standard library only, like the whole package.
"""

from __future__ import annotations

import array
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

# The largest proof file read at all. The biggest honest proofs are a province's: a full
# proof holds every pool line (78.5 bytes a subject at `make bench-draw`'s 200,000, at
# most 92) and ≈ 540 bytes per selected subject; a public proof ≈ 1,550–1,900 bytes per
# opened leaf (its salt and its inclusion path, 17–22 hashes deep). 500 MB takes a full
# proof of ≈ 5 million subjects drawing 2.7 % (the bench's ratios), or a public proof of
# ≈ 270,000 opened leaves; it stays under the longest string a browser holds (V8: 2²⁹ − 24
# characters), so verify.js (MAX_PROOF_BYTES, the same number) can read whatever this can.
MAX_PROOF_BYTES = 500_000_000
# Honest proofs nest 6 deep; the services refuse request bodies nested past 32 too.
# Python's parser would recurse about a thousand deep and stop with a RecursionError.
MAX_JSON_DEPTH = 32
# A public proof's pool is virtual (sizes and roots): only this bounds the work of its
# replacements' alternates. Twice the pool a 500 MB full proof can hold.
MAX_POOL_SIZE = 10_000_000

# A JSON string, escapes included (its brackets are text): one that never closes runs to
# the end. Only for texts with a backslash; without one, splitting on quotes is exact.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_CHUNK = 1 << 16
# A time as the service writes it: datetime.isoformat() of a UTC time (microseconds only
# when there are any).
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?\+00:00")
TIME_FORM = "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"

# The keys of each form of proof (§10): the service writes every one of them.
PUBLIC_KEYS = frozenset(
    {
        "announcement",
        "announcement_hash",
        "opened",
        "secret",
        "entropy",
        "executed_at",
        "replacements",
        "result",
    }
)
FULL_KEYS = (PUBLIC_KEYS - {"opened"}) | {"full_announcement", "blinding_key", "pool"}
V2_KEYS = (PUBLIC_KEYS - {"opened", "executed_at"}) | {"pool"}
V2_OPTIONAL = frozenset({"executed_at"})  # the first ssj-draw-2 proofs had none


def too_large() -> str:
    """Why a file over the cap is not read."""
    return f"a proof file is at most {MAX_PROOF_BYTES:,} bytes; this one is larger"


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # at C speed; a key twice leaves fewer entries than pairs
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"key {twice!r} occurs twice in one object")
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of ``data`` nest, counted, not parsed (a bound for
    malformed JSON: brackets outside strings, from 0, the deepest prefix)."""
    # Without a backslash no quote is escaped: every other piece between quotes is outside.
    outside = _STRING.sub(b"", data) if b"\\" in data else b"".join(data.split(b'"')[0::2])
    steps = array.array("b")
    steps.frombytes(outside.translate(None, _NOT_BRACKETS).translate(_STEPS))
    return max(0, max(itertools.accumulate(steps), default=0))


def _too_deep(depth: int) -> str:
    return f"the JSON nests {depth} levels deep; a proof nests at most {MAX_JSON_DEPTH}"


def _nesting(value: Any) -> int:
    """How deep a parsed value's arrays and objects nest (what :func:`json_depth` counts
    in its text)."""
    if type(value) is not dict and type(value) is not list:
        return 0
    deepest = 0
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        deepest = max(deepest, depth)
        children = container.values() if type(container) is dict else container
        kinds = set(map(type, children))  # at C speed: a pool of a million strings is skipped
        if dict in kinds or list in kinds:
            for child in children:
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
    return deepest


def canonical_text(value: Any) -> str:
    """The canonical JSON of §2 as text (:func:`.canonical.canonical_json` before UTF-8)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _first_difference(a: str, b: str) -> int:
    """Where two different texts first differ (in characters)."""
    at = 0
    while at < len(a) and a[at : at + _CHUNK] == b[at : at + _CHUNK]:
        at += _CHUNK
    pairs = zip(a[at : at + _CHUNK], b[at : at + _CHUNK], strict=False)
    found = next((i for i, (x, y) in enumerate(pairs) if x != y), None)
    return at + (found if found is not None else min(len(a) - at, len(b) - at, _CHUNK))


def load(data: bytes, *, canonical: bool = True) -> Any:
    """Read a proof file: at most :data:`MAX_PROOF_BYTES`, UTF-8, nested at most
    :data:`MAX_JSON_DEPTH` deep, JSON with no key twice in an object and no NaN or
    Infinity; with ``canonical`` (a proof for ``verify``), exactly its canonical JSON."""
    if len(data) > MAX_PROOF_BYTES:
        raise ValueError(too_large())
    text = data.decode("utf-8")
    # Parsed first, nesting counted after: counting a text's brackets outside its strings
    # takes longer than parsing it, so the text is counted only where parsing failed.
    try:
        value = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_no_constant)
    except RecursionError:  # a thousand levels, give or take: far past the cap
        raise ValueError(_too_deep(json_depth(data))) from None
    except ValueError:
        if (depth := json_depth(data)) > MAX_JSON_DEPTH:
            raise ValueError(_too_deep(depth)) from None
        raise
    if (depth := _nesting(value)) > MAX_JSON_DEPTH:
        raise ValueError(_too_deep(depth))
    if canonical:
        written = canonical_text(value)
        if written != text:
            raise ValueError(
                "the proof is not written as the service writes it (canonical JSON: keys "
                "sorted, no spaces or line breaks, no needless escapes): it differs from that "
                f"at character {_first_difference(text, written)}"
            )
    return value


def document_problems(proof: Mapping[str, Any]) -> list[str]:
    """The proof has exactly the keys of its form (§10), and its requests are a list."""
    announcement = proof.get("announcement")
    v2 = isinstance(announcement, Mapping) and announcement.get("protocol") == "ssj-draw-2"
    if v2:
        form, keys, optional = "an ssj-draw-2", V2_KEYS, V2_OPTIONAL
    elif "full_announcement" in proof:
        form, keys, optional = "a full", FULL_KEYS, frozenset()
    else:  # a pool in a public proof is named on its own
        form, keys, optional = "a public", PUBLIC_KEYS, frozenset({"pool"})
    problems = []
    extra = sorted(set(proof) - keys - optional)
    if extra:
        problems.append(f"proof: {extra} are not part of {form} proof")
    missing = sorted(keys - set(proof))
    if missing:
        problems.append(f"proof: {missing} are missing")
    if "replacements" in proof and not isinstance(proof["replacements"], list):
        problems.append("replacements: must be a list")
    return problems


def time_spelled(text: str) -> bool:
    """Whether a time (one :func:`datetime.fromisoformat` has read) is written as the
    service writes times, ``isoformat()`` in UTC: one instant, one spelling (not ``Z``,
    ``+08:00``, ``.5`` or ``.000000``)."""
    return bool(_TIME.fullmatch(text)) and not text.endswith(".000000+00:00")


def pool_line_problems(lines: Sequence[str]) -> list[str]:
    """Every pool line has exactly three tabs: four fields (a line without one would be
    read as an identifier missing its last character, and no stratum)."""
    if set(map(str.count, lines, itertools.repeat("\t"))) <= {3}:
        return []
    n, tabs = next((n, k) for n, line in enumerate(lines) if (k := line.count("\t")) != 3)
    return [
        f"pool line {n}: {tabs} tabs where four tab-separated fields need 3 (identifier, "
        "stratum, region, unit)"
    ]
