"""Replacements (递补) in ``ssj-draw-3``: the next alternate, never a fresh draw.

In ``ssj-draw-2`` replacement *n* drew afresh from its own sub-seed, the seed was public
once the draw was executed, and a subject's "unavailable" list was taken on trust: whoever
filed replacements could compute every outcome in advance and walk, request by request, to
the company or the inspector they wanted. From v3:

- **Grounds are registry facts.** A replacement names its reason code and its
  ``evidence``: the registry event (``event``, its CloudEvent id), the ``fact`` it records
  and when (``at``), which must be a fact of :data:`SUBJECT_FACTS` or
  :data:`INSPECTOR_FACTS` for the code, recorded after the announcement. ``closed`` and
  ``other`` have no registry fact and are refused.
- **Subjects come from a fixed order of alternates.** Per stratum, the members not
  selected at execution, in pool order, are shuffled on the stream ``alternates/<class>``
  (the partial Fisher–Yates of ``sample`` continued as far as needed,
  :class:`Alternates`); a subject replacement takes the next alternate. An alternate that
  is no longer operating is skipped only with its own evidence (``skipped``).
- **Inspectors come from a fixed order per seat.** The department's inspectors on the
  roster, by id, shuffled on the stream ``seat/<identifier>/<seat>``; a replacement takes
  the first of them who is eligible for the seat (§8's rules) and not skipped with
  evidence (a suspension, a transfer, a conflict declared since the announcement).
- **A subject that comes in by replacement gets its group by the seat orders too**
  (:func:`group_by_seat_order`): it depends on that subject alone, not on how many
  replacements came before it or in which order they were filed.
- **Replacements are capped**: at most the announcement's ``max_replacements``.

Everything here follows from the seed and the announcement; the evidence is what the
verifier cannot check by itself (it names registry events an outsider can look up).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from services.draw.protocol.groups import Examiner, GroupDrawer, Target
from services.draw.protocol.spelling import time_spelled
from services.draw.protocol.stream import Stream

# reason code → the registry facts that ground it.
SUBJECT_FACTS: dict[str, frozenset[str]] = {
    "deregistered": frozenset({"deregistered"}),
    "revoked": frozenset({"revoked", "cancelled"}),
    "relocated": frozenset({"moved_out"}),
}
INSPECTOR_FACTS: dict[str, frozenset[str]] = {
    "recusal": frozenset({"conflict"}),
    "off_post": frozenset({"suspended", "transferred"}),
    "post_change": frozenset({"transferred", "suspended"}),
    "sick_leave": frozenset({"suspended"}),
    "official_travel": frozenset({"suspended"}),
    "work_conflict": frozenset({"suspended"}),
}
# What lets an alternate be passed over: it is no longer operating / no longer on duty.
SUBJECT_GONE = frozenset({"deregistered", "revoked", "cancelled", "moved_out"})
INSPECTOR_GONE = frozenset({"suspended", "transferred", "conflict"})
EVIDENCE_KEYS = frozenset({"event", "fact", "at"})
# Candidates one replacement may pass over (each also a step of the draw's cap): the cap
# alone let one replacement of a large draw walk dozens of alternates.
MAX_SKIPS = 3

# A lookup of registry facts (identifier or inspector id → evidence, or None).
Facts = Callable[[str], Mapping[str, Any] | None]


class ReplacementError(ValueError):
    """A replacement request that cannot be carried out (the message says why)."""


class RegistryFacts(Protocol):
    """The registry's facts the service knows (the verifier has none)."""

    def subject(self, identifier: str) -> Mapping[str, Any] | None:
        """The latest status change of a pooled subject since the announcement."""

    def inspector(self, inspector_id: str, identifier: str) -> Mapping[str, Any] | None:
        """A fact that takes the inspector off the seat for this subject, since the
        announcement: a suspension or transfer, or a conflict declared with it."""


def evidence_problem(
    evidence: object, allowed: frozenset[str], announced_at: datetime, what: str
) -> str | None:
    """Why ``evidence`` does not ground ``what`` (None when it does)."""
    if not isinstance(evidence, Mapping) or set(evidence) != EVIDENCE_KEYS:
        return f"{what}: evidence must be {{event, fact, at}} naming a registry event"
    event = evidence["event"]
    if not isinstance(event, str) or not re.fullmatch(r"registry:[1-9][0-9]*", event):
        return f"{what}: evidence.event must be a registry event id, not {evidence['event']!r}"
    if evidence["fact"] not in allowed:
        return f"{what}: the registry fact {evidence['fact']!r} is not one of {sorted(allowed)}"
    try:
        at = datetime.fromisoformat(str(evidence["at"]))
    except ValueError:
        return f"{what}: evidence.at {evidence['at']!r} is not an ISO 8601 time"
    if at.tzinfo is None or at < announced_at:
        return f"{what}: the registry fact must be recorded after the announcement"
    if not isinstance(evidence["at"], str) or not time_spelled(evidence["at"]):
        return f"{what}: evidence.at {evidence['at']!r} is not written as the service writes times"
    return None


