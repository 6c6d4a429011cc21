"""The case suite of the browser verifier (services/disclosure/static/verify.js): draw
proofs of every form, honest and forged, each with what ``ssj draw verify`` says of it.

``python -m tests.browser.proof_cases OUT.json`` writes a JSON list of cases::

    {"name": "v3-public/forged/entropy-changed",
     "proof_text": "<the proof as the draw service serves it>",
     "problems": ["<verify()'s problems, in order>", ...]}

``proof_text`` is what ``GET /v1/draws/{id}/proof`` would answer (``json.dumps`` with
``ensure_ascii=False`` and compact separators) and ``problems`` is the reference's
``verify()`` of that text read back by ``spelling.load``. A text ``spelling.load`` refuses
has ``parse_error`` (the message) instead of ``problems``; a proof the reference cannot verify
at all (it raises) has ``error``; a file that is not UTF-8 comes as ``proof_base64``.

The proofs are built with the unit tests' builders (tests/unit/test_draw_v3_proofs.py,
tests/unit/test_draw_private_proof.py) and their forgeries are those tests' forgeries,
applied to the public form (what anyone downloads) and to the full form (auditors');
``tests/browser/node_check.mjs`` runs them through verify.js. It needs what those tests
need (the protocol package, pytest, the builders), nothing more.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from services.draw.protocol import spelling, v3, verify3
from services.draw.protocol import verify as verifying
from services.draw.protocol.canonical import RFC3797_SELECTION, announcement_hash, pool_hash
from services.draw.protocol.forms import proofs
from tests.browser import spelling_cases
from tests.unit import test_draw_private_proof as private_tests
from tests.unit import test_draw_v3_proofs as v3_tests
from tests.unit.test_draw_v3_proofs import KEY, fact, first_of, pool, proof, replaced, reseal

Doc = dict[str, Any]
Change = Callable[[Doc], Any]
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def served(document: Doc) -> str:
    """A proof as the draw service serves it (services/draw/api.py ``_json``): canonical
    JSON. A lone surrogate, which UTF-8 cannot carry, stays a JSON escape (and so the text
    is not canonical)."""
    text = spelling.canonical_text(document)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, sort_keys=True, separators=(",", ":"))
    return text


def case(name: str, text: str) -> Doc:
    """A case: the text, and what the reference says of it."""
    try:
        document = spelling.load(text.encode("utf-8"))
    except ValueError as exc:
        return {"name": name, "proof_text": text, "parse_error": str(exc)}
    try:
        return {"name": name, "proof_text": text, "problems": verifying.verify(document)}
    except Exception as exc:  # the reference itself stops: verify.js must refuse it too
        return {"name": name, "proof_text": text, "error": f"{type(exc).__name__}: {exc}"}


def byte_case(name: str, data: bytes) -> Doc:
    """A file that is not UTF-8 text: what spelling.load says of its bytes."""
    try:
        spelling.load(data)
    except ValueError as exc:
        encoded = base64.b64encode(data).decode()
        return {"name": name, "proof_base64": encoded, "parse_error": str(exc)}
    raise AssertionError(f"{name} was read")


def both(inputs: Doc) -> tuple[Doc, Doc]:
    """The public and the full proof of a draw's inputs."""
    return proofs(inputs, KEY)


def forge_public(public: Doc, change: Change, *, rehash: bool = False) -> Doc:
    """A forger's edit of a public proof, then their own recomputation of the result where
    it can be made (the published announcement hash kept, unless ``rehash``)."""
    forged = copy.deepcopy(public)
    change(forged)
    # Where the forger's own tools fail on what they made, the old values stay.
    with contextlib.suppress(Exception):
        if rehash:
            forged["announcement_hash"] = announcement_hash(forged["announcement"])
    with contextlib.suppress(Exception):
        forged["result"] = verify3.recompute(forged)
    return forged


def edited(document: Doc, change: Change) -> Doc:
    """A copy of a proof with one edit and nothing recomputed."""
    forged = copy.deepcopy(document)
    change(forged)
    return forged


# -- the four forgeries every form must name ------------------------------------------------


def _set_line_field(row: Doc, index: int, value: str) -> None:
    parts = row["line"].split("\t")
    parts[index] = value
    row["line"] = "\t".join(parts)


