"""One reading only: what the verifier requires of a proof's form, before any computing.

A proof is read by people and programs other than ours. If one of them can read it two ways,
a forger picks the way that suits: JSON with a key twice (Python keeps the last, others the
first), ``"false"`` where a boolean belongs (truthy in Python), a roster listing an inspector
twice, pool fields with invisible characters (U+200B, U+2060) that make two units look
alike. So the verifier refuses all of them (:func:`.spelling.load`, :func:`form_problems`);
honest proofs, which the service writes in canonical form, never have them.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from services.draw.protocol import blinding
from services.draw.protocol.blinding import token_ok
from services.draw.protocol.canonical import PROTOCOL_V3, SHA256_SELECTION, field

_REGION = re.compile(r"[0-9]{6}")
# Unicode categories no identifier, code or unit may hold in ssj-draw-3: format characters
# (U+200B, U+2060, U+FEFF…), controls, private use, unassigned, surrogates.
_INVISIBLE = frozenset({"Cf", "Cc", "Co", "Cn", "Cs"})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _visible(text: str) -> bool:
    return not any(unicodedata.category(ch) in _INVISIBLE for ch in text)


def _sorted_unique(rows: Sequence[Any]) -> bool:
    return all(a < b for a, b in itertools.pairwise(rows))


def _text(value: object, where: str, problems: list[str], strict: bool) -> None:
    if not isinstance(value, str):
        problems.append(f"{where}: must be a string, not {json.dumps(value, ensure_ascii=False)}")
    elif field(value) != value:
        problems.append(f"{where}: {value!r} is not in canonical form")
    elif strict and not _visible(value):
        problems.append(f"{where}: {value!r} holds invisible or format characters")


def form_problems(proof: Mapping[str, Any], *, full: bool = False) -> list[str]:
    """Everything in the announcement's form that could be read two ways (empty: none).

    For both protocols: types (booleans are booleans, counts integers), the roster sorted
    by inspector id with each id once, exclusion lists sorted with no pair twice, fields
    canonical. For ``ssj-draw-3`` also: no invisible or format characters in the roster
    and the pairs, and jurisdictions of exactly six digits (GB/T 2260); the pool's lines
    are checked by :func:`drawn_line_problems` and :func:`.proof.pool_problems`."""
    announcement = proof.get("announcement")
    if not isinstance(announcement, Mapping):
        return ["announcement: must be an object"]
    v3 = announcement.get("protocol") == PROTOCOL_V3
    problems: list[str] = []
    rules = announcement.get("rules")
    if not isinstance(rules, Mapping) or set(rules) != set(RULES):
        problems.append(f"rules: must be an object of exactly {list(RULES)}")
    else:
        for name in RULES:
            if not isinstance(rules[name], bool):
                problems.append(f"rules.{name}: must be true or false, not {rules[name]!r}")
    problems += strata_problems(announcement.get("strata"))
    for name in ("pool_size", "min_group_size"):
        if not _is_int(announcement.get(name)):
            problems.append(f"{name}: must be an integer")
    # A public v3 announcement: units are tokens and the pairs are in the leaves. A full
    # one (``full``, the auditors') is never read as public, whatever keys it holds.
    public = v3 and not full and "pool_roots" in announcement
    if full:
        problems += [
            f"{k}: belongs to the public announcement, not the full one"
            for k in ("pool_roots", "private_hash")
            if k in announcement
        ]
    if v3:
        for name in ("batch_id", "plan_id"):
            if not isinstance(announcement.get(name), str):
                problems.append(f"{name}: must be a string")
        problems += _key_problems(announcement, full)
    problems += _departments_problems(announcement.get("departments"))
    problems += _roster_problems(announcement.get("roster"), v3)
    if public:
        roster = announcement.get("roster")
        bad = [
            n
            for n, row in enumerate(roster if isinstance(roster, list) else [])
            if isinstance(row, list) and len(row) == 5 and not token_ok(str(row[3]))
        ]
        if bad:
            problems.append(f"roster[{bad[0]}].unit: must be a unit token (32 hex digits)")
    else:
        for name in ("conflicts", "previous"):
            problems += _pair_problems(name, announcement.get(name), v3)
    return problems


RULES = ("cross_jurisdiction", "avoid_previous_inspectors")
# The keys of a full ssj-draw-3 announcement (§4), all of them always written; and
# ``selection``, written only when it is not the default.
ANNOUNCEMENT_KEYS = frozenset(
    {
        *("protocol", "draw_id", "attempt", "batch_id", "plan_id", "pool_hash", "pool_size"),
        *("strata", "departments", "min_group_size", "rules", "roster", "conflicts"),
        *("previous", "commitment", "max_replacements", "pool_spec", "entropy"),
        *("entropy_not_before", "announced_at"),
    }
)


def _key_problems(announcement: Mapping[str, Any], full: bool) -> list[str]:
    """ssj-draw-3: no key the service does not write (§4), and ``selection`` only when it
    is not the default. Private keys in a public announcement and public ones in a full
    announcement are named on their own."""
    allowed = ANNOUNCEMENT_KEYS | set(blinding.PUBLIC_KEYS) | {"selection"}
    if not full:
        allowed |= set(blinding.PRIVATE_KEYS)
    problems = []
    extra = sorted(set(announcement) - allowed)
    if extra:
        problems.append(f"fields: {extra} are not part of an ssj-draw-3 announcement")
    if announcement.get("selection") == SHA256_SELECTION:
        problems.append(
            f"fields: selection {SHA256_SELECTION!r} is the default, which an announcement "
            "leaves out"
        )
    return problems


# An inspector id: what the registry issues (UUIDs) and the examples use; no comma (the
# leaves join bars with commas) and never empty.
_INSPECTOR_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CATEGORIES = ("general", "key")


def _departments_problems(departments: object) -> list[str]:
    """The seats' departments: each once, as ``{"department", "categories"}`` with the
    item categories sorted, each once, of ``general`` and ``key``."""
    if not isinstance(departments, list) or not departments:
        return ["departments: must be a non-empty list, the initiating department first"]
    problems: list[str] = []
    seen: set[str] = set()
    for n, entry in enumerate(departments):
        where = f"departments[{n}]"
        if not isinstance(entry, Mapping) or set(entry) != {"department", "categories"}:
            problems.append(f"{where}: must be exactly {{department, categories}}")
            continue
        name, categories = entry["department"], entry["categories"]
        if not isinstance(name, str) or not name or name in seen:
            problems.append(f"{where}.department: must be a code, each department once")
        seen.add(str(name))
        if (
            not isinstance(categories, list)
            or not all(c in _CATEGORIES for c in categories)
            or not _sorted_unique(categories)
        ):
            problems.append(f"{where}.categories: must be sorted, each once, of {_CATEGORIES}")
    return problems


_RATIO = re.compile(r"0\.[0-9]*[1-9][0-9]*|1(?:\.0+)?")


def strata_problems(strata: object) -> list[str]:
    """Each stratum drawn is A-D with exactly a ratio (a decimal string in (0, 1], as
    written by the service) or a count (a whole number, not a boolean)."""
    if not isinstance(strata, Mapping):
        return ["strata: must be an object"]
    problems = []
    for name, rule in strata.items():
        where = f"strata.{name}"
        if name not in ("A", "B", "C", "D"):
            problems.append(f"{where}: not a credit-risk class A-D")
        elif not isinstance(rule, Mapping) or len(rule) != 1:
            problems.append(f'{where}: must be {{"ratio": …}} or {{"count": …}}, one of them')
        elif "ratio" in rule:
            ratio = rule["ratio"]
            if not isinstance(ratio, str) or not _RATIO.fullmatch(ratio):
                problems.append(f"{where}.ratio: {ratio!r} is not a decimal in (0, 1]")
            elif repr(float(ratio)) != ratio:  # the service writes repr(float): "0.05", "1.0"
                problems.append(
                    f"{where}.ratio: {ratio!r} is not written as the service writes it "
                    f"({repr(float(ratio))!r})"
                )
        elif "count" in rule:
            if not _is_int(rule["count"]) or rule["count"] < 0:
                problems.append(f"{where}.count: {rule['count']!r} is not a whole number")
        else:
            problems.append(f"{where}: must be ratio or count")
    return problems


def _roster_problems(roster: object, v3: bool) -> list[str]:
    if not isinstance(roster, list):
        return ["roster: must be a list"]
    problems: list[str] = []
    for n, row in enumerate(roster):
        where = f"roster[{n}]"
        if not isinstance(row, list) or len(row) != 5:
            problems.append(f"{where}: must be [id, department, jurisdiction, unit, categories]")
            continue
        for i, name in enumerate(("id", "department", "jurisdiction", "unit")):
            _text(row[i], f"{where}.{name}", problems, v3)
        if v3 and isinstance(row[0], str) and not _INSPECTOR_ID.fullmatch(row[0]):
            problems.append(f"{where}.id: {row[0]!r} is not an inspector id (A-Z a-z 0-9 . _ : -)")
        if v3 and isinstance(row[2], str) and not _REGION.fullmatch(row[2]):
            problems.append(f"{where}.jurisdiction: {row[2]!r} is not a six-digit code")
        categories = row[4]
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            problems.append(f"{where}.categories: must be a list of strings")
        elif not _sorted_unique(categories):
            problems.append(f"{where}.categories: must be sorted, each once")
    ids = [row[0] for row in roster if isinstance(row, list) and row and isinstance(row[0], str)]
    if len(ids) == len(roster) and not _sorted_unique(ids):
        problems.append("roster: inspectors must be sorted by id, each once")
    return problems


def _pair_problems(name: str, rows: object, v3: bool) -> list[str]:
    if not isinstance(rows, list):
        return [f"{name}: must be a list"]
    problems: list[str] = []
    pairs = []
    for n, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 2:
            problems.append(f"{name}[{n}]: must be [inspector_id, identifier]")
            continue
        _text(row[0], f"{name}[{n}][0]", problems, v3)
        _text(row[1], f"{name}[{n}][1]", problems, v3)
        pairs.append((str(row[0]), str(row[1])))
    if not problems and not _sorted_unique(pairs):
        problems.append(f"{name}: pairs must be sorted, each once")
    return problems


def drawn_line_problems(lines: Sequence[str], positions: Mapping[str, int]) -> list[str]:
    """ssj-draw-3: the lines the draw used (its selection and replacements: their region
    decides the inspectors' jurisdiction, their unit 所所交叉) hold a six-digit region and a
    canonical, visible unit. Identifiers are checked for the whole pool elsewhere (visible
    ASCII, :func:`.proof.pool_problems`); a line nobody drew decides nothing, so the
    million of them are not read field by field."""
    problems: list[str] = []
    units: dict[str, bool] = {}  # a few hundred units for tens of thousands of lines
    for identifier, at in positions.items():
        parts = lines[at].split("\t")
        if len(parts) != 4 or not _REGION.fullmatch(parts[2]):
            problems.append(f"pool line of {identifier}: the region is not a six-digit code")
        else:
            unit = parts[3]
            good = units.get(unit)
            if good is None:
                # isprintable: no control, format, private-use, unassigned or separator
                # character other than the space (C speed; _visible would ask per char).
                good = units[unit] = field(unit) == unit and (unit.isprintable() or not unit)
            if not good:
                problems.append(
                    f"pool line of {identifier}: unit {unit!r} is not canonical and visible"
                )
        if len(problems) >= 3:
            break
    return problems
