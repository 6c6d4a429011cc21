"""What ``ssj-draw-3`` adds to the announcement and the proof.

**The entropy is named as data.** The announcement's ``entropy`` is::

    {"source": "cwl-ssq", "name": "中国福利彩票双色球", "issue": "2026141",
     "scheduled_at": "2026-12-08T13:15:00+00:00", "format": {"groups": [...]}}

the registered source (its code and name), the issue (期号) whose numbers complete the seed,
the time that issue is drawn, and the shape of its numbers (:mod:`.entropy`).
``entropy_not_before`` is that time, never empty: execution before it is refused, and a
reader who saw the announcement published before it knows the announcement could not be
chosen with the numbers in hand.

**Draw ids follow a rule** (:func:`draw_id`): the ``attempt``-th draw of a batch (the
first, or the one after each draw of the batch voided before its entropy time) is
``uuid5(NAMESPACE, "draw:<batch_id>")`` for the first and ``"draw:<batch_id>:<attempt>"``
after, so nobody can announce a second draw of a batch under another id; the verifier
checks the announcement's ``draw_id`` against it.

**The proof says when it was executed** (``executed_at``, not before ``scheduled_at``) and
carries the entropy in canonical form (``03 09 14 22 27 31 | 08``); the seed hashes the
numbers' encoding (RFC 3797 selections: the RFC key of the groups as its sources).
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.draw.protocol.canonical import RFC3797_SELECTION, field
from services.draw.protocol.entropy import (
    EntropyFormat,
    numbers_bytes,
    read_canonical,
    rfc3797_sources,
)
from services.draw.protocol.rfc3797 import canonical_key
from services.draw.protocol.spelling import TIME_FORM, time_spelled

# Draw ids (protocol-wide; the draw service's ids since ssj-draw-2).
NAMESPACE = uuid.UUID("0b1f3f2e-9a64-4f0e-8a4c-6f2d8e3c9b15")
ENTROPY_KEYS = frozenset({"source", "name", "issue", "scheduled_at", "format"})
SOURCE_CODE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
ISSUE = re.compile(r"[0-9A-Za-z-]{1,24}")


def instant(text: object, where: str) -> datetime:
    """An ISO 8601 time with its offset (naive times could be read in two zones), written
    as the service writes it (:func:`.spelling.time_spelled`)."""
    if not isinstance(text, str):
        raise ValueError(f"{where} must be an ISO 8601 time, not {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{where}: {text!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise ValueError(f"{where}: {text!r} has no UTC offset")
    if not time_spelled(text):
        raise ValueError(
            f"{where}: {text!r} is not written as the service writes times ({TIME_FORM})"
        )
    return value


def entropy_spec(announcement: Mapping[str, Any]) -> tuple[EntropyFormat, Mapping[str, Any]]:
    """The announcement's entropy, read strictly: (its number format, the object)."""
    spec = announcement.get("entropy")
    if not isinstance(spec, Mapping) or set(spec) != ENTROPY_KEYS:
        raise ValueError(f"entropy must be an object of exactly {sorted(ENTROPY_KEYS)}")
    if not isinstance(spec["source"], str) or not SOURCE_CODE.fullmatch(spec["source"]):
        raise ValueError(f"entropy.source {spec['source']!r} is not a source code")
    if not isinstance(spec["name"], str) or not spec["name"] or field(spec["name"]) != spec["name"]:
        raise ValueError("entropy.name must be the source's name in canonical form")
    if not isinstance(spec["issue"], str) or not ISSUE.fullmatch(spec["issue"]):
        raise ValueError(f"entropy.issue {spec['issue']!r} is not an issue number")
    instant(spec["scheduled_at"], "entropy.scheduled_at")
    return EntropyFormat.from_json(spec["format"]), spec


def seed_entropy(announcement: Mapping[str, Any], entropy: object) -> tuple[bytes, list[str]]:
    """(what the seed hashes of the entropy, the RFC 3797 sources) for the proof's
    ``entropy``, which must be the announced format's numbers in canonical form."""
    fmt, _ = entropy_spec(announcement)
    if not isinstance(entropy, str):
        raise ValueError("entropy must be the numbers as text")
    numbers = read_canonical(fmt, entropy)
    sources = rfc3797_sources(numbers)
    if announcement.get("selection") == RFC3797_SELECTION:
        return canonical_key(sources).encode("ascii"), sources
    return numbers_bytes(numbers), sources