class Alternates:
    """Per stratum, the fixed order of alternates (see the module's docstring)."""

    def __init__(self, seed: bytes, members: Mapping[str, Sequence[int]], selected: set[int]):
        self._seed = seed
        self._members = members
        self._selected = selected
        self._state: dict[str, tuple[list[int], Stream, dict[int, int], int]] = {}

    def next(self, stratum: str) -> int | None:
        """The pool position of the stratum's next alternate (None when none is left)."""
        state = self._state.get(stratum)
        if state is None:
            left = [p for p in self._members.get(stratum, ()) if p not in self._selected]
            state = (left, Stream(self._seed, f"alternates/{stratum}"), {}, 0)
        left, stream, swapped, i = state
        n = len(left)
        if i >= n:
            return None
        # One more step of the partial Fisher–Yates shuffle of ``sample``.
        j = i + stream.below(n - i)
        at_i, at_j = swapped.get(i, i), swapped.get(j, j)
        swapped[i], swapped[j] = at_j, at_i
        self._state[stratum] = (left, stream, swapped, i + 1)
        return left[at_j]


def seat_order(seed: bytes, identifier: str, seat: int, roster: Sequence[Examiner]) -> list[str]:
    """The fixed order of a seat's candidates: the roster's inspectors of the seat's
    department (``roster``, by id), shuffled on the stream ``seat/<identifier>/<seat>``."""
    ids = [e.inspector_id for e in roster]
    stream = Stream(seed, f"seat/{identifier}/{seat}")
    for i in range(len(ids) - 1):
        j = i + stream.below(len(ids) - i)
        ids[i], ids[j] = ids[j], ids[i]
    return ids


def take_alternate(
    n: int,
    stratum: str,
    alternates: Alternates,
    identifier_at: Callable[[int], str],
    request: dict[str, Any],
    announced_at: datetime,
    facts: Facts | None,
) -> int:
    """The pool position of the subject replacement ``n`` takes: the next alternate not
    skipped with evidence. With ``facts`` (the service) the skips are found and written
    into ``request``; without (the verifier), ``request["skipped"]`` is checked."""
    given = request.get("skipped")
    skipped: list[dict[str, Any]] = []
    while True:
        position = alternates.next(stratum)
        if position is None:
            raise ReplacementError(f"replacement {n}: stratum {stratum} has no alternate left")
        identifier = identifier_at(position)
        if facts is not None and given is None:
            evidence = facts(identifier)
            if evidence is None or evidence.get("fact") not in SUBJECT_GONE:
                request["skipped"] = skipped
                return position
            skipped.append({"identifier": identifier, "evidence": dict(evidence)})
            continue
        listed = list(given or [])
        if len(skipped) == len(listed):
            return position
        skipped.append(
            _skip(n, listed[len(skipped)], "identifier", identifier, SUBJECT_GONE, announced_at)
        )


def _skip(
    n: int,
    entry: object,
    key: str,
    expected: str,
    gone: frozenset[str],
    announced_at: datetime,
) -> dict[str, Any]:
    """A request's next ``skipped`` entry, checked: it names the candidate next in the
    fixed order (``key`` = ``expected``) and evidences that it is gone."""
    if not isinstance(entry, Mapping) or entry.get(key) != expected:
        named = entry.get(key) if isinstance(entry, Mapping) else entry
        raise ReplacementError(f"replacement {n}: the next in order is {expected}, not {named!r}")
    problem = evidence_problem(entry.get("evidence"), gone, announced_at, f"replacement {n} skip")
    if problem:
        raise ReplacementError(problem)
    return dict(entry)


def take_seat(*args: Any) -> Examiner:
    """:func:`_take_seat`, counting the newcomer's load as §8's pick does (the groups
    of later subject replacements are drawn by load)."""
    drawer: GroupDrawer = args[2]
    chosen = _take_seat(*args)
    drawer.load[chosen.inspector_id] += 1
    return chosen


def _take_seat(
    n: int,
    seed: bytes,
    drawer: GroupDrawer,
    target: Target,
    seat: int,
    department: str,
    taken: set[str],
    out: set[str],
    request: dict[str, Any],
    announced_at: datetime,
    facts: Facts | None,
) -> Examiner:
    """The inspector inspector replacement ``n`` takes for ``seat`` of ``target``'s group:
    the first in the seat's order who is eligible and not skipped with evidence."""
    eligible = {e.inspector_id: e for e in drawer.eligible(department, target, taken, out)}
    roster = [e for e in drawer.roster if e.department == department]
    given = request.get("skipped")
    listed = list(given or [])
    skipped: list[dict[str, Any]] = []
    for inspector_id in seat_order(seed, target.identifier, seat, sorted(roster, key=_by_id)):
        if inspector_id not in eligible:
            continue
        if facts is not None and given is None:
            evidence = facts(inspector_id)
            if evidence is not None and evidence.get("fact") in INSPECTOR_GONE:
                skipped.append({"inspector_id": inspector_id, "evidence": dict(evidence)})
                continue
            request["skipped"] = skipped
            return eligible[inspector_id]
        if len(skipped) == len(listed):
            return eligible[inspector_id]
        skipped.append(
            _skip(
                n, listed[len(skipped)], "inspector_id", inspector_id, INSPECTOR_GONE, announced_at
            )
        )
    raise ReplacementError(f"replacement {n}: nobody is left for the seat of {department}")