def _undrawn(inputs: Doc, document: Doc) -> str:
    """A pool subject the draw did not select."""
    drawn = {s["identifier"] for s in document["result"]["selection"]}
    return next(
        line.split("\t", 1)[0]
        for line in inputs["pool"].split("\n")
        if line.split("\t", 1)[0] not in drawn
    )


def _swap_inspector(document: Doc) -> None:
    """The first group's leader replaced by another inspector of the same department."""
    group = document["result"]["groups"][0]["inspectors"]
    leader = group[0]
    seated = {m["inspector_id"] for m in group}
    roster = (document.get("full_announcement") or document["announcement"])["roster"]
    other = next(r[0] for r in roster if r[1] == leader["department"] and r[0] not in seated)
    leader["inspector_id"] = other


def _edit_pool_line(document: Doc) -> None:
    """The region of the pool's first line changed (full and v2 proofs hold the pool)."""
    lines = document["pool"].split("\n")
    parts = lines[0].split("\t")
    parts[2] = "420203" if parts[2] != "420203" else "420204"
    lines[0] = "\t".join(parts)
    document["pool"] = "\n".join(lines)


def required_public(inputs: Doc, public: Doc) -> Iterator[tuple[str, Doc]]:
    """Pool line, entropy, selection and inspector changed in a public proof."""
    stratum = next(iter(public["opened"]))
    yield (
        "pool-line-edited",
        edited(public, lambda d: _set_line_field(d["opened"][stratum][0], 2, "420203")),
    )
    yield (
        "pool-line-identifier-edited",
        edited(public, lambda d: _set_line_field(d["opened"][stratum][0], 0, _undrawn(inputs, d))),
    )
    yield "entropy-changed", edited(public, lambda d: d.update(entropy="01 09 14 22 27 31 | 08"))
    yield (
        "entropy-changed-and-resealed",
        forge_public(public, lambda d: d.update(entropy="03 09 14 22 27 32 | 08")),
    )
    other = _undrawn(inputs, public)
    yield (
        "selection-swapped",
        edited(public, lambda d: d["result"]["selection"][0].update(identifier=other)),
    )
    yield "inspector-swapped", edited(public, _swap_inspector)


def required_full(inputs: Doc, full: Doc) -> Iterator[tuple[str, Doc]]:
    """The same four in a full proof (the pool itself is in it)."""
    yield "pool-line-edited", edited(full, _edit_pool_line)
    yield "entropy-changed", edited(full, lambda d: d.update(entropy="01 09 14 22 27 31 | 08"))
    other = _undrawn(inputs, full)
    yield (
        "selection-swapped",
        edited(full, lambda d: d["result"]["selection"][0].update(identifier=other)),
    )
    yield "inspector-swapped", edited(full, _swap_inspector)


# -- the unit tests' forgeries -----------------------------------------------------------------


def named_forgeries() -> list[tuple[str, Change]]:
    """test_each_forgery_is_named's list (the forgeries of the audit's techniques)."""
    marks = v3_tests.test_each_forgery_is_named.pytestmark
    mark = next(m for m in marks if m.name == "parametrize")
    ids, rows = mark.kwargs["ids"], mark.args[1]
    return [(name, change) for name, (change, _) in zip(ids, rows, strict=True)]


def named_on_full(change: Change) -> Doc:
    """A forgery of the draw's inputs as test_each_forgery_is_named makes it: the forged
    inputs hashed and resealed, then served as the full proof."""
    forged = copy.deepcopy(proof())
    change(forged)
    forged["announcement_hash"] = announcement_hash(forged["announcement"])
    with contextlib.suppress(ValueError, KeyError, TypeError):
        reseal(forged)
    return v3_tests.full_form(forged)


def named_on_public(inputs: Doc, public: Doc, change: Change) -> Doc | None:
    """The same edit made to the public proof (None where it has no meaning there: it
    edits the pairs, which a public announcement does not hold). The pool is lent for the
    edit and kept only if the edit changed it."""
    forged = copy.deepcopy(public)
    forged["pool"] = inputs["pool"]
    try:
        change(forged)
    except (KeyError, AttributeError, IndexError, TypeError):
        return None
    if forged["pool"] == inputs["pool"]:
        del forged["pool"]
    forged["announcement_hash"] = announcement_hash(forged["announcement"])
    with contextlib.suppress(Exception):
        forged["result"] = verify3.recompute(forged)
    return forged


# -- replacements (递补) ------------------------------------------------------------------------


