"""``ssj draw verify`` and ``ssj draw replay``: check a proof against its recomputation.

:func:`verify` reads a proof as :mod:`.spelling` and :mod:`.strict` require (one
spelling, one reading), checks the announcement's own rules (:mod:`.v3` for
``ssj-draw-3``), the pool, the commitment and the replacement requests, recomputes the
draw (:func:`.proof.compute`) and names every part that differs. Standard library only,
like the whole package: ``python -m services.draw.protocol.verify verify PROOF.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from services.draw.protocol import spelling, strict, v3, verify3
from services.draw.protocol.canonical import (
    PROTOCOL_V2,
    PROTOCOL_V3,
    PROTOCOLS,
    announcement_hash,
    pool_text_hash,
)
from services.draw.protocol.checks import compare_result, request_problems, secret_problems
from services.draw.protocol.proof import compute, pool_of, pool_problems, run

# What a proof that breaks the verifier itself is reported as (a MISMATCH, not a traceback).
UNREADABLE = "the verifier cannot read this proof"


def verify(proof: Mapping[str, Any]) -> list[str]:
    """Everything in the proof that does not match its recomputation (empty: all matches):
    an ssj-draw-3 proof in its public or its full form (:mod:`.verify3`), an ssj-draw-2
    proof by the v2 rules. A forged proof that breaks the checks themselves (a list where
    an object belongs, a salt that is a number, …) is one problem naming the exception:
    anyone running the verifier gets a verdict, never a traceback."""
    try:
        return _verify(proof)
    except Exception as exc:  # any part of a hostile document may be of any type
        return [f"{UNREADABLE}: {type(exc).__name__}: {exc}"]


def _verify(proof: Mapping[str, Any]) -> list[str]:
    recorded = proof.get("result")
    if not isinstance(recorded, Mapping):
        return ["the proof has no result to verify (use replay to compute one)"]
    announcement = proof.get("announcement")
    if not isinstance(announcement, Mapping):
        return ["announcement: must be an object"]
    if announcement.get("protocol") == PROTOCOL_V3:
        if "full_announcement" in proof:
            return verify3.verify_full(proof)
        return verify3.verify_public(proof)
    if announcement.get("protocol") != PROTOCOL_V2:
        return [f"protocol: {announcement.get('protocol')!r} is none of {', '.join(PROTOCOLS)}"]
    return verify_v2(proof)


def verify_v2(proof: Mapping[str, Any]) -> list[str]:
    """An ssj-draw-2 proof: the whole pool and announcement are in it."""
    problems: list[str] = []
    announcement = proof["announcement"]
    try:
        text, lines = pool_of(proof)
    except ValueError as exc:
        return [f"pool: {exc}"]
    problems += spelling.document_problems(proof) + strict.form_problems(proof)
    announced = announcement_hash(announcement)
    if proof.get("announcement_hash") != announced:
        problems.append(
            f"announcement_hash: the proof says {proof.get('announcement_hash')}, its "
            f"announcement hashes to {announced}"
        )
    problems += v3.downgrade_problems(announcement)
    if tabs := spelling.pool_line_problems(lines):
        return [*problems, *tabs]
    digest = pool_text_hash(text)
    problems += pool_problems(text, lines, announcement, digest)
    problems += request_problems(proof.get("replacements", []))
    problems += secret_problems(proof, announcement.get("commitment"))
    try:
        expected, _ = compute(proof, text, lines, digest)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the draw cannot be recomputed: {type(exc).__name__}: {exc}")
        return problems
    problems += compare_result(expected, proof["result"])
    return problems


def _load(path: str, *, canonical: bool) -> dict[str, Any]:
    """The file's JSON object (:func:`.spelling.load`); a proof to verify (``canonical``)
    exactly as the service writes it. A file over the cap is not read at all."""
    # Read whole, then decode once: half the time of decoding through a text stream.
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > spelling.MAX_PROOF_BYTES:
            raise ValueError(spelling.too_large())
        data = spelling.load(handle.read(spelling.MAX_PROOF_BYTES + 1), canonical=canonical)
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
    line = sub.add_parser("verify-line", help="check a subject's own line proof")
    line.add_argument("file")
    line.add_argument("--announcement-hash", help="the announcement hash you saw published")
    args = parser.parse_args(argv)
    # A proof may hold any string, a lone surrogate included: print it escaped, not crash.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    # A short-lived process whose millions of strings form no cycles: the collector would
    # only rescan them, again and again (a quarter of the run at a million subjects).
    gc.disable()
    try:
        # A line proof is served as its answer model writes it, a replay's input is typed
        # by people: only a proof to verify has one spelling.
        proof = _load(args.file, canonical=args.command == "verify")
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.command == "verify-line":
        try:
            problems, said = verify3.verify_line(proof)
        except Exception as exc:  # any part of a hostile document may be of any type
            problems, said = [f"{UNREADABLE}: {type(exc).__name__}: {exc}"], ""
        seen = args.announcement_hash
        if seen is not None and seen.strip().lower() != proof.get("announcement_hash"):
            problems.insert(0, f"announcement_hash: you saw {seen} published, this is another")
        for problem in problems:
            print(f"MISMATCH {problem}")
        if problems:
            return 1
        print(f"OK {said}")
        return 0
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
    pool = f"hash {result['pool_hash'][:16]}…" if "pool_hash" in result else "opened leaves"
    print(
        f"OK draw {proof['announcement'].get('draw_id', '?')}: pool of {result['pool_size']} "
        f"({pool}), commitment, seed, {len(result['selection'])} "
        f"subjects, {len(result['groups'])} groups and {len(result['replacements'])} "
        "replacements all match"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