def timing_problems(proof: Mapping[str, Any]) -> list[str]:
    """The announcement came before the entropy's time, and execution not before it."""
    announcement = proof.get("announcement") or {}
    try:
        _, spec = entropy_spec(announcement)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if announcement.get("entropy_not_before") != spec["scheduled_at"]:
        problems.append(
            "entropy_not_before must be the source's scheduled draw time "
            f"{spec['scheduled_at']}, not {announcement.get('entropy_not_before')!r}"
        )
    scheduled = instant(spec["scheduled_at"], "entropy.scheduled_at")
    try:
        announced = instant(announcement.get("announced_at"), "announced_at")
        if announced >= scheduled:
            problems.append(
                f"announced_at {announcement['announced_at']} is not before the entropy's "
                f"draw time {spec['scheduled_at']}: the announcement could follow the numbers"
            )
    except ValueError as exc:
        problems.append(str(exc))
    if proof.get("result") is not None:
        try:
            executed = instant(proof.get("executed_at"), "executed_at")
            if executed < scheduled:
                problems.append(
                    f"executed_at {proof['executed_at']} is before the entropy's draw time "
                    f"{spec['scheduled_at']}"
                )
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def draw_id(batch_id: str, attempt: int = 1) -> uuid.UUID:
    """The id of the ``attempt``-th draw of a batch (see the module's docstring)."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be a whole number from 1, not {attempt!r}")
    name = f"draw:{batch_id}" if attempt == 1 else f"draw:{batch_id}:{attempt}"
    return uuid.uuid5(NAMESPACE, name)


def draw_id_problems(announcement: Mapping[str, Any]) -> list[str]:
    """The announcement's ``draw_id`` must be its batch's ``attempt``-th draw id."""
    if "attempt" not in announcement:
        return ["attempt: an ssj-draw-3 announcement says which draw of the batch it is"]
    attempt = announcement["attempt"]
    try:
        expected = str(draw_id(str(announcement.get("batch_id")), attempt))
    except ValueError as exc:
        return [f"attempt: {exc}"]
    if announcement.get("draw_id") != expected:
        return [
            f"draw_id: {announcement.get('draw_id')} is not the id of draw {attempt} of batch "
            f"{announcement.get('batch_id')} ({expected})"
        ]
    return []


POOL_SPEC_KEYS = frozenset(
    {
        "year",
        "filters",
        "items",
        "complaint_referral",
        "full_list",
        "registry_position",
        "excluded",
        "overlaps",
    }
)


def pool_spec_problems(
    announcement: Mapping[str, Any],
    starred: list[str],
    in_pool: Callable[[str], bool],
) -> list[str]:
    """The pool's explanation (``pool_spec``) is there, and agrees with the pool: the 100 %
    list is exactly the pool's ``*`` lines (``starred``, in order), and no subject listed
    as excluded is in it (``in_pool``: from a public proof, of the opened leaves)."""
    spec = announcement.get("pool_spec")
    if not isinstance(spec, Mapping) or set(spec) != POOL_SPEC_KEYS:
        return [f"pool_spec: must be an object of exactly {sorted(POOL_SPEC_KEYS)}"]
    problems = []
    if isinstance(spec["year"], bool) or not isinstance(spec["year"], int):
        problems.append("pool_spec.year: must be an integer")
    if not isinstance(spec["complaint_referral"], bool):
        problems.append("pool_spec.complaint_referral: must be true or false")
    full = spec["full_list"]
    if not isinstance(full, list) or full != starred:
        problems.append("pool_spec.full_list: is not exactly the pool's 100 % lines (stratum *)")
    excluded = spec["excluded"]
    if not isinstance(excluded, list) or any(
        not isinstance(row, list) or len(row) != 4 or not all(isinstance(x, str) for x in row)
        for row in excluded
    ):
        problems.append("pool_spec.excluded: must be [identifier, rule, draw id, item] rows")
    else:
        inside = sorted(row[0] for row in excluded if in_pool(row[0]))
        if inside:
            problems.append(f"pool_spec.excluded: {inside[:3]} are excluded yet in the pool")
        if excluded != sorted(excluded):
            problems.append("pool_spec.excluded: must be sorted")
    overlaps = spec["overlaps"]
    if not isinstance(overlaps, list) or any(
        not isinstance(row, list)
        or len(row) != 2
        or not isinstance(row[0], str)
        or isinstance(row[1], bool)
        or not isinstance(row[1], int)
        for row in overlaps
    ):
        problems.append("pool_spec.overlaps: must be [draw id, subjects shared] rows")
    return problems


def starred(
    text: str, lines: list[str], selection: list[Mapping[str, Any]] | None = None
) -> list[str]:
    """Identifiers of the pool's 100 % lines, in pool order (sorted). Every one of them is
    selected, first: from a recomputed ``selection`` they are read off it, else the text
    is searched (most pools have none)."""
    if selection is not None:
        return sorted(str(s["identifier"]) for s in selection if s.get("stratum") == "*")
    if "\t*\t" not in text:
        return []
    return [line.split("\t", 1)[0] for line in lines if line.split("\t", 2)[1] == "*"]


def in_pool(lines: list[str], identifier: str) -> bool:
    """Whether the pool (lines in canonical order) holds a line of ``identifier``."""
    at = bisect.bisect_left(lines, identifier + "\t")
    return at < len(lines) and lines[at].startswith(identifier + "\t")


# When the service began announcing ssj-draw-3: a proof labelled ssj-draw-2 announced
# after it is not one of the v2 proofs published before (it would dodge every v3 check).
V3_SINCE = datetime.fromisoformat("2026-12-05T00:00:00+00:00")
CAP_RATIO_DENOMINATOR = 10  # 递补 cap: a tenth of the subjects selected, at least three
MIN_REPLACEMENTS = 3


def replacement_cap(selected: int) -> int:
    """How many replacements a draw selecting ``selected`` subjects allows (§9)."""
    return max(MIN_REPLACEMENTS, -(-selected // CAP_RATIO_DENOMINATOR))


def cap_problems(announcement: Mapping[str, Any], strata: Mapping[str, Any]) -> list[str]:
    """The announced ``max_replacements`` is the rule's for what the draw selects."""
    selected = sum(int(v.get("count", 0)) for v in strata.values())
    wanted = replacement_cap(selected)
    if announcement.get("max_replacements") != wanted:
        return [
            f"max_replacements: announced {announcement.get('max_replacements')!r}, the rule "
            f"gives {wanted} for {selected} subjects"
        ]
    return []


def downgrade_problems(announcement: Mapping[str, Any]) -> list[str]:
    """A proof labelled ssj-draw-2 must be of a draw announced before v3 existed."""
    try:
        announced = instant(announcement.get("announced_at"), "announced_at")
    except ValueError as exc:
        return [str(exc)]
    if announced >= V3_SINCE:
        return [
            f"protocol: ssj-draw-2 is retired for draws announced from {V3_SINCE.date()}; "
            "this one was announced after, so it must follow ssj-draw-3"
        ]
    return []