def subject_request(identifier: str, n: int = 1, **more: Any) -> Doc:
    return {
        "kind": "subject",
        "identifier": identifier,
        "reason_code": "deregistered",
        "evidence": fact(n),
        "skipped": [],
        **more,
    }


def inspector_request(document: Doc, group_at: int = 0, **more: Any) -> Doc:
    group = document["result"]["groups"][group_at]
    return {
        "kind": "inspector",
        "identifier": group["identifier"],
        "inspector_id": group["inspectors"][1]["inspector_id"],
        "reason_code": "sick_leave",
        "evidence": fact(1, "suspended"),
        "skipped": [],
        **more,
    }


def with_replacements(inputs: Doc) -> Iterator[tuple[str, Doc]]:
    """Honest inputs with replacements of each kind, skips included."""
    gone = first_of(inputs, "A")
    first, _ = v3_tests.alternates_of(inputs, "A", 2)
    yield "subject", replaced(inputs, subject_request(gone))
    skipping = subject_request(gone, skipped=[{"identifier": first, "evidence": fact(2)}])
    yield "subject-skipping-one", replaced(inputs, skipping)
    yield "inspector", replaced(inputs, inspector_request(inputs))
    newcomer = replaced(inputs, inspector_request(inputs))["result"]["replacements"][0]
    passed = {
        "inspector_id": newcomer["replacement"]["inspector_id"],
        "evidence": fact(2, "suspended"),
    }
    yield "inspector-skipping-one", replaced(inputs, inspector_request(inputs, skipped=[passed]))
    yield (
        "subject-then-inspector",
        replaced(
            inputs,
            subject_request(gone),
            inspector_request(inputs, -1, evidence=fact(3, "suspended")),
        ),
    )


def request_field(name: str, value: Any) -> Change:
    """An edit setting a field of the first replacement request."""
    return lambda d: d["replacements"][0].update({name: value})


def replacement_forgeries(inputs: Doc) -> Iterator[tuple[str, Change]]:
    """What an operator could file or claim instead of the fixed next alternate (edits of
    a proof with one honest subject replacement)."""
    gone = first_of(inputs, "A")
    first, second = v3_tests.alternates_of(inputs, "A", 2)
    walk = v3_tests.alternates_of(inputs, "A", 5)

    yield "re-roll", (lambda d: d["result"]["replacements"][0].update(replacement=second))
    yield (
        "skip-without-evidence",
        (lambda d: d["replacements"][0].update(skipped=[{"identifier": first}])),
    )
    yield (
        "skip-out-of-order",
        (
            lambda d: d["replacements"][0].update(
                skipped=[{"identifier": second, "evidence": fact(2)}]
            )
        ),
    )
    for label, form in (
        ("false", False),
        ("object", {}),
        ("with-a-note", [{"identifier": "x", "evidence": fact(2), "note": "领导交办"}]),
    ):
        yield f"skipped-{label}", request_field("skipped", form)
    for label, sequence in (("true", True), ("text", "1"), ("float", 1.0)):
        yield f"sequence-{label}", request_field("sequence", sequence)
    yield "reason-closed", (lambda d: d["replacements"][0].update(reason_code="closed"))
    yield "reason-unknown", (lambda d: d["replacements"][0].update(reason_code="领导要求"))
    yield (
        "evidence-before-announcement",
        (lambda d: d["replacements"][0]["evidence"].update(at="2026-12-01T00:00:00+00:00")),
    )
    yield (
        "evidence-leading-zero",
        (lambda d: d["replacements"][0]["evidence"].update(event="registry:07")),
    )
    yield (
        "evidence-naive-time",
        (lambda d: d["replacements"][0]["evidence"].update(at="2026-12-09T02:00:00")),
    )
    yield "staff-words", (lambda d: d["replacements"][0].update(reason="该员正接受纪检调查"))
    long_walk = subject_request(
        gone, skipped=[{"identifier": a, "evidence": fact(2 + n)} for n, a in enumerate(walk[:4])]
    )
    yield "walk-of-four", (lambda d: d.update(replacements=[{"sequence": 1, **long_walk}]))
    one_event = subject_request(gone, skipped=[{"identifier": walk[0], "evidence": fact(1)}])
    yield "one-event-two-parties", (lambda d: d.update(replacements=[{"sequence": 1, **one_event}]))
    drawn = [s["identifier"] for s in inputs["result"]["selection"] if s["stratum"] == "A"]
    four = [{"sequence": n, **subject_request(i, n)} for n, i in enumerate(drawn[:4], start=1)]
    yield "over-the-cap", (lambda d: d.update(replacements=four))


