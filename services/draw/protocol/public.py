"""Checking an ``ssj-draw-3`` draw from its public proof: the opened leaves against the
announced roots, then the draw recomputed from them (:mod:`.blinding` says what is
opened and why). Standard library only, like the whole package."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.draw.protocol import merkle
from services.draw.protocol.blinding import ORDER, OpenedPool, leaf_hash, token_ok
from services.draw.protocol.spelling import MAX_POOL_SIZE

_HEX64 = re.compile(r"[0-9a-f]{64}")
_REGION = re.compile(r"[0-9]{6}")
_ID = re.compile(r"[!-~]{1,128}")  # visible ASCII, as the pool's identifiers
OPENING_KEYS = frozenset({"position", "salt", "line", "path"})


def roots_problems(announcement: Mapping[str, Any]) -> list[str]:
    """``pool_roots`` names every stratum with a whole size and a hash, summing to the
    pool's size; ``private_hash`` is a hash."""
    roots = announcement.get("pool_roots")
    if not isinstance(roots, Mapping) or set(roots) != set(ORDER):
        return [f"pool_roots: must give each of {list(ORDER)} its size and root"]
    problems = []
    for s in ORDER:
        entry = roots[s]
        if (
            not isinstance(entry, Mapping)
            or set(entry) != {"size", "root"}
            or type(entry["size"]) is not int
            or entry["size"] < 0
            or not isinstance(entry["root"], str)
            or not _HEX64.fullmatch(entry["root"])
        ):
            problems.append(f"pool_roots.{s}: must be {{size: whole number, root: 64 hex}}")
        elif entry["size"] == 0 and entry["root"] != merkle.EMPTY_ROOT.hex():
            problems.append(f"pool_roots.{s}: an empty stratum's root is SHA-256 of nothing")
    total = sum(roots[s]["size"] for s in ORDER) if not problems else 0
    if not problems and total != announcement.get("pool_size"):
        problems.append("pool_roots: the strata's sizes do not add up to pool_size")
    elif total > MAX_POOL_SIZE:  # what the draw's replacements may walk through
        problems.append(f"pool_roots: {total:,} subjects; a pool holds at most {MAX_POOL_SIZE:,}")
    private = announcement.get("private_hash")
    if not isinstance(private, str) or not _HEX64.fullmatch(private):
        problems.append("private_hash: must be 64 hex digits")
    return problems


def opening_problem(
    stratum: str, opened: object, root: Mapping[str, Any], roster: frozenset[str]
) -> tuple[str | None, tuple[str, ...] | None]:
    """Why one opened leaf is not a leaf of the stratum's tree (None: it is), and its
    fields ``(identifier, stratum, region, token, bars…)`` when it is."""
    if not isinstance(opened, Mapping) or set(opened) != OPENING_KEYS:
        return f"must be an object of exactly {sorted(OPENING_KEYS)}", None
    position, salt_hex, line, path = (opened[k] for k in ("position", "salt", "line", "path"))
    if type(position) is not int or not isinstance(salt_hex, str) or not isinstance(line, str):
        return "position must be a whole number, salt and line strings", None
    if not _HEX64.fullmatch(salt_hex):
        return "salt must be 64 hex digits", None
    if not isinstance(path, list) or not all(
        isinstance(h, str) and _HEX64.fullmatch(h) for h in path
    ):
        return "path must be a list of 64-hex-digit hashes", None
    parts = line.split("\t")
    if len(parts) != 5:
        return "line must be identifier, stratum, region, unit token and bars, tab-separated", None
    identifier, in_stratum, region, token, bars = parts
    barred = tuple(bars.split(",")) if bars else ()
    if not _ID.fullmatch(identifier):
        return "the identifier must be visible ASCII", None
    if in_stratum != stratum:
        return f"the line is of stratum {in_stratum!r}, opened under {stratum!r}", None
    if not _REGION.fullmatch(region):
        return "the region must be a six-digit code", None
    if not token_ok(token):
        return "the unit token must be empty or 32 hex digits", None
    if not all(a < b for a, b in itertools.pairwise(barred)) or not set(barred) <= roster:
        return "bars must be inspectors of the roster, sorted, each once", None
    leaf = leaf_hash(bytes.fromhex(salt_hex), line)
    found = merkle.root_from_path(leaf, position, root["size"], [bytes.fromhex(h) for h in path])
    if found is None or found.hex() != root["root"]:
        return f"leaf {position} is not in the announced tree of stratum {stratum}", None
    return None, (identifier, in_stratum, region, token, *barred)


def read_openings(
    announcement: Mapping[str, Any], openings: object
) -> tuple[list[str], OpenedPool | None, list[list[str]]]:
    """Check the proof's ``opened`` leaves; return the problems, the opened pool for the
    computation and the (inspector, identifier) bars of the opened subjects."""
    problems = roots_problems(announcement)
    if problems:
        return problems, None, []
    roots = announcement["pool_roots"]
    if not isinstance(openings, Mapping) or not set(openings) <= set(ORDER):
        return [f"opened: must map strata of {list(ORDER)} to their opened leaves"], None, []
    roster = frozenset(
        str(row[0]) for row in announcement.get("roster", []) if isinstance(row, list) and row
    )
    lines: dict[str, dict[int, str]] = {}
    bars: list[list[str]] = []
    seen: set[str] = set()
    for stratum, rows in openings.items():
        if not isinstance(rows, list):
            problems.append(f"opened.{stratum}: must be a list")
            continue
        if not rows:
            problems.append(f"opened.{stratum}: a stratum with no leaf opened is left out")
        positions = [r.get("position") for r in rows if isinstance(r, Mapping)]
        if len(positions) != len(rows) or not all(
            type(a) is int and type(b) is int and a < b for a, b in itertools.pairwise(positions)
        ):
            problems.append(f"opened.{stratum}: leaves must be in ascending position, each once")
        # Leaves stand in keyed order (§3a): the salts' first 8 bytes rise with position.
        keys = [r.get("salt", "")[:16] for r in rows if isinstance(r, Mapping)]
        if not all(isinstance(k, str) for k in keys) or keys != sorted(keys):
            problems.append(f"opened.{stratum}: the salts do not rise with position (§3a)")
        for n, row in enumerate(rows):
            problem, fields = opening_problem(stratum, row, roots[stratum], roster)
            if problem or fields is None:
                problems.append(f"opened.{stratum}[{n}]: {problem}")
                continue
            identifier = fields[0]
            if identifier in seen:
                problems.append(f"opened.{stratum}[{n}]: {identifier} is opened twice")
            seen.add(identifier)
            lines.setdefault(stratum, {})[row["position"]] = "\t".join(fields[:4])
            bars += [[inspector, identifier] for inspector in fields[4:]]
        if len(problems) > 10:
            break
    if problems:
        return problems, None, []
    sizes = {s: roots[s]["size"] for s in ORDER}
    return [], OpenedPool(sizes, lines), sorted(bars)


def compute_view(announcement: Mapping[str, Any], bars: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The announcement as the computation reads it: the opened subjects' bars as its
    conflicts (a bar is a bar, whatever its reason), no separate list of last time's
    inspectors (they are among the bars when the rule is on)."""
    return {**announcement, "conflicts": [list(b) for b in bars], "previous": []}
