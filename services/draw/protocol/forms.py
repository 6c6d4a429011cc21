"""The documents of an ``ssj-draw-3`` draw (docs/draw-protocol.md §10): the public proof,
the full proof (auditors) and a subject's line proof, made from the full announcement,
the blinding key and the pool (:mod:`.blinding`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.draw.protocol.blinding import Trees, public_announcement
from services.draw.protocol.canonical import announcement_hash
from services.draw.protocol.proof import compute

PUBLIC_RESULT_OMITS = ("pool_hash",)  # the hash of the pool's lines is internal


def used_identifiers(
    result: Mapping[str, Any] | None, requests: Iterable[Mapping[str, Any]]
) -> list[str]:
    """The subjects whose leaves the draw read, in the order it read them: the selection,
    then per replacement the alternates passed over and the one taken."""
    if result is None:
        return []
    used = [str(s["identifier"]) for s in result["selection"]]
    outcomes = {o["sequence"]: o for o in result["replacements"]}
    for request in requests:
        if request.get("kind") != "subject":
            continue
        used += [str(s["identifier"]) for s in request.get("skipped", [])]
        outcome = outcomes.get(request.get("sequence"))
        if outcome is not None:
            used.append(str(outcome["replacement"]))
    return used


def public_proof(
    announcement: Mapping[str, Any],
    trees: Trees | None,
    execution: Mapping[str, Any] | None,
    requests: Sequence[Mapping[str, Any]],
    result: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The public proof: before execution (``execution`` None) the announcement alone;
    after, the leaves the draw used opened (``trees`` over the full pool), the secret, the
    entropy, the requests in their public form and the result without the pool's hash."""
    executed = execution or {}
    opened = trees.openings(used_identifiers(result, requests)) if trees and result else {}
    return {
        "announcement": dict(announcement),
        "announcement_hash": announcement_hash(announcement),
        "opened": opened,
        "secret": executed.get("secret"),
        "entropy": executed.get("entropy"),
        "executed_at": executed.get("executed_at"),
        "replacements": [dict(r) for r in requests],
        "result": (
            {k: v for k, v in result.items() if k not in PUBLIC_RESULT_OMITS} if result else None
        ),
    }


def full_proof(
    announcement: Mapping[str, Any],
    full: Mapping[str, Any],
    key: bytes,
    pool_text: str,
    execution: Mapping[str, Any] | None,
    requests: Sequence[Mapping[str, Any]],
    result: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The full proof (auditors): the public announcement, the full one, the blinding key
    and the whole pool beside the execution and the result."""
    executed = execution or {}
    return {
        "announcement": dict(announcement),
        "announcement_hash": announcement_hash(announcement),
        "full_announcement": dict(full),
        "blinding_key": key.hex(),
        "pool": pool_text,
        "secret": executed.get("secret"),
        "entropy": executed.get("entropy"),
        "executed_at": executed.get("executed_at"),
        "replacements": [dict(r) for r in requests],
        "result": dict(result) if result else None,
    }


def line_proof(announcement: Mapping[str, Any], trees: Trees, identifier: str) -> dict[str, Any]:
    """One subject's own leaf, opened against the public announcement (KeyError: the
    subject is not in the pool)."""
    stratum, opened = trees.opening(identifier)
    return {
        "announcement": dict(announcement),
        "announcement_hash": announcement_hash(announcement),
        "stratum": stratum,
        "opened": opened,
    }


def proofs(inputs: Mapping[str, Any], key: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both proofs of a draw from its full inputs (``announcement`` the full one, ``pool``,
    ``secret``, ``entropy``, ``executed_at``, ``replacements``): for the worked example, the
    benchmark and tests; the service keeps the same parts and assembles them the same way."""
    full = inputs["announcement"]
    text = inputs["pool"]
    lines = text.split("\n") if text else []
    trees = Trees(full, lines, key)
    public = public_announcement(full, key, trees.roots())
    keyed = {**inputs, "blinding_key": key.hex()}
    result, _ = compute(keyed, text, lines, announced=announcement_hash(public))
    execution = {k: inputs[k] for k in ("secret", "entropy", "executed_at")}
    requests = inputs.get("replacements", [])
    return (
        public_proof(public, trees, execution, requests, result),
        full_proof(public, full, key, text, execution, requests, result),
    )