# -- the suite ------------------------------------------------------------------------------


def cases() -> Iterator[Doc]:
    inputs = proof()
    public, full = both(inputs)
    yield case("v3-public/honest", served(public))
    yield case("v3-full/honest", served(full))
    starred = with_full_list(proof())
    for name, document in (
        ("pool-of-37", proof(pool(37))),
        ("rfc3797", proof(selection=RFC3797_SELECTION)),
        ("full-list", starred),
    ):
        p, f = both(document)
        yield case(f"v3-public/honest/{name}", served(p))
        yield case(f"v3-full/honest/{name}", served(f))
    for name in ("draw-proof-v3.json", "draw-proof-v3-full.json", "draw-proof.json"):
        yield case(f"example/{name}", (EXAMPLES / name).read_text(encoding="utf-8"))
    yield from odd_values(inputs, public)

    for name, forged in required_public(inputs, public):
        yield case(f"v3-public/required/{name}", served(forged))
    for name, forged in required_full(inputs, full):
        yield case(f"v3-full/required/{name}", served(forged))
    v2 = json.loads((EXAMPLES / "draw-proof.json").read_text(encoding="utf-8"))
    for name, forged in required_full(v2, v2):
        yield case(f"v2/required/{name}", served(forged))

    for name, change in named_forgeries():
        yield case(f"v3-full/named/{name}", served(named_on_full(change)))
        on_public = named_on_public(inputs, public, change)
        if on_public is not None:
            yield case(f"v3-public/named/{name}", served(on_public))
    for name, change, _ in private_tests.FORGERIES:
        yield case(f"v3-public/forged/{name}", served(forge_public(public, change)))
    for name, change, _ in private_tests.FULL_FORGERIES:
        yield case(f"v3-full/forged/{name}", served(edited(full, change)))

    for name, document in with_replacements(inputs):
        p, f = both(document)
        yield case(f"v3-public/replaced/{name}", served(p))
        yield case(f"v3-full/replaced/{name}", served(f))
    honest, honest_full = both(replaced(inputs, subject_request(first_of(inputs, "A"))))
    for name, change in replacement_forgeries(inputs):
        yield case(f"v3-public/replaced/forged/{name}", served(edited(honest, change)))
        yield case(f"v3-full/replaced/forged/{name}", served(edited(honest_full, change)))

    star = starred["pool"].split("\t", 1)[0]
    p, f = both(starred)
    on_the_list = [{"sequence": 1, **subject_request(star)}]
    for form, document in (("public", p), ("full", f)):
        forged = edited(document, lambda d: d.update(replacements=on_the_list))
        yield case(f"v3-{form}/replaced/forged/subject-on-the-100%-list", served(forged))
    # A size no roster can seat: refused at once, not seats added until memory runs out.
    for size in (10**7, 2**53 + 1):
        forged = edited(full, lambda d, n=size: d["full_announcement"].update(min_group_size=n))
        yield case(f"v3-full/forged/min-group-size-{size}", served(forged))
    yield from oddities(public)
    yield from unreadable(public)
    for name, text in spelling_cases.cases(public, full, v2):
        yield case(name, text)
    p, f = both(capped(proof(pool(3000))))
    yield case("v3-public/honest/pool-of-3000", served(p))
    yield case("v3-full/honest/pool-of-3000", served(f))


def capped(document: Doc) -> Doc:
    """The inputs with max_replacements the rule's for what they select (the builders
    announce 3, a large pool's draw allows more), the result recomputed."""
    selected = sum(s["count"] for s in document["result"]["strata"].values())
    document["announcement"]["max_replacements"] = v3.replacement_cap(selected)
    document["announcement_hash"] = announcement_hash(document["announcement"])
    return reseal(document)


def with_full_list(document: Doc, count: int = 3) -> Doc:
    """The inputs with their first ``count`` subjects on the 100 % list (stratum ``*``),
    announced as such in ``pool_spec.full_list``, the result recomputed."""
    lines = document["pool"].split("\n")
    for at in range(count):
        parts = lines[at].split("\t")
        lines[at] = "\t".join([parts[0], "*", *parts[2:]])
    document["pool"] = "\n".join(lines)
    announcement = document["announcement"]
    announcement["pool_hash"] = pool_hash(lines)
    announcement["pool_spec"]["full_list"] = [line.split("\t")[0] for line in lines[:count]]
    return capped(document)


