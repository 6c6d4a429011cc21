"""``ssj draw verify`` and ``ssj draw replay``: check a proof against its recomputation.

:func:`verify` reads a proof as :mod:`.strict` requires (one reading only), checks the
announcement's own rules (:mod:`.v3` for ``ssj-draw-3``), the pool, the commitment and the
replacement requests, recomputes the draw (:func:`.proof.compute`) and names every part
that differs. Standard library only, like the whole package:
``python -m services.draw.protocol.verify verify PROOF.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from services.draw.protocol import strict, v3
from services.draw.protocol.canonical import (
    PROTOCOL_V3,
    PROTOCOLS,
    announcement_hash,
    commitment,
    pool_text_hash,
)
from services.draw.protocol.proof import compute, pool_of, pool_problems, run
from services.draw.protocol.reasons import PUBLIC_REQUEST_FIELDS, reason_problem


def _compare(name: str, expected: Any, recorded: Any, problems: list[str]) -> None:
    if expected == recorded:
        return
    if isinstance(expected, list) and isinstance(recorded, list):
        if len(expected) != len(recorded):
            problems.append(f"{name}: {len(recorded)} recorded, {len(expected)} recomputed")
        for i, (e, r) in enumerate(zip(expected, recorded, strict=False)):
            if e != r:
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
    return problems


def verify(proof: Mapping[str, Any]) -> list[str]:
    """Everything in the proof that does not match its recomputation (empty: all matches)."""
    problems: list[str] = []
    recorded = proof.get("result")
    if not isinstance(recorded, Mapping):
        return ["the proof has no result to verify (use replay to compute one)"]
    announcement = proof.get("announcement") or {}
    try:
        text, lines = pool_of(proof)
    except ValueError as exc:
        return [f"pool: {exc}"]
    problems += strict.form_problems(proof)
    announced = announcement_hash(announcement)
    if proof.get("announcement_hash") != announced:
        problems.append(
            f"announcement_hash: the proof says {proof.get('announcement_hash')}, its "
            f"announcement hashes to {announced}"
        )
    if announcement.get("protocol") != PROTOCOL_V3:
        problems += v3.downgrade_problems(announcement)
    if announcement.get("protocol") == PROTOCOL_V3:
        if text.count("\t") != 3 * len(lines):
            problems.append("pool: a line has other than four tab-separated fields")
        problems += v3.timing_problems(proof)
        problems += v3.draw_id_problems(announcement)
    digest = pool_text_hash(text)
    problems += pool_problems(text, lines, announcement, digest)
    problems += request_problems(proof.get("replacements", []))
    try:
        secret = bytes.fromhex(proof.get("secret", ""))
        if commitment(secret) != announcement.get("commitment"):
            problems.append(
                f"commitment: announced {announcement.get('commitment')}, SHA-256 of the "
                f"revealed secret is {commitment(secret)}"
            )
    except ValueError as exc:
        problems.append(f"secret: {exc}")
    try:
        expected, positions = compute(proof, text, lines, digest)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the draw cannot be recomputed: {type(exc).__name__}: {exc}")
        return problems
    if announcement.get("protocol") == PROTOCOL_V3:
        problems += strict.drawn_line_problems(lines, positions)
        problems += v3.cap_problems(announcement, expected["strata"])
        # After the recomputation: every 100 % line is in its selection, which says which.
        problems += v3.pool_spec_problems(announcement, text, lines, expected["selection"])
    for key in (
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
    ):
        _compare(key, expected[key], recorded.get(key), problems)
    return problems


def _load(path: str) -> dict[str, Any]:
    # Read whole, then decode once: half the time of decoding through a text stream.
    with open(path, "rb") as handle:
        data = strict.load(handle.read())
    if not isinstance(data, dict):
        raise ValueError("the file must hold one JSON object")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """``verify PROOF.json`` (exit 0 only if everything matches) or ``replay INPUT.json``."""
    parser = argparse.ArgumentParser(
        prog="ssj draw", description=f"draw protocols {', '.join(PROTOCOLS)}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verifying = sub.add_parser("verify", help="recompute a proof and report what does not match")
    verifying.add_argument("file")
    verifying.add_argument(
        "--announcement-hash",
        help="the announcement hash you saw published before the entropy's draw time; the "
        "proof must be of that announcement",
    )
    sub.add_parser("replay", help="compute the result of a proof's inputs").add_argument("file")
    args = parser.parse_args(argv)
    # A short-lived process whose millions of strings form no cycles: the collector would
    # only rescan them, again and again (a quarter of the run at a million subjects).
    gc.disable()
    try:
        proof = _load(args.file)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.command == "replay":
        try:
            result = run(proof)
        except (ValueError, KeyError, TypeError) as exc:
            print(f"cannot replay: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    announcement = proof.get("announcement")
    if isinstance(announcement, Mapping):  # first what the reader compares with the notice
        print(f"announcement {announcement_hash(announcement)}")
        print(f"commitment   {announcement.get('commitment')}")
    problems = verify(proof)
    seen = args.announcement_hash
    if seen is not None and (
        not isinstance(announcement, Mapping)
        or seen.strip().lower() != announcement_hash(announcement)
    ):
        problems.insert(0, f"announcement_hash: you saw {seen} published, this proof's is another")
    if problems:
        for problem in problems:
            print(f"MISMATCH {problem}")
        return 1
    result = proof["result"]
    print(
        f"OK draw {proof['announcement'].get('draw_id', '?')}: pool of {result['pool_size']} "
        f"(hash {result['pool_hash'][:16]}…), commitment, seed, {len(result['selection'])} "
        f"subjects, {len(result['groups'])} groups and {len(result['replacements'])} "
        "replacements all match"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
