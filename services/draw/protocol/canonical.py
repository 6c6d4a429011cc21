"""Canonical forms and hashes of protocols ``ssj-draw-2`` and ``ssj-draw-3``.

- **Text fields** are NFC-normalised, every run of whitespace becomes one space, and the
  ends are trimmed (:func:`field`), so tabs and newlines can never appear inside a field.
- **Pool line**: ``identifier TAB stratum TAB region_code TAB supervising_unit``; the
  stratum is a credit-risk class ``A``–``D`` or ``*`` for the 100 % list. The pool is its
  lines sorted by identifier (Unicode code points), joined by ``LF`` with no final ``LF``;
  ``pool_hash`` is the SHA-256 of that text in UTF-8, as lowercase hex.
- **Canonical JSON** is ``json.dumps(value, sort_keys=True, ensure_ascii=False,
  separators=(",", ":"))`` in UTF-8; ``announcement_hash`` is the SHA-256 of the
  announcement in canonical JSON.
- **Commitment** is ``SHA-256(secret)``; the secret is 32 bytes, published as hex.
- **Seed** is ``SHA-256("ssj-draw-2" ‖ 0x00 ‖ announcement_hash (32 bytes) ‖ secret
  (32 bytes) ‖ UTF-8(field(entropy)))``; in ``ssj-draw-3`` the entropy's part is its
  numbers' encoding (:mod:`.entropy`), not text as typed (:func:`derive_seed_v3`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

PROTOCOL_V2 = "ssj-draw-2"
PROTOCOL_V3 = "ssj-draw-3"
PROTOCOL = PROTOCOL_V3  # what the service announces
PROTOCOLS = (PROTOCOL_V2, PROTOCOL_V3)  # what the verifier checks, each by its own rules
# How subjects are selected: the SHA-256 stream (the default, absent from announcements
# that use it), or RFC 3797 from the public sources alone (announcement "selection").
SHA256_SELECTION = "sha256"
RFC3797_SELECTION = "rfc3797"
FULL_LIST = "*"  # stratum of subjects on the 100 % list (全覆盖)
STRATA = ("A", "B", "C", "D")


def field(text: str) -> str:
    """A text field in canonical form."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def pool_line(identifier: str, stratum: str, region_code: str, unit: str) -> str:
    """One subject's line of the pool."""
    if stratum not in (*STRATA, FULL_LIST):
        raise ValueError(f"stratum must be one of A-D or {FULL_LIST!r}, not {stratum!r}")
    identifier = field(identifier)
    if not identifier:
        raise ValueError("a pool subject needs an identifier")
    return "\t".join((identifier, stratum, field(region_code), field(unit)))


def split_line(line: str) -> tuple[str, str, str, str]:
    """(identifier, stratum, region_code, supervising_unit) of a pool line."""
    parts = line.split("\t")
    if len(parts) != 4:
        raise ValueError(f"a pool line has 4 tab-separated fields, not {len(parts)}: {line!r}")
    return parts[0], parts[1], parts[2], parts[3]


def sort_pool(lines: Iterable[str]) -> list[str]:
    """The pool in canonical order; identifiers must be unique."""
    keyed = sorted((line.split("\t", 1)[0], line) for line in lines)
    for (first, _), (second, _) in itertools.pairwise(keyed):
        if first == second:
            raise ValueError(f"identifier {first} is twice in the pool")
    return [line for _, line in keyed]


def pool_hash(lines: Sequence[str]) -> str:
    """SHA-256 of the canonical pool (``lines`` already sorted)."""
    return pool_text_hash("\n".join(lines))


def pool_text_hash(text: str) -> str:
    """SHA-256 of the canonical pool text (the lines joined by LF)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes of a value."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def announcement_hash(announcement: Any) -> str:
    """SHA-256 of the announcement in canonical JSON."""
    return hashlib.sha256(canonical_json(announcement)).hexdigest()


def commitment(secret: bytes) -> str:
    """What is published of the secret before the draw: its SHA-256."""
    if len(secret) != 32:
        raise ValueError("the secret is 32 bytes")
    return hashlib.sha256(secret).hexdigest()


def derive_seed(announcement_digest: str, secret: bytes, entropy: str) -> bytes:
    """The seed of an ``ssj-draw-2`` draw, fixed only once the public entropy is known."""
    if len(secret) != 32:
        raise ValueError("the secret is 32 bytes")
    text = field(entropy)
    if not text:
        raise ValueError("the public entropy must not be empty")
    material = (
        PROTOCOL_V2.encode("ascii")
        + b"\x00"
        + bytes.fromhex(announcement_digest)
        + secret
        + text.encode("utf-8")
    )
    return hashlib.sha256(material).digest()


def derive_seed_v3(announcement_digest: str, secret: bytes, entropy: bytes) -> bytes:
    """The seed of an ``ssj-draw-3`` draw: ``SHA-256("ssj-draw-3" ‖ 0x00 ‖
    announcement_hash (32 bytes) ‖ secret (32 bytes) ‖ entropy)``, where ``entropy`` is the
    encoding of the source's numbers (:func:`.entropy.seed_entropy`)."""
    if len(secret) != 32:
        raise ValueError("the secret is 32 bytes")
    if not entropy:
        raise ValueError("the public entropy must not be empty")
    material = (
        PROTOCOL_V3.encode("ascii")
        + b"\x00"
        + bytes.fromhex(announcement_digest)
        + secret
        + entropy
    )
    return hashlib.sha256(material).digest()
