"""Cases of one spelling only (services/draw/protocol/spelling.py), for the browser
verifier's suite (tests/browser/proof_cases.py) and the unit tests
(tests/unit/test_draw_spelling.py): proofs right in every way but how something is written
(a file re-indented, a time in ``Z``, an uppercase secret, a key the service never
writes, a count written ``0.0``), pool lines without their tabs, and sizes forged to make
the verifier draw millions. Before one spelling, every one of them but the last two was
accepted or mis-read; the sizes made the verifier draw for minutes.

Each case is ``(name, text)``: the proof as its forger would serve it.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from services.draw.protocol import merkle, replace3, spelling, v3
from services.draw.protocol.blinding import leaf_hash
from services.draw.protocol.canonical import announcement_hash, pool_text_hash
from services.draw.protocol.forms import proofs
from services.draw.protocol.proof import run
from tests.unit.test_draw_v3_proofs import KEY, fact, first_of, proof, replaced

Doc = dict[str, Any]
Change = Callable[[Doc], Any]


def served(document: Doc) -> str:
    """As the service serves a proof: canonical JSON."""
    return spelling.canonical_text(document)


def edited(document: Doc, change: Change) -> Doc:
    forged = copy.deepcopy(document)
    change(forged)
    return forged


@contextlib.contextmanager
def forgers_tools() -> Iterator[None]:
    """The protocol's computation without the spelling of times (what a forger's own copy
    computes): to make a proof spelled otherwise and right in every other way."""
    with (
        mock.patch.object(v3, "time_spelled", lambda text: True),
        mock.patch.object(replace3, "time_spelled", lambda text: True),
    ):
        yield


def announced(change: Change) -> tuple[Doc, Doc]:
    """The public and full proofs of a draw whose full announcement is spelled otherwise
    (everything recomputed from it, as the service would have)."""
    inputs = proof()
    change(inputs["announcement"])
    with forgers_tools():
        return proofs(inputs, KEY)


def texts(public: Doc) -> Iterator[tuple[str, str]]:
    """The file spelled otherwise: each the canonical text with one change."""
    text = served(public)
    yield "indented", json.dumps(public, ensure_ascii=False, sort_keys=True, indent=1)
    yield "spaced", json.dumps(public, ensure_ascii=False, sort_keys=True)
    yield "keys-as-inserted", json.dumps(public, ensure_ascii=False, separators=(",", ":"))
    yield "non-ascii-escaped", json.dumps(public, sort_keys=True, separators=(",", ":"))
    yield "ascii-escaped", text.replace('"ssj-draw-3"', '"ssj-draw-\\u0033"', 1)
    yield "trailing-newline", text + "\n"
    yield "leading-space", " " + text
    yield "negative-zero", text.replace('"count":0', '"count":-0', 1)
    yield "exponent", text.replace('"count":0', '"count":0e0', 1)
    yield "float-count", text.replace('"count":0', '"count":0.0', 1)  # canonical: a float
    for levels in (29, 33):  # the value stands 3 deep: 32 levels, then 36
        deep = "[" * levels + "false" + "]" * levels
        nested = text.replace('"complaint_referral":false', f'"complaint_referral":{deep}')
        yield f"nested-{levels + 3}", nested
    yield "deep-after-an-error", '{"a":x,' + "[" * 40  # counted all the same
    yield "nested-100000", "[" * 100_000 + "]" * 100_000
    yield "unclosed-100000", "[" * 100_000
    # Brackets inside strings are text, escaped quotes and backslashes included.
    quoted = edited(public, lambda d: d["announcement"].update(batch_id='b-3"\\' + "[" * 40))
    yield "brackets-in-an-escaped-string", served(quoted)
    braced = edited(public, lambda d: d["announcement"].update(batch_id="b-3" + "{" * 40))
    yield "brackets-in-a-string", served(braced)


def fields(public: Doc) -> Iterator[tuple[str, Doc]]:
    """A public proof's own fields spelled otherwise (its announcement untouched)."""
    yield "secret-upper", edited(public, lambda d: d.update(secret=d["secret"].upper()))
    for name, at in (
        ("executed-zeros", "2026-12-08T13:20:00.000000+00:00"),
        ("executed-half-second", "2026-12-08T13:20:00.5+00:00"),
        ("executed-no-seconds", "2026-12-08T13:20+00:00"),
        ("executed-beijing", "2026-12-08T21:20:00+08:00"),
    ):
        yield name, edited(public, lambda d, at=at: d.update(executed_at=at))
    yield "proof-unknown-key", edited(public, lambda d: d.update(note="x"))
    yield "proof-blinding-key", edited(public, lambda d: d.update(blinding_key=KEY.hex()))
    yield "proof-no-replacements", edited(public, lambda d: d.pop("replacements"))
    yield "proof-no-executed-at", edited(public, lambda d: d.pop("executed_at"))
    yield "opened-empty-stratum", edited(public, lambda d: d["opened"].update(D=[]))
    yield "result-size-float", edited(public, lambda d: d["result"].update(pool_size=300.0))
    none_listed = {"pool": 0, "count": False}  # the 100 % list's count, False for 0
    yield (
        "result-count-false",
        edited(public, lambda d: d["result"]["strata"].update({"*": none_listed})),
    )


