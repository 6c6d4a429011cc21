"""Merkle trees of RFC 9162 (Certificate Transparency 2.0, §2.1), SHA-256.

The tree hash of ``n`` leaves is ``MTH({}) = SHA-256()``, ``MTH({d0}) = SHA-256(0x00 ‖
d0)`` and, for ``n > 1``, ``SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))`` where ``k`` is the
largest power of two smaller than ``n``. An inclusion proof of leaf ``m`` is the list of
sibling hashes from the leaf up, and RFC 9162 §2.1.3.2 says how to check it against the
root knowing only ``m`` and ``n``. The draw's leaves are already ``SHA-256(0x00 ‖ …)``
(:mod:`.blinding`), so this module takes leaf hashes, not leaf data.

The tree is built level by level (pairing from the left, an odd last node carried up
unchanged), which gives the same root as the recursive definition and needs no recursion
at a million leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, the leaves first and the root's level last."""
    out = [list(leaves)]
    sha = hashlib.sha256
    while len(out[-1]) > 1:
        level = out[-1]
        pairs = range(0, len(level) - 1, 2)
        upper = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in pairs]
        if len(level) % 2:
            upper.append(level[-1])
        out.append(upper)
    return out


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree hash of ``leaves`` (leaf hashes)."""
    if not leaves:
        return EMPTY_ROOT
    return levels(leaves)[-1][0]


def path(tree: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in a tree given by :func:`levels`."""
    if not 0 <= index < len(tree[0]):
        raise IndexError(f"leaf {index} is not in a tree of {len(tree[0])}")
    out = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):  # an odd last node has no sibling on this level
            out.append(level[sibling])
        index //= 2
    return out


def root_from_path(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or None when the proof
    cannot be one of leaf ``index`` in a tree of ``size`` leaves (wrong length)."""
    if not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
