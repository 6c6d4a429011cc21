"""The Draw aggregate's state read as its users need it: the subjects and groups as they
stand (replacements applied) and the result in the protocol's own form (what a verifier
recomputes). Pure functions of the aggregate's recorded events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MEMBER = ("inspector_id", "department", "role")


def _bare(m: Mapping[str, str]) -> dict[str, str]:
    return {k: m[k] for k in _MEMBER}


def current(
    drawn: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The drawn subjects and groups with every replacement applied, in draw order."""
    subjects = [dict(s, inspectors=[dict(m) for m in s["inspectors"]]) for s in drawn]
    for request, outcome in zip(requests, outcomes, strict=True):
        at = next(i for i, s in enumerate(subjects) if s["identifier"] == request["identifier"])
        if request["kind"] == "inspector":
            subjects[at]["inspectors"] = [
                outcome["replacement"] if m["inspector_id"] == outcome["replaced"] else m
                for m in subjects[at]["inspectors"]
            ]
        else:
            subjects[at] = dict(outcome["replacement"])
    return subjects


def result(
    executed: Mapping[str, Any],
    drawn: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The result in the protocol's own form."""
    e = executed
    return {
        "protocol": e["algorithm"],
        "pool_hash": e["pool_hash"],
        "pool_size": e["pool_size"],
        "announcement_hash": e["announcement_hash"],
        "commitment": e["commitment"],
        "seed": e["seed"],
        "strata": e["strata"],
        "selection": [{"identifier": s["identifier"], "stratum": s["stratum"]} for s in drawn],
        "groups": [
            {"identifier": s["identifier"], "inspectors": [_bare(m) for m in s["inspectors"]]}
            for s in drawn
        ],
        "replacements": [protocol_outcome(r, o) for r, o in zip(requests, outcomes, strict=True)],
    }


def protocol_outcome(request: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict[str, Any]:
    """One replacement's outcome as the protocol writes it."""
    if request["kind"] == "inspector":
        return {
            "sequence": request["sequence"],
            "kind": "inspector",
            "identifier": request["identifier"],
            "replaced": outcome["replaced"],
            "replacement": _bare(outcome["replacement"]),
        }
    new = outcome["replacement"]
    return {
        "sequence": request["sequence"],
        "kind": "subject",
        "identifier": request["identifier"],
        "replacement": new["identifier"],
        "stratum": new["stratum"],
        "group": [_bare(m) for m in new["inspectors"]],
    }
