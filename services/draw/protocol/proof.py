"""Run, replay and verify a draw of protocol ``ssj-draw-3`` (or ``ssj-draw-2``, by its own
rules) from its proof document.

A proof is one JSON object (see ``docs/draw-protocol.md``)::

    {"announcement": {...}, "pool": "<line>\n<line>…", "secret": "<hex>",
     "entropy": "<text>", "replacements": [...], "result": {...}}

:func:`run` computes the result from everything but ``result``; :func:`verify` compares
it with the recorded ``result`` and says what does not match. Standard library only:
``python -m services.draw.protocol.proof verify PROOF.json`` needs no service, database
or third-party package.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.draw.protocol import v3
from services.draw.protocol.blinding import keyed_members
from services.draw.protocol.canonical import (
    FULL_LIST,
    PROTOCOL_V2,
    PROTOCOL_V3,
    PROTOCOLS,
    RFC3797_SELECTION,
    SHA256_SELECTION,
    announcement_hash,
    commitment,
    derive_seed,
    derive_seed_v3,
    pool_text_hash,
    split_line,
)
from services.draw.protocol.groups import Examiner, GroupDrawer, Target
from services.draw.protocol.replace3 import (
    Alternates,
    Facts,
    RegistryFacts,
    ReplacementError,
    evidence_reuse_problem,
    ground_problem,
    group_by_seat_order,
    steps_problem,
    take_alternate,
    take_seat,
)
from services.draw.protocol.rfc3797 import parse_sources
from services.draw.protocol.stream import Stream, sample
from services.draw.protocol.subjects import Sampler, select, select_rfc3797, stratum_members


def _pairs(rows: Sequence[Sequence[str]]) -> frozenset[tuple[str, str]]:
    return frozenset((str(a), str(b)) for a, b in rows)


def drawer_for(announcement: Mapping[str, Any]) -> GroupDrawer:
    """The group drawer the announcement describes (roster, seats, rules, exclusions)."""
    rules = announcement.get("rules", {})
    for name in ("cross_jurisdiction", "avoid_previous_inspectors"):
        if not isinstance(rules.get(name, False), bool):  # "false" would read as true
            raise ValueError(f"rules.{name} must be true or false")
    return GroupDrawer(
        roster=[Examiner.from_row(row) for row in announcement["roster"]],
        departments=announcement["departments"],
        min_group_size=int(announcement.get("min_group_size", 2)),
        cross_jurisdiction=rules.get("cross_jurisdiction", False),
        avoid_previous=rules.get("avoid_previous_inspectors", True),
        conflicts=_pairs(announcement.get("conflicts", [])),
        previous=_pairs(announcement.get("previous", [])),
    )


def pool_of(proof: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The proof's pool: the canonical pool text (what ``pool_hash`` hashes) and its lines."""
    text = proof.get("pool") or ""
    if not isinstance(text, str):
        raise ValueError("pool must be the canonical pool text: lines joined by LF")
    return text, text.split("\n") if text else []


def run(proof: Mapping[str, Any], *, digest: str | None = None) -> dict[str, Any]:
    """The result the inputs of ``proof`` give (its ``result``, if any, is ignored);
    ``digest`` is the pool's hash when the caller has computed it already. An ssj-draw-3
    proof in its public or full form is computed as :mod:`.verify3` says."""
    if "opened" in proof or "full_announcement" in proof:
        from services.draw.protocol.verify3 import recompute

        return recompute(proof)
    text, lines = pool_of(proof)
    return compute(proof, text, lines, digest)[0]


def pool_problems(
    text: str,
    lines: Sequence[str],
    announcement: Mapping[str, Any],
    digest: str,
    *,
    identifiers_unique: bool = False,
) -> list[str]:
    """What is wrong with a pool (``digest`` its SHA-256) against its announcement: hash,
    size, canonical order.

    ``identifiers_unique`` is for a caller that knows no identifier occurs twice (the
    service: its projection has a unique index on them); then lines in strictly ascending
    order are enough, which is one comparison per line instead of cutting out every
    identifier: the registry's identifiers are ASCII letters, digits and hyphens, all
    above TAB, so lines with unique identifiers sort as their identifiers do."""
    problems = []
    if digest != announcement.get("pool_hash"):
        problems.append(
            f"pool_hash: announced {announcement.get('pool_hash')}, the pool's lines hash to "
            f"{digest}"
        )
    if len(lines) != announcement.get("pool_size"):
        problems.append(
            f"pool_size: announced {announcement.get('pool_size')}, pool has {len(lines)}"
        )
    if identifiers_unique:
        ordered = all(map(str.__lt__, lines, itertools.islice(lines, 1, None)))
    else:
        identifiers = [line[: line.find("\t")] for line in lines]
        ordered = all(map(str.__lt__, identifiers, identifiers[1:]))
        # One reading of an identifier: visible ASCII (the registry's USCCs and codes), so
        # no invisible character can make one company two lines.
        joined = "".join(identifiers)
        if not (joined.isascii() and joined.isprintable() and " " not in joined):
            problems.append("pool: an identifier holds other than visible ASCII characters")
    if not ordered:
        problems.append("pool: lines are not in canonical order (identifiers ascending, unique)")
    return problems