def odd_values(inputs: Doc, public: Doc) -> Iterator[Doc]:
    """Honest proofs whose announcements hold what JSON and Python read differently from
    JavaScript: keys beyond U+FFFF (sorted by code point), escapes, big integers."""
    strange = copy.deepcopy(inputs)
    filters = strange["announcement"]["pool_spec"]["filters"]
    filters.update(
        {"\U0001f600": ["😀"], "\uff01": ["！"], "\ue000": [], "z\u2028": ["a\tb\x7f\x1f"]}
    )
    filters.update({"10": ["array-index keys"], "2": [], "__proto__": ["x"]})
    strange["announcement"]["pool_spec"]["registry_position"] = {
        "stream_seq": 2**70,
        "event_id": "registry:1",
    }
    strange["announcement"]["pool_spec"]["overlaps"] = [["d-9", 12], ["d-10", 10**20]]
    p, f = both(strange)
    yield case("v3-public/honest/odd-keys-and-values", served(p))
    yield case("v3-full/honest/odd-keys-and-values", served(f))


def oddities(public: Doc) -> Iterator[Doc]:
    """Proofs malformed in ways a verifier must still name (or refuse) as the reference:
    each edit as made, then resealed by the forger, then resealed under a new hash."""
    changes: list[tuple[str, Change]] = [
        ("no-result", lambda d: d.update(result=None)),
        (
            "not-executed",
            lambda d: d.update(result=None, secret=None, entropy=None, executed_at=None, opened={}),
        ),
        ("announcement-a-list", lambda d: d.update(announcement=[])),
        ("protocol-unknown", lambda d: d["announcement"].update(protocol="ssj-draw-9")),
        ("protocol-missing", lambda d: d["announcement"].pop("protocol")),
        ("pool-hash-leaked", lambda d: d["result"].update(pool_hash="0" * 64)),
        ("result-extra-key", lambda d: d["result"].update(note="x")),
        ("secret-short", lambda d: d.update(secret="00" * 31)),
        ("secret-odd", lambda d: d.update(secret="0" * 63)),
        (
            "secret-spaced",
            lambda d: d.update(secret=" ".join(d["secret"][i : i + 2] for i in range(0, 64, 2))),
        ),
        ("secret-missing", lambda d: d.pop("secret")),
        ("secret-number", lambda d: d.update(secret=7)),
        ("entropy-missing", lambda d: d.pop("entropy")),
        ("entropy-label", lambda d: d.update(entropy="红球 03 09 14 22 27 31 | 08")),
        ("entropy-fullwidth", lambda d: d.update(entropy="０３ ０９ １４ ２２ ２７ ３１ ｜ ０８")),
        ("entropy-out-of-range", lambda d: d.update(entropy="03 09 14 22 27 34 | 08")),
        ("entropy-descending", lambda d: d.update(entropy="09 03 14 22 27 31 | 08")),
        ("entropy-too-few", lambda d: d.update(entropy="03 09 14 22 27 | 08")),
        ("executed-offset", lambda d: d.update(executed_at="2026-12-08T21:16:00+08:00")),
        ("executed-zulu", lambda d: d.update(executed_at="2026-12-08T13:16:00Z")),
        ("executed-week-date", lambda d: d.update(executed_at="2026-W50-2T13:16:00+00:00")),
        ("executed-compact", lambda d: d.update(executed_at="20261208T131600+0000")),
        ("executed-fraction", lambda d: d.update(executed_at="2026-12-08T13:14:59.999999+00:00")),
        ("executed-bad-day", lambda d: d.update(executed_at="2026-02-30T13:16:00+00:00")),
        ("executed-space", lambda d: d.update(executed_at="2026-12-08 13:16:00+00:00")),
        (
            "executed-chinese-separator",
            lambda d: d.update(executed_at="2026-12-08日13:16:00+00:00"),
        ),
        ("executed-date-only", lambda d: d.update(executed_at="2026-12-09")),
        ("announced-naive", lambda d: d["announcement"].update(announced_at="2026-12-08T01:00:00")),
        ("announced-number", lambda d: d["announcement"].update(announced_at=20261208)),
        ("batch-lone-surrogate", lambda d: d["announcement"].update(batch_id="b-\ud800")),
        ("attempt-true", lambda d: d["announcement"].update(attempt=True)),
        ("attempt-float", lambda d: d["announcement"].update(attempt=1.0)),
        ("attempt-big", lambda d: d["announcement"].update(attempt=2**64)),
        ("min-group-size-three", lambda d: d["announcement"].update(min_group_size=3)),
        ("min-group-size-one", lambda d: d["announcement"].update(min_group_size=1)),
        ("min-group-size-text", lambda d: d["announcement"].update(min_group_size="3")),
        ("count-huge", lambda d: d["announcement"]["strata"].update(B={"count": 10**30})),
        ("count-negative", lambda d: d["announcement"]["strata"].update(B={"count": -1})),
        ("ratio-padded", lambda d: d["announcement"]["strata"].update(A={"ratio": " 0.05 "})),
        ("ratio-underscored", lambda d: d["announcement"]["strata"].update(A={"ratio": "0.0_5"})),
        ("ratio-exponent", lambda d: d["announcement"]["strata"].update(A={"ratio": "5e-2"})),
        ("ratio-two", lambda d: d["announcement"]["strata"].update(A={"ratio": "2"})),
        ("ratio-nan", lambda d: d["announcement"]["strata"].update(A={"ratio": "NaN"})),
        ("ratio-missing", lambda d: d["announcement"]["strata"].update(A={})),
        ("stratum-e", lambda d: d["announcement"]["strata"].update(E={"count": 1})),
        ("strata-a-list", lambda d: d["announcement"].update(strata=["A"])),
        (
            "rules-string-true",
            lambda d: d["announcement"]["rules"].update(avoid_previous_inspectors="true"),
        ),
        ("roster-row-short", lambda d: d["announcement"]["roster"][0].pop()),
        ("roster-unit-named", lambda d: d["announcement"]["roster"][0].__setitem__(3, "所0")),
        ("roster-number-id", lambda d: d["announcement"]["roster"][0].__setitem__(0, 5)),
        ("departments-empty", lambda d: d["announcement"].update(departments=[])),
        (
            "department-unknown",
            lambda d: d["announcement"]["departments"][1].update(department="EPB"),
        ),
        ("selection-unknown", lambda d: d["announcement"].update(selection="md5")),
        ("selection-null", lambda d: d["announcement"].update(selection=None)),
        (
            "format-weak-and-unknown",
            lambda d: d["announcement"]["entropy"].update(
                source="onsite-1",
                format={
                    "groups": [{"name": "d", "count": 3, "low": 0, "high": 9, "ordered": True}]
                },
            ),
        ),
        (
            "format-group-float",
            lambda d: d["announcement"]["entropy"]["format"]["groups"][0].update(count=6.0),
        ),
        (
            "format-group-name",
            lambda d: d["announcement"]["entropy"]["format"]["groups"][0].update(name="红"),
        ),
        ("source-code-upper", lambda d: d["announcement"]["entropy"].update(source="CWL-SSQ")),
        (
            "entropy-name-spaced",
            lambda d: d["announcement"]["entropy"].update(name="中国 福利彩票"),
        ),
        ("issue-bad", lambda d: d["announcement"]["entropy"].update(issue="2026/141")),
        (
            "scheduled-naive",
            lambda d: d["announcement"]["entropy"].update(scheduled_at="2026-12-08T13:15:00"),
        ),
        ("pool-roots-missing", lambda d: d["announcement"].pop("pool_roots")),
        ("pool-root-size-bool", lambda d: d["announcement"]["pool_roots"]["D"].update(size=True)),
        (
            "pool-root-empty-wrong",
            lambda d: d["announcement"]["pool_roots"]["*"].update(root="ab" * 32),
        ),
        (
            "private-hash-upper",
            lambda d: d["announcement"].update(
                private_hash=d["announcement"]["private_hash"].upper()
            ),
        ),
        ("opened-a-list", lambda d: d.update(opened=[])),
        ("opened-stratum-e", lambda d: d["opened"].update(E=[])),
        ("opened-rows-an-object", lambda d: d["opened"].update(A={})),
        ("opened-position-text", lambda d: d["opened"]["A"][0].update(position="0")),
        ("opened-salt-null", lambda d: d["opened"]["A"][0].update(salt=None)),
        ("opened-salt-list", lambda d: d["opened"]["A"][0].update(salt=[])),
        (
            "opened-path-upper",
            lambda d: d["opened"]["A"][0]["path"].__setitem__(
                0, d["opened"]["A"][0]["path"][0].upper()
            ),
        ),
        (
            "opened-line-four-fields",
            lambda d: d["opened"]["A"][0].update(
                line=d["opened"]["A"][0]["line"].rsplit("\t", 1)[0]
            ),
        ),
        ("opened-bar-unknown", lambda d: _set_line_field(d["opened"]["A"][0], 4, "ZZZ")),
        ("opened-identifier-chinese", lambda d: _set_line_field(d["opened"]["A"][0], 0, "企业")),
        ("pool-spec-year-text", lambda d: d["announcement"]["pool_spec"].update(year="2026")),
        (
            "pool-spec-excluded-unsorted",
            lambda d: d["announcement"]["pool_spec"]["excluded"].insert(
                0, ["Z", "drawn_this_year", "d-1", "SAMR-1"]
            ),
        ),
        (
            "pool-spec-overlaps-bool",
            lambda d: d["announcement"]["pool_spec"].update(overlaps=[["d-9", True]]),
        ),
        ("replacements-null", lambda d: d.update(replacements=None)),
        ("replacements-object", lambda d: d.update(replacements={})),
        ("request-a-string", lambda d: d.update(replacements=["x"])),
        (
            "request-kind-unknown",
            lambda d: d.update(
                replacements=[
                    {"sequence": 1, "kind": "team", "identifier": "x", "reason_code": "other"}
                ]
            ),
        ),
        ("max-replacements-float", lambda d: d["announcement"].update(max_replacements=3.0)),
    ]
    for name, change in changes:
        yield case(f"v3-public/odd/{name}", served(edited(public, change)))
        yield case(f"v3-public/odd-resealed/{name}", served(forge_public(public, change)))
        rehashed = forge_public(public, change, rehash=True)
        yield case(f"v3-public/odd-rehashed/{name}", served(rehashed))