def group_by_seat_order(seed: bytes, drawer: GroupDrawer, target: Target) -> list[dict[str, str]]:
    """The whole group of a subject that comes in by replacement: each seat, in §8's
    order, takes the first of its seat order who is eligible (§8's rules). It depends on
    the subject alone, not on how many replacements came before it or in which order."""
    members: list[dict[str, str]] = []
    taken: set[str] = set()
    for index, seat in enumerate(drawer.seats()):
        eligible = {e.inspector_id for e in drawer.eligible(seat.department, target, taken, set())}
        roster = sorted((e for e in drawer.roster if e.department == seat.department), key=_by_id)
        chosen = next(
            i for i in seat_order(seed, target.identifier, index, roster) if i in eligible
        )
        drawer.load[chosen] += 1
        taken.add(chosen)
        members.append({"inspector_id": chosen, "department": seat.department, "role": seat.role})
    return members


def _by_id(e: Examiner) -> str:
    return e.inspector_id


def steps_problem(requests: Sequence[Mapping[str, Any]], cap: object) -> str | None:
    """Every step a replacement takes counts against the announced cap: the replacement
    itself and each candidate it passes over. (Counting replacements alone let one request
    walk two dozen alternates, each "gone" on a made-up record, to a chosen company.)"""
    lists = [r.get("skipped") or [] for r in requests]
    if not all(isinstance(s, list) for s in lists):
        return "a replacement's skipped must be a list"
    longest = max((len(s) for s in lists), default=0)
    if longest > MAX_SKIPS:
        return (
            f"a replacement passes over {longest} candidates; one may pass over "
            f"{MAX_SKIPS} at most (then file the next replacement on its own ground)"
        )
    steps = sum(1 + len(s) for s in lists)
    if isinstance(cap, bool) or not isinstance(cap, int) or steps > cap:
        return (
            f"{len(requests)} replacements passing over {steps - len(requests)} candidates "
            f"take {steps} steps; the announcement allows {cap!r} at most"
        )
    return None


def evidence_reuse_problem(requests: Sequence[Mapping[str, Any]]) -> str | None:
    """A registry event records a fact about one subject or one inspector: evidence that
    cites one event for two parties is made up. (An inspector's suspension may ground
    their replacement in several groups: one party, one event.)"""
    party_of: dict[str, str] = {}

    def cite(evidence: object, party: object) -> str | None:
        if not isinstance(evidence, Mapping):
            return None
        event, who = str(evidence.get("event")), str(party)
        if party_of.setdefault(event, who) != who:
            return f"evidence {event} is cited for both {party_of[event]} and {who}"
        return None

    def party(evidence: object, who: object, subject: object) -> str:
        # A conflict (回避) is between an inspector and one subject: its event grounds a
        # recusal from that subject only.
        fact = evidence.get("fact") if isinstance(evidence, Mapping) else None
        return f"{who} / {subject}" if fact == "conflict" else str(who)

    for request in requests:
        subject = request.get("identifier")
        evidence = request.get("evidence")
        if request.get("kind") == "subject":
            found = cite(evidence, subject)
        else:
            found = cite(evidence, party(evidence, request.get("inspector_id"), subject))
        skipped = request.get("skipped")
        for entry in skipped if isinstance(skipped, list) else []:
            if isinstance(entry, Mapping):
                who = entry.get("identifier", entry.get("inspector_id"))
                if "inspector_id" in entry:
                    who = party(entry.get("evidence"), who, subject)
                found = found or cite(entry.get("evidence"), who)
        if found:
            return f"replacement {request.get('sequence')}: {found}"
    return None


def ground_problem(request: Mapping[str, Any], announced_at: datetime) -> str | None:
    """Why the request's own ground (its reason code and evidence) does not hold."""
    kind, code = request.get("kind"), request.get("reason_code")
    table = SUBJECT_FACTS if kind == "subject" else INSPECTOR_FACTS
    allowed = table.get(str(code))
    if allowed is None:
        return (
            f"replacement {request.get('sequence')}: a {kind} is replaced in ssj-draw-3 only "
            f"on a registry fact: reason_code one of {sorted(table)}, not {code!r}"
        )
    return evidence_problem(
        request.get("evidence"), allowed, announced_at, f"replacement {request.get('sequence')}"
    )
