"""One spelling only (services/draw/protocol/spelling.py): ``ssj draw verify`` accepts a
proof only as the draw service writes it — the file in canonical JSON, at most
MAX_PROOF_BYTES, nested at most MAX_JSON_DEPTH deep; every field written one way; every
pool line four tab-separated fields; a public proof's sizes within MAX_POOL_SIZE and its
draw within the leaves it opens. The cases are tests/browser/spelling_cases.py's, which
the browser verifier must judge the same (tests/browser/test_verifier_in_chromium.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from services.draw.protocol import spelling
from services.draw.protocol.blinding import Trees
from services.draw.protocol.canonical import canonical_json
from services.draw.protocol.checks import same
from services.draw.protocol.forms import line_proof
from services.draw.protocol.spelling import canonical_text
from services.draw.protocol.verify import UNREADABLE, main, verify
from services.draw.protocol.verify3 import verify_line
from tests.browser import spelling_cases as cases
from tests.browser.proof_cases import EXAMPLES, both
from tests.unit.test_draw_v3_proofs import proof

Doc = dict[str, Any]
PUBLIC, FULL = both(proof())
TEXTS = dict(cases.texts(PUBLIC))
NOT_AS_SERVED = "not written as the service writes it"


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_service_serves_proofs_in_the_one_spelling_the_verifier_reads() -> None:
    from services.draw.api import _json

    body = bytes(_json(PUBLIC).body)
    assert body == canonical_json(PUBLIC)
    assert spelling.load(body) == PUBLIC


@pytest.mark.parametrize(
    "name",
    [
        "indented",
        "spaced",
        "keys-as-inserted",
        "non-ascii-escaped",
        "ascii-escaped",
        "trailing-newline",
        "leading-space",
        "negative-zero",
        "exponent",
    ],
)
def test_a_proof_file_spelled_otherwise_is_not_read(name: str) -> None:
    text = TEXTS[name]
    assert json.loads(text) is not None  # JSON all the same, and (but -0) the same values
    with pytest.raises(ValueError, match=NOT_AS_SERVED) as refused:
        spelling.load(text.encode("utf-8"))
    # The first character that differs is named.
    served = cases.served(PUBLIC)
    at = int(str(refused.value).rsplit(" ", 1)[1])
    assert text[:at] == served[:at] and text[at : at + 1] != served[at : at + 1]


def test_the_command_line_reads_the_served_proof_and_refuses_it_reindented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", _write(tmp_path / "served.json", cases.served(PUBLIC))]) == 0
    capsys.readouterr()
    assert main(["verify", _write(tmp_path / "indented.json", TEXTS["indented"])]) == 2
    assert NOT_AS_SERVED in capsys.readouterr().err
    # A replay's input is typed by people: any JSON is read.
    inputs = {k: v for k, v in proof().items() if k != "result"}
    assert main(["replay", _write(tmp_path / "in.json", json.dumps(inputs, indent=1))]) == 0


def test_a_count_written_as_a_float_is_read_and_named() -> None:
    document = spelling.load(TEXTS["float-count"].encode("utf-8"))
    assert [p[:17] for p in verify(document)] == ["strata: recorded "]


def test_a_file_over_the_cap_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # sparse: nothing is written, nothing should be read
        handle.truncate(spelling.MAX_PROOF_BYTES + 1)
    started = time.perf_counter()
    assert main(["verify", str(huge)]) == 2
    assert time.perf_counter() - started < 5
    assert capsys.readouterr().err.endswith(f"{spelling.too_large()}\n")
    text = cases.served(PUBLIC)
    monkeypatch.setattr(spelling, "MAX_PROOF_BYTES", len(text.encode("utf-8")))
    assert spelling.load(text.encode("utf-8")) == PUBLIC  # at the cap: read
    with pytest.raises(ValueError, match="a proof file is at most"):
        spelling.load((text + " ").encode("utf-8"))
    path = _write(tmp_path / "over.json", text + " ")
    assert main(["verify", path]) == 2  # a pipe or a file: the same refusal
    assert spelling.too_large() in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["nested-36", "nested-100000", "unclosed-100000", "deep-after-an-error"]
)
def test_json_nested_past_the_cap_is_refused_not_a_recursion_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="a proof nests at most 32"):
        spelling.load(TEXTS[name].encode("utf-8"))
    assert main(["verify", _write(tmp_path / "deep.json", TEXTS[name])]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_json_nested_to_the_cap_is_read() -> None:
    text = TEXTS["nested-32"]
    document = spelling.load(text.encode("utf-8"))  # read, and judged as any other
    assert spelling.json_depth(text.encode("utf-8")) == 32
    assert verify(document)[0].startswith("announcement_hash: the proof says")


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b'{"a":"[[[","b":[1]}', 2),
        (b'{"a":"\\"[[[","b":[1]}', 2),  # an escaped quote does not end the string
        (b'{"a":"\\\\","b":[[1]]}', 3),  # an escaped backslash does not escape the quote
        (b'["unterminated [[[', 1),
        (b"[]]][[", 1),
        (b"", 0),
    ],
)
def test_nesting_is_counted_outside_strings(text: bytes, depth: int) -> None:
    assert spelling.json_depth(text) == depth


def test_brackets_inside_strings_do_not_count() -> None:
    """Forty brackets in a batch id (after an escaped quote and backslash, or not) are text:
    the proof is read, and its changed announcement named."""
    read = {
        name: spelling.load(TEXTS[name].encode("utf-8"))["announcement"]["batch_id"]
        for name in ("brackets-in-an-escaped-string", "brackets-in-a-string")
    }
    assert read == {
        "brackets-in-an-escaped-string": 'b-3"\\' + "[" * 40,
        "brackets-in-a-string": "b-3" + "{" * 40,
    }


NAMED = {
    "secret-upper": "is not written as 64 lowercase hex digits",
    "executed-zeros": "executed_at: '2026-12-08T13:20:00.000000+00:00' is not written as",
    "executed-half-second": "executed_at: '2026-12-08T13:20:00.5+00:00' is not written as",
    "executed-no-seconds": "executed_at: '2026-12-08T13:20+00:00' is not written as",
    "executed-beijing": "executed_at: '2026-12-08T21:20:00+08:00' is not written as",
    "proof-unknown-key": "proof: ['note'] are not part of a public proof",
    "proof-blinding-key": "proof: ['blinding_key'] are not part of a public proof",
    "proof-no-replacements": "proof: ['replacements'] are missing",
    "proof-no-executed-at": "proof: ['executed_at'] are missing",
    "opened-empty-stratum": "opened.D: a stratum with no leaf opened is left out",
    "result-size-float": "pool_size: recorded 300.0, recomputed 300",
    "result-count-false": 'strata: recorded {"*": {"count": false',
    "evidence-zulu": "evidence.at '2026-12-09T02:00:00Z' is not written as",
    "evidence-beijing": "evidence.at '2026-12-09T10:00:00+08:00' is not written as",
    "identifier-number": "replacement 1: identifier must be a string",
    "unavailable-text": "replacement 1: unavailable must be a list of identifiers",
    "skipped-number": "replacement 1: skipped must be a list of {identifier, evidence}",
    "announced-zulu": "announced_at: '2026-12-08T01:00:00Z' is not written as",
    "announced-beijing": "announced_at: '2026-12-08T09:00:00+08:00' is not written as",
    "announced-zeros": "announced_at: '2026-12-08T01:00:00.000000+00:00' is not written as",
    "scheduled-zulu": "entropy.scheduled_at: '2026-12-08T13:15:00Z' is not written as",
    "unknown-key": "fields: ['note'] are not part of an ssj-draw-3 announcement",
    "selection-default-written": "fields: selection 'sha256' is the default",
    "ratio-trailing-zero": "strata.A.ratio: '0.050' is not written as the service writes it",
    "ratio-long": "strata.A.ratio: '0.05000000000000000277' is not written as",
    "batch-id-number": "batch_id: must be a string",
    "plan-id-number": "plan_id: must be a string",
}


def _spelled_otherwise() -> list[tuple[str, Doc]]:
    out = list(cases.fields(PUBLIC)) + list(cases.requests())
    for name, public, full in cases.announcements():
        out += [(name, public), (name, full)]
    return out


@pytest.mark.parametrize(("name", "document"), _spelled_otherwise())
def test_each_field_spelled_otherwise_is_named(name: str, document: Doc) -> None:
    """Each of these verified before (the field read as what it meant)."""
    problems = verify(spelling.load(canonical_json(document)))
    assert any(NAMED[name] in p for p in problems), problems


def test_the_announcements_spelled_otherwise_are_right_in_every_other_way() -> None:
    """Drawn as the service would draw them: with times read leniently (a forger's own
    copy of the protocol), nothing but the spelling is named."""
    for name, public, full in cases.announcements():
        with cases.forgers_tools():
            left = [p for p in verify(public) + verify(full) if NAMED[name] not in p]
        assert left == [], (name, left)


def test_a_pool_line_without_its_four_fields_is_named() -> None:
    v2 = json.loads((EXAMPLES / "draw-proof.json").read_text(encoding="utf-8"))
    tabs = " tabs where four tab-separated fields need 3 (identifier, stratum, region, unit)"
    found = {
        name: verify(document)
        for name, document in [*cases.v2_pool_lines(v2), *cases.full_pool_lines(FULL)]
    }
    assert found == {
        # Read as an identifier and no stratum; or a line with no unit, read and drawn.
        "line-without-tabs": [f"pool line 1: 0{tabs}"],
        "line-without-unit": [f"pool line 2: 2{tabs}"],
        # Three tabs a line on the whole, but not on each line.
        "tabs-moved": [f"pool line 0: 0{tabs}"],
        "fifth-field": [f"pool line 299: 4{tabs}"],
    }


def test_forged_sizes_are_refused_before_anything_is_drawn() -> None:
    started = time.perf_counter()
    assert verify(cases.inflated(PUBLIC, 10**9)) == [
        "pool_roots: 1,000,000,120 subjects; a pool holds at most 10,000,000"
    ]
    assert verify(cases.inflated(PUBLIC, 9_000_000)) == [
        "opened.A: the draw selects 450000 of the stratum, the proof opens 1: it does not open "
        "every subject the draw uses"
    ]
    assert time.perf_counter() - started < 5  # a billion drew for 25 s into a MemoryError


def test_a_hostile_line_proof_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = proof()
    lines = inputs["pool"].split("\n")
    trees = Trees(inputs["announcement"], lines, cases.KEY)
    line = line_proof(PUBLIC["announcement"], trees, lines[0].split("\t")[0])
    assert verify_line(line)[0] == []
    assert verify_line({**line, "note": "x"})[0] == [
        "proof: a line proof has exactly the keys "
        "['announcement', 'announcement_hash', 'opened', 'stratum']"
    ]
    assert verify_line({**line, "stratum": []})[0] == [
        "stratum: not one of the announcement's pool_roots"
    ]
    hostile = {**line, "announcement": {**line["announcement"], "batch_id": "b-\ud800"}}
    path = tmp_path / "line.json"
    path.write_text(json.dumps(hostile), encoding="utf-8")
    assert main(["verify-line", str(path)]) == 1
    assert f"MISMATCH {UNREADABLE}: UnicodeEncodeError" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("expected", "recorded", "alike"),
    [
        (1, 1, True),
        (1, 1.0, False),
        (1, True, False),
        (0, False, False),
        (0.0, -0.0, False),
        (0.5, 0.5, True),
        ({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}, True),
        ({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2.0}]}, False),
        ([{"n": 3}], [{"n": True}], False),
        ([1, 2], [1, 2, 3], False),
    ],
)
def test_a_recorded_value_is_the_recomputed_one_only_if_written_alike(
    expected: object, recorded: object, alike: bool
) -> None:
    assert same(expected, recorded) is alike
    # The rule it stands for: the canonical texts are equal.
    assert alike is (expected == recorded and canonical_text(expected) == canonical_text(recorded))