def unreadable(public: Doc) -> Iterator[Doc]:
    """Texts spelling.load refuses (one spelling, one reading), and some it reads as Python
    does. Each is the canonical text with one edit, so that edit is what is judged."""
    text = served(public)
    yield case(
        "text/key-twice", text.replace('"secret":', '"secret":"' + "00" * 32 + '","secret":', 1)
    )
    yield case(
        "text/key-twice-nested", text.replace('"protocol":', '"protocol":"x","protocol":', 1)
    )
    yield case("text/nan", text.replace('"pool_size":300', '"pool_size":NaN', 1))
    yield case("text/infinity", text.replace('"pool_size":300', '"pool_size":-Infinity', 1))
    yield case("text/float-size", text.replace('"pool_size":300', '"pool_size":300.0', 1))
    yield case("text/exponent-size", text.replace('"pool_size":300', '"pool_size":3e2', 1))
    yield case("text/huge-number", text.replace('"pool_size":300', '"pool_size":1e400', 1))
    yield case("text/trailing-data", text + " x")
    yield case("text/trailing-comma", text[:-1] + ",}")
    yield case("text/bom", "\ufeff" + text)
    yield case("text/control-character", text.replace('"ssj-draw-3"', '"ssj-draw-3\n"', 1))
    yield case("text/bad-escape", text.replace('"ssj-draw-3"', '"ssj-draw-3\\x"', 1))
    yield case("text/short-unicode-escape", text.replace('"ssj-draw-3"', '"ssj-draw-3\\u12"', 1))
    yield case("text/surrogate-pair-escaped", text.replace('"b-3"', '"b-3\\ud83d\\ude00"', 1))
    yield case("text/truncated", text[: len(text) // 2])
    yield case("text/empty", "")
    yield case("text/not-an-object", "[]")
    data = text.encode("utf-8")
    yield byte_case("bytes/invalid-start-byte", b"\xff" + data)
    yield byte_case("bytes/truncated-character", data.replace("中".encode(), "中".encode()[:2], 1))
    yield byte_case("bytes/bad-continuation", data.replace("中".encode(), b"\xe4A", 1))
    yield byte_case("bytes/encoded-surrogate", data.replace(b'"b-3"', b'"b-\xed\xa0\x80"', 1))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.browser.proof_cases OUT.json", file=sys.stderr)
        return 2
    suite = list(cases())
    # ASCII with escapes: a case may hold a lone surrogate, which UTF-8 cannot carry.
    Path(argv[0]).write_text(json.dumps(suite, indent=1), encoding="utf-8")
    print(f"wrote {len(suite)} cases to {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