def compute(
    proof: Mapping[str, Any],
    text: str | None,
    lines: Sequence[str],
    digest: str | None = None,
    sampler: Sampler = sample,
    facts: RegistryFacts | None = None,
    *,
    members: Mapping[str, Sequence[int]] | None = None,
    announced: str | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """:func:`run` on a pool split into lines already; also each drawn subject's position
    in the pool (replacements included). ``digest`` is the pool's hash if known;
    ``sampler`` is the selection's sampler (see :func:`select`); ``facts`` (the service,
    making a v3 replacement) finds the alternates to skip and writes them into the
    request, where the verifier checks the request's own.

    A v3 draw is computed from its full announcement (``proof["announcement"]``) with the
    hash of its public one (``announced``), or from the public one and its opened leaves
    (:mod:`.public`): then ``text`` is None, ``lines`` an :class:`.blinding.OpenedPool`,
    ``members`` its strata, and the result has no ``pool_hash`` (which is internal)."""
    announcement = proof["announcement"]
    protocol = announcement.get("protocol")
    if text is not None:
        digest = digest or pool_text_hash(text)
    announced = announced or announcement_hash(announcement)
    secret = bytes.fromhex(proof["secret"])
    if protocol == PROTOCOL_V3:
        material, sources = v3.seed_entropy(announcement, proof["entropy"])
        seed = derive_seed_v3(announced, secret, material)
    elif protocol == PROTOCOL_V2:
        seed = derive_seed(announced, secret, proof["entropy"])
    else:
        raise ValueError(f"protocol {protocol!r} is none of {', '.join(PROTOCOLS)}")
    method = announcement.get("selection", SHA256_SELECTION)
    if members is None and protocol == PROTOCOL_V3 and proof.get("blinding_key"):
        # ssj-draw-3 draws each stratum in its keyed order (blinding.keyed_members).
        members = keyed_members(lines, bytes.fromhex(proof["blinding_key"]))
    if members is None:  # for the selection and every subject replacement
        members = stratum_members(lines)
    if method == SHA256_SELECTION:
        picked, summary = select(seed, lines, announcement["strata"], sampler, members)
    elif method == RFC3797_SELECTION:
        if protocol == PROTOCOL_V2:
            sources = parse_sources(proof["entropy"])
        picked, summary = select_rfc3797(sources, lines, announcement["strata"], members)
    else:
        raise ValueError(f"selection {method!r} is neither {SHA256_SELECTION} nor rfc3797")

    position = {p.identifier: p.position for p in picked}

    def target(identifier: str) -> Target:
        _, _, region, unit = split_line(lines[position[identifier]])
        return Target(identifier, region, unit)

    drawer = drawer_for(announcement)
    stream = Stream(seed, "inspectors")
    drawn = [(p.identifier, drawer.group(stream, target(p.identifier))) for p in picked]
    groups = [{"identifier": i, "inspectors": [dict(m) for m in g]} for i, g in drawn]
    current: dict[str, list[dict[str, str]]] = dict(drawn)
    ever_selected = set(current)
    replaced_out: dict[str, set[str]] = {}
    outcomes = []
    requests = proof.get("replacements", [])
    v3_rules = protocol == PROTOCOL_V3
    if v3_rules:
        cap = announcement.get("max_replacements")
        if problem := steps_problem(requests, cap):  # as filed (the verifier's case)
            raise ReplacementError(problem)
        announced_at = v3.instant(announcement.get("announced_at"), "announced_at")
        alternates = Alternates(seed, members, set(position.values()))

    def identifier_at(at: int) -> str:
        return lines[at][: lines[at].index("\t")]

    for n, request in enumerate(requests, start=1):
        sequence = request.get("sequence")
        if type(sequence) is not int or sequence != n:
            raise ReplacementError(f"replacement {n} carries sequence {request.get('sequence')}")
        identifier = str(request["identifier"])
        if identifier not in current:
            raise ReplacementError(f"replacement {n}: {identifier} is not a drawn subject")
        sub = Stream(seed, f"replace/{n}")
        if v3_rules and (problem := ground_problem(request, announced_at)):
            raise ReplacementError(problem)
        if request["kind"] == "inspector":
            if v3_rules:
                lookup = facts_about(facts, identifier)
                choose = _by_seat_order(
                    n, seed, drawer, target(identifier), request, announced_at, lookup
                )
            else:
                choose = _by_pick(drawer, target(identifier), sub)
            outcomes.append(_replace_inspector(n, request, current, replaced_out, drawer, choose))
        elif request["kind"] == "subject":
            stratum = split_line(lines[position[identifier]])[1]
            if stratum == FULL_LIST:
                raise ReplacementError(
                    f"replacement {n}: {identifier} is on the 100 % list, which has no "
                    "random pool to replace it from"
                )
            if v3_rules:
                chosen_at = take_alternate(
                    n,
                    stratum,
                    alternates,
                    identifier_at,
                    request,
                    announced_at,
                    facts.subject if facts is not None else None,
                )
            else:
                unavailable = {str(u) for u in request.get("unavailable", [])}
                excluded = ever_selected | unavailable
                candidates = [p for p in members[stratum] if identifier_at(p) not in excluded]
                if not candidates:
                    raise ReplacementError(
                        f"replacement {n}: stratum {stratum} has no subject left to draw"
                    )
                chosen_at = candidates[sub.below(len(candidates))]
            chosen = lines[chosen_at][: lines[chosen_at].index("\t")]
            position[chosen] = chosen_at
            drawer.release(m["inspector_id"] for m in current.pop(identifier))
            if v3_rules:
                group = group_by_seat_order(seed, drawer, target(chosen))
            else:
                group = drawer.group(sub, target(chosen))
            current[chosen] = group
            ever_selected.add(chosen)
            outcomes.append(
                {
                    "sequence": n,
                    "kind": "subject",
                    "identifier": identifier,
                    "replacement": chosen,
                    "stratum": stratum,
                    "group": group,
                }
            )
        else:
            raise ReplacementError(f"replacement {n}: kind must be 'inspector' or 'subject'")
    # Again with the skips the service found (its case), and no event cited for two.
    if v3_rules and (problem := steps_problem(requests, cap) or evidence_reuse_problem(requests)):
        raise ReplacementError(problem)
    result = {
        "protocol": protocol,
        **({"pool_hash": digest} if text is not None else {}),
        "pool_size": len(lines),
        "announcement_hash": announced,
        "commitment": commitment(secret),
        "seed": seed.hex(),
        "strata": summary,
        "selection": [{"identifier": p.identifier, "stratum": p.stratum} for p in picked],
        "groups": groups,
        "replacements": outcomes,
    }
    return result, position


Chooser = Callable[[int, str, set[str], set[str]], Examiner]


def facts_about(facts: RegistryFacts | None, identifier: str) -> Facts | None:
    """The inspector facts for one subject (None: the verifier, which has none)."""
    if facts is None:
        return None
    return lambda inspector_id: facts.inspector(inspector_id, identifier)


def _by_pick(drawer: GroupDrawer, target: Target, sub: Stream) -> Chooser:
    """ssj-draw-2: a fresh pick on the replacement's own stream."""
    return lambda seat, department, taken, out: drawer.pick(
        sub, drawer.eligible(department, target, taken, out)
    )


def _by_seat_order(
    n: int,
    seed: bytes,
    drawer: GroupDrawer,
    target: Target,
    request: dict[str, Any],
    announced_at: Any,
    lookup: Facts | None,
) -> Chooser:
    """ssj-draw-3: the seat's fixed order (replace3.take_seat)."""
    return lambda seat, department, taken, out: take_seat(
        n, seed, drawer, target, seat, department, taken, out, request, announced_at, lookup
    )


def _replace_inspector(
    n: int,
    request: Mapping[str, Any],
    current: dict[str, list[dict[str, str]]],
    replaced_out: dict[str, set[str]],
    drawer: GroupDrawer,
    choose: Chooser,
) -> dict[str, Any]:
    """Replace one member of a group; ``choose(seat index, department, taken, replaced
    out)`` names the newcomer (a fresh pick in v2, the seat's order in v3)."""
    identifier = str(request["identifier"])
    leaving = str(request["inspector_id"])
    group = current[identifier]
    seat = next((m for m in group if m["inspector_id"] == leaving), None)
    if seat is None:
        raise ReplacementError(f"replacement {n}: {leaving} is not in the group of {identifier}")
    out = replaced_out.setdefault(identifier, set())
    out.add(leaving)
    drawer.release([leaving])
    taken = {m["inspector_id"] for m in group if m["inspector_id"] != leaving}
    chosen = choose(group.index(seat), seat["department"], taken, out)
    member = {
        "inspector_id": chosen.inspector_id,
        "department": chosen.department,
        "role": seat["role"],
    }
    group[group.index(seat)] = member
    return {
        "sequence": n,
        "kind": "inspector",
        "identifier": identifier,
        "replaced": leaving,
        "replacement": member,
    }


def verify(proof: Mapping[str, Any]) -> list[str]:
    """Everything in the proof that does not match its recomputation (:mod:`.verify`)."""
    from services.draw.protocol.verify import verify as verifying

    return verifying(proof)


def main(argv: Sequence[str] | None = None) -> int:
    """``ssj draw verify|replay`` (:mod:`.verify`), as ``python -m …protocol.proof``."""
    from services.draw.protocol.verify import main as command

    return command(argv)


if __name__ == "__main__":
    raise SystemExit(main())
