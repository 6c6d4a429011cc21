"""Checks every proof shares, whatever its protocol or form: replacement requests in their
public form, the secret against the commitment, and a recorded result against its
recomputation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.draw.protocol.canonical import commitment
from services.draw.protocol.reasons import PUBLIC_REQUEST_FIELDS, reason_problem
from services.draw.protocol.spelling import canonical_text

# What a result holds, in the order mismatches are reported (pool_hash only where the
# pool itself is in the proof: a public ssj-draw-3 proof has roots instead).
RESULT_KEYS = (
    "protocol",
    "pool_hash",
    "pool_size",
    "announcement_hash",
    "commitment",
    "seed",
    "strata",
    "selection",
    "groups",
    "replacements",
)


def same(expected: Any, recorded: Any) -> bool:
    """Equal and written alike: ``1.0`` and ``true`` are not the count ``1`` (Python's ``==``
    says they are), one value has one spelling (:mod:`.spelling`)."""
    return bool(expected == recorded) and _alike(expected, recorded)


def _alike(a: Any, b: Any) -> bool:
    """For two values already ``==``: the same JSON types all the way down, so that their
    canonical texts are the same (cheaper than writing both out)."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return all(map(_alike, a, b))
    if type(a) is dict:
        return all(_alike(value, b[key]) for key, value in a.items())
    if type(a) is float:
        return canonical_text(a) == canonical_text(b)  # 0.0 == -0.0, written apart
    return True


def compare(name: str, expected: Any, recorded: Any, problems: list[str]) -> None:
    """Name the first difference of ``recorded`` from ``expected``, if any."""
    if same(expected, recorded):
        return
    if isinstance(expected, list) and isinstance(recorded, list):
        if len(expected) != len(recorded):
            problems.append(f"{name}: {len(recorded)} recorded, {len(expected)} recomputed")
        for i, (e, r) in enumerate(zip(expected, recorded, strict=False)):
            if not same(e, r):
                problems.append(
                    f"{name}[{i}]: recorded {json.dumps(r, ensure_ascii=False)}, "
                    f"recomputed {json.dumps(e, ensure_ascii=False)}"
                )
                break
        return
    problems.append(
        f"{name}: recorded {json.dumps(recorded, ensure_ascii=False)}, "
        f"recomputed {json.dumps(expected, ensure_ascii=False)}"
    )


def compare_result(
    expected: Mapping[str, Any], recorded: Mapping[str, Any], keys: Iterable[str] = RESULT_KEYS
) -> list[str]:
    """Every key of the result whose recorded value is not the recomputed one."""
    problems: list[str] = []
    for key in keys:
        compare(key, expected.get(key), recorded.get(key), problems)
    extra = sorted(set(recorded) - set(keys))
    if extra:
        problems.append(f"result: {extra} are not part of this proof's result")
    return problems


def request_problems(requests: Sequence[Mapping[str, Any]]) -> list[str]:
    """Replacement requests must give a reason code of the fixed list for their kind (§9);
    the proof is public and carries nothing else about why or by whom."""
    problems = []
    for n, request in enumerate(requests, start=1):
        problem = reason_problem(str(request.get("kind")), str(request.get("reason_code")))
        if problem:
            problems.append(f"replacement {n}: {problem}")
        extra = sorted(set(request) - set(PUBLIC_REQUEST_FIELDS.get(str(request.get("kind")), ())))
        if extra:
            problems.append(f"replacement {n}: fields {extra} are not part of a public request")
        if "skipped" in request and (problem := skipped_problem(request)):
            problems.append(f"replacement {n}: {problem}")
        for name in ("identifier", "inspector_id"):
            if name in request and not isinstance(request[name], str):
                problems.append(f"replacement {n}: {name} must be a string")
        unavailable = request.get("unavailable", [])
        if not isinstance(unavailable, list) or not all(isinstance(u, str) for u in unavailable):
            problems.append(f"replacement {n}: unavailable must be a list of identifiers")
    return problems


def secret_problems(proof: Mapping[str, Any], announced_commitment: object) -> list[str]:
    """The revealed secret hashes to the announced commitment."""
    written = str(proof.get("secret", ""))
    try:
        secret = bytes.fromhex(written)
        if commitment(secret) != announced_commitment:
            return [
                f"commitment: announced {announced_commitment}, SHA-256 of the "
                f"revealed secret is {commitment(secret)}"
            ]
    except ValueError as exc:
        return [f"secret: {exc}"]
    if secret.hex() != written:  # fromhex also reads "AB CD …"
        return [f"secret: {written!r} is not written as 64 lowercase hex digits"]
    return []


def skipped_problem(request: Mapping[str, Any]) -> str | None:
    """``skipped`` is a list of ``{identifier, evidence}`` (a subject replacement) or
    ``{inspector_id, evidence}`` (an inspector's) and nothing else: no second spelling of
    "none", no field that could carry staff's words into the public proof."""
    skipped = request["skipped"]
    who = "identifier" if request.get("kind") == "subject" else "inspector_id"
    if not isinstance(skipped, list) or not all(
        isinstance(e, Mapping) and set(e) == {who, "evidence"} and isinstance(e[who], str)
        for e in skipped
    ):
        return f"skipped must be a list of {{{who}, evidence}}"
    return None