def requests() -> Iterator[tuple[str, Doc]]:
    """A public proof's replacement requests spelled otherwise."""
    inputs = proof()
    gone = first_of(inputs, "A")
    request = {
        "kind": "subject",
        "identifier": gone,
        "reason_code": "deregistered",
        "evidence": fact(1),
        "skipped": [],
    }
    public, _ = proofs(replaced(inputs, request), KEY)

    def evidence_at(at: str) -> Change:
        return lambda d: d["replacements"][0]["evidence"].update(at=at)

    yield "evidence-zulu", edited(public, evidence_at("2026-12-09T02:00:00Z"))
    yield "evidence-beijing", edited(public, evidence_at("2026-12-09T10:00:00+08:00"))
    yield "identifier-number", edited(public, lambda d: d["replacements"][0].update(identifier=42))
    yield "unavailable-text", edited(public, lambda d: d["replacements"][0].update(unavailable="x"))
    skip = [{"identifier": 42, "evidence": fact(2)}]
    yield "skipped-number", edited(public, lambda d: d["replacements"][0].update(skipped=skip))


def announcements() -> Iterator[tuple[str, Doc, Doc]]:
    """Announcements spelled otherwise, hashed and drawn as the service would."""
    scheduled = "2026-12-08T13:15:00Z"

    def zulu(a: Doc) -> None:
        a["entropy"]["scheduled_at"] = a["entropy_not_before"] = scheduled

    changes: list[tuple[str, Change]] = [
        ("announced-zulu", lambda a: a.update(announced_at="2026-12-08T01:00:00Z")),
        ("announced-beijing", lambda a: a.update(announced_at="2026-12-08T09:00:00+08:00")),
        ("announced-zeros", lambda a: a.update(announced_at="2026-12-08T01:00:00.000000+00:00")),
        ("scheduled-zulu", zulu),
        ("unknown-key", lambda a: a.update(note="x")),
        ("selection-default-written", lambda a: a.update(selection="sha256")),
        ("ratio-trailing-zero", lambda a: a["strata"]["A"].update(ratio="0.050")),
        ("ratio-long", lambda a: a["strata"]["A"].update(ratio="0.05000000000000000277")),
        ("batch-id-number", lambda a: a.update(batch_id=3, draw_id=str(v3.draw_id("3")))),
        ("plan-id-number", lambda a: a.update(plan_id=3)),
    ]
    for name, change in changes:
        public, full = announced(change)
        yield name, public, full


def v2_pool_lines(v2: Doc) -> Iterator[tuple[str, Doc]]:
    """An ssj-draw-2 proof whose pool has a line of three fields, or of one: the pool's hash,
    the announcement's and the result all recomputed."""
    for name, at, edit in (
        ("line-without-unit", 2, lambda line: line.rsplit("\t", 1)[0]),
        ("line-without-tabs", 1, lambda line: line.replace("\t", "")),
    ):
        forged = copy.deepcopy(v2)
        lines = forged["pool"].split("\n")
        lines[at] = edit(lines[at])
        forged["pool"] = "\n".join(lines)
        forged["announcement"]["pool_hash"] = pool_text_hash(forged["pool"])
        forged["announcement_hash"] = announcement_hash(forged["announcement"])
        with contextlib.suppress(ValueError, KeyError, TypeError):
            forged["result"] = run(forged)
        yield name, forged


def full_pool_lines(full: Doc) -> Iterator[tuple[str, Doc]]:
    """A full v3 proof whose pool has a line without tabs and one with three tabs too many
    (as many tabs as four fields a line), or a fifth field; its pool hash restated."""

    def moved(lines: list[str]) -> None:
        lines[0] = lines[0].replace("\t", "")
        lines[1] += "\tx\ty\tz"

    def fifth(lines: list[str]) -> None:
        lines[-1] += "\textra"

    for name, edit in (("tabs-moved", moved), ("fifth-field", fifth)):
        forged = copy.deepcopy(full)
        lines = forged["pool"].split("\n")
        edit(lines)
        forged["pool"] = "\n".join(lines)
        forged["full_announcement"]["pool_hash"] = pool_text_hash(forged["pool"])
        yield name, forged


def inflated(public: Doc, size: int) -> Doc:
    """Stratum A claimed to hold ``size`` subjects: one leaf kept, its path padded to the
    depth of such a tree and the root made from it; hashes restated."""
    forged = copy.deepcopy(public)
    leaf = forged["opened"]["A"][0]
    forged["opened"]["A"] = [leaf]
    data = leaf_hash(bytes.fromhex(leaf["salt"]), leaf["line"])
    filler = bytes(32)
    root = next(
        (depth, found)
        for depth in range(64)
        if (found := merkle.root_from_path(data, leaf["position"], size, [filler] * depth))
    )
    leaf["path"] = [filler.hex()] * root[0]
    announcement = forged["announcement"]
    old = announcement["pool_roots"]["A"]["size"]
    announcement["pool_roots"]["A"] = {"size": size, "root": root[1].hex()}
    announcement["pool_size"] += size - old
    forged["announcement_hash"] = announcement_hash(announcement)
    return forged


def cases(public: Doc, full: Doc, v2: Doc) -> Iterator[tuple[str, str]]:
    """Every case, named, as served."""
    for name, text in texts(public):
        yield f"spelling/text/{name}", text
    for name, document in fields(public):
        yield f"spelling/v3-public/{name}", served(document)
    for name, document in requests():
        yield f"spelling/v3-public/replaced/{name}", served(document)
    for name, p, f in announcements():
        yield f"spelling/v3-public/announcement/{name}", served(p)
        yield f"spelling/v3-full/announcement/{name}", served(f)
    for name, document in v2_pool_lines(v2):
        yield f"pool-lines/v2/{name}", served(document)
    for name, document in full_pool_lines(full):
        yield f"pool-lines/v3-full/{name}", served(document)
    yield "bounds/v3-public/pool-of-twenty-million", served(inflated(public, 20_000_000))
    yield "bounds/v3-public/nine-million-one-leaf-opened", served(inflated(public, 9_000_000))
