"""Verifying ``ssj-draw-3`` proofs in their two forms (docs/draw-protocol.md §10):

- the **public proof** (anyone): the public announcement, the leaves the draw used opened
  against its roots, and the result recomputed from them (:func:`verify_public`);
- the **full proof** (auditors): the full announcement, the blinding key and the whole
  pool as well; the public announcement must follow from them, and the result is
  recomputed from the full pool (:func:`verify_full`).

And a subject's **line proof**: its own leaf, opened against the announcement
(:func:`verify_line`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from services.draw.protocol import blinding, spelling, strict, v3
from services.draw.protocol.blinding import ORDER
from services.draw.protocol.canonical import FULL_LIST, announcement_hash, pool_text_hash
from services.draw.protocol.checks import (
    RESULT_KEYS,
    compare_result,
    request_problems,
    secret_problems,
)
from services.draw.protocol.entropy import lottery_problem
from services.draw.protocol.proof import compute, pool_of, pool_problems
from services.draw.protocol.public import (
    compute_view,
    opening_problem,
    read_openings,
    roots_problems,
)
from services.draw.protocol.subjects import stratum_count

PUBLIC_RESULT_KEYS = tuple(k for k in RESULT_KEYS if k != "pool_hash")
LINE_KEYS = frozenset({"announcement", "announcement_hash", "stratum", "opened"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _announcement_problems(proof: Mapping[str, Any]) -> tuple[list[str], str]:
    """Form, hash, timing and id of the public announcement; and its hash."""
    announcement = proof["announcement"]
    problems = spelling.document_problems(proof) + strict.form_problems(proof)
    announced = announcement_hash(announcement)
    if proof.get("announcement_hash") != announced:
        problems.append(
            f"announcement_hash: the proof says {proof.get('announcement_hash')}, its "
            f"announcement hashes to {announced}"
        )
    leaked = sorted(set(announcement) & set(blinding.PRIVATE_KEYS))
    if leaked:
        problems.append(f"announcement: {leaked} belong to the full announcement, not here")
    problems += v3.timing_problems(proof)
    problems += v3.draw_id_problems(announcement)
    try:
        fmt, spec = v3.entropy_spec(announcement)
        if weakness := fmt.weakness():
            problems.append(f"entropy.format: {weakness}")
        if mismatch := lottery_problem(str(spec.get("source")), fmt):
            problems.append(f"entropy.format: {mismatch}")
    except ValueError:
        pass  # timing_problems names an unreadable entropy
    problems += request_problems(proof.get("replacements", []))
    problems += secret_problems(proof, announcement.get("commitment"))
    return problems, announced


def _used(positions: Mapping[str, int], requests: Any) -> set[str]:
    """The subjects whose leaves the draw read: drawn, replacements, alternates passed over."""
    used = set(positions)
    for request in requests or []:
        skipped = request.get("skipped") if request.get("kind") == "subject" else None
        for entry in skipped if isinstance(skipped, list) else []:
            if isinstance(entry, Mapping):
                used.add(str(entry.get("identifier")))
    return used


def verify_public(proof: Mapping[str, Any]) -> list[str]:
    """Everything in a public ssj-draw-3 proof that does not hold (empty: all holds)."""
    announcement = proof["announcement"]
    problems, announced = _announcement_problems(proof)
    if "pool" in proof:
        problems.append("pool: a public proof opens leaves; the pool is for auditors only")
    opening_problems, pool, bars = read_openings(announcement, proof.get("opened", {}))
    problems += opening_problems
    if pool is None:
        return problems
    if shortfall := _shortfall(announcement, proof.get("opened", {})):
        return [*problems, shortfall]
    view = {**proof, "announcement": compute_view(announcement, bars)}
    try:
        expected, positions = compute(view, None, pool, members=pool.members(), announced=announced)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the draw cannot be recomputed: {type(exc).__name__}: {exc}")
        return problems
    opened = {line.split("\t", 1)[0] for line in pool.opened_lines()}
    unused = sorted(opened - _used(positions, proof.get("replacements")))
    if unused:
        problems.append(
            f"opened: {unused[:3]} are opened but not used by the draw (an opening discloses "
            "what is internal)"
        )
    problems += strict.drawn_line_problems(pool, positions)
    problems += v3.cap_problems(announcement, expected["strata"])
    problems += v3.pool_spec_problems(
        announcement, v3.starred("", [], expected["selection"]), opened.__contains__
    )
    problems += compare_result(expected, proof["result"], PUBLIC_RESULT_KEYS)
    return problems


def _shortfall(announcement: Mapping[str, Any], opened: Mapping[str, Any]) -> str | None:
    """A stratum of which the draw selects more subjects than the proof opens leaves (None:
    none). Said before computing: a forged size and ratio would otherwise have the
    verifier draw millions of positions before it found the first one not opened."""
    strata = announcement["strata"]
    if strict.strata_problems(strata):
        return None  # named as they are; the computation says what it cannot read
    roots = announcement["pool_roots"]
    for s in ORDER:
        size = roots[s]["size"]
        count = size if s == FULL_LIST else stratum_count(size, strata[s]) if s in strata else 0
        if count > len(opened.get(s, [])):
            return (
                f"opened.{s}: the draw selects {count} of the stratum, the proof opens "
                f"{len(opened.get(s, []))}: it does not open every subject the draw uses"
            )
    return None


def verify_full(proof: Mapping[str, Any]) -> list[str]:
    """Everything in a full ssj-draw-3 proof (auditors') that does not hold."""
    announcement = proof["announcement"]
    full = proof.get("full_announcement")
    problems, announced = _announcement_problems(proof)
    if not isinstance(full, Mapping):
        return [*problems, "full_announcement: must be an object"]
    problems += [
        f"full_announcement: {p}" for p in strict.form_problems({"announcement": full}, full=True)
    ]
    key_hex = proof.get("blinding_key")
    if not isinstance(key_hex, str) or not _HEX64.fullmatch(key_hex):
        return [*problems, "blinding_key: must be 64 hex digits"]
    key = bytes.fromhex(key_hex)
    try:
        text, lines = pool_of(proof)
    except ValueError as exc:
        return [*problems, f"pool: {exc}"]
    digest = pool_text_hash(text)
    if tabs := spelling.pool_line_problems(lines):
        return [*problems, *tabs]
    problems += pool_problems(text, lines, full, digest)
    problems += _pair_problems(full, lines)
    try:
        trees = blinding.Trees(full, lines, key)
        derived = blinding.public_announcement(full, key, trees.roots())
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        return [*problems, f"the public announcement cannot be derived: {exc}"]
    for name in sorted(set(derived) | set(announcement)):
        if derived.get(name) != announcement.get(name):
            problems.append(
                f"announcement.{name}: is not what the full announcement, the key and the pool give"
            )
    try:
        expected, positions = compute(
            {**proof, "announcement": full}, text, lines, digest, announced=announced
        )
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the draw cannot be recomputed: {type(exc).__name__}: {exc}")
        return problems
    problems += strict.drawn_line_problems(lines, positions)
    problems += v3.cap_problems(full, expected["strata"])
    problems += v3.pool_spec_problems(
        full, v3.starred(text, lines, expected["selection"]), partial(v3.in_pool, lines)
    )
    problems += compare_result(expected, proof["result"])
    return problems


def _pair_problems(full: Mapping[str, Any], lines: list[str]) -> list[str]:
    """Every conflict and previous-inspector pair names an inspector of the roster and a
    subject of the pool: a pair naming a look-alike identifier (letter O for zero) would
    bar nobody while the list seemed to hold the conflict."""
    roster = {str(r[0]) for r in full.get("roster", []) if isinstance(r, list) and r}
    problems = []
    for name in ("conflicts", "previous"):
        for n, pair in enumerate(full.get(name, [])):
            if not isinstance(pair, list) or len(pair) != 2:
                continue  # the form check names it
            inspector, identifier = pair
            if inspector not in roster or not v3.in_pool(lines, str(identifier)):
                problems.append(
                    f"full_announcement.{name}[{n}]: {pair!r} names no roster inspector "
                    "and pool subject"
                )
                break
    return problems


def recompute(proof: Mapping[str, Any]) -> dict[str, Any]:
    """The result of a v3 proof's inputs, in either form (``ssj draw replay``; raises
    ValueError where the inputs cannot be computed)."""
    announcement = proof["announcement"]
    announced = announcement_hash(announcement)
    full = proof.get("full_announcement")
    if isinstance(full, Mapping):
        text, lines = pool_of(proof)
        view = {**proof, "announcement": full}
        return compute(view, text, lines, announced=announced)[0]
    problems, pool, bars = read_openings(announcement, proof.get("opened", {}))
    if pool is None:
        raise ValueError("; ".join(problems))
    view = {**proof, "announcement": compute_view(announcement, bars)}
    return compute(view, None, pool, members=pool.members(), announced=announced)[0]


def verify_line(document: Mapping[str, Any]) -> tuple[list[str], str]:
    """A subject's line proof: ``{"announcement", "announcement_hash", "stratum",
    "opened"}``; the problems, and what the line says when there are none."""
    announcement = document.get("announcement")
    if not isinstance(announcement, Mapping):
        return ["announcement: must be an object"], ""
    problems = []
    if set(document) != LINE_KEYS:
        problems.append(f"proof: a line proof has exactly the keys {sorted(LINE_KEYS)}")
    announced = announcement_hash(announcement)
    if document.get("announcement_hash") != announced:
        problems.append(f"announcement_hash: its announcement hashes to {announced}")
    stratum = document.get("stratum")
    roots = announcement.get("pool_roots")
    if not isinstance(roots, Mapping) or not isinstance(stratum, str) or stratum not in roots:
        return [*problems, "stratum: not one of the announcement's pool_roots"], ""
    if not isinstance(roots[stratum], Mapping) or roots_problems(announcement):
        return [*problems, "pool_roots: not the sizes and roots of the strata"], ""
    roster = frozenset(str(r[0]) for r in announcement.get("roster", []) if isinstance(r, list))
    problem, fields = opening_problem(str(stratum), document.get("opened"), roots[stratum], roster)
    if problem or fields is None:
        return [*problems, f"opened: {problem}"], ""
    identifier, in_stratum, region, _, *barred = fields
    said = (
        f"{identifier} is leaf {document['opened']['position']} of stratum {in_stratum} "
        f"(region {region}, {len(barred)} inspectors barred) in draw "
        f"{announcement.get('draw_id')}"
    )
    return problems, said
