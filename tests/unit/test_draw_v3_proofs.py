"""`ssj draw verify` on ssj-draw-3 proofs: honest ones pass; every forgery of the audit's
techniques is named (findings 1, 3, 7 and 8 of the v3 issue). Pure: the protocol package.

The documents here are a draw's inputs as the service holds them (the full announcement,
the pool, secret, entropy, requests) with a result; :func:`full_form` makes of one the
full proof auditors download, which :func:`verify` checks. (The public proof and its
forgeries: tests/unit/test_draw_private_proof.py.)"""

from __future__ import annotations

import contextlib
import copy
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from services.draw.domain.announce import POOL_FILTERS
from services.draw.protocol import canonical as c
from services.draw.protocol import v3
from services.draw.protocol import verify as verifying
from services.draw.protocol.blinding import Trees, public_announcement
from services.draw.protocol.entropy import SHAPES
from services.draw.protocol.forms import full_proof
from services.draw.protocol.proof import compute, main
from tests.builders import make_uscc

SECRET = bytes(range(7, 39))
SCHEDULED = "2026-12-08T13:15:00+00:00"
ENTROPY = "03 09 14 22 27 31 | 08"
KEY = bytes(range(100, 132))  # the blinding key


def public_of(document: dict[str, Any]) -> dict[str, Any]:
    """The public announcement of a document's full one (under KEY)."""
    full = document["announcement"]
    lines = document["pool"].split("\n")
    return public_announcement(full, KEY, Trees(full, lines, KEY).roots())


def run(document: dict[str, Any]) -> dict[str, Any]:
    """The result of a document's inputs: the full pool, with the public hash in the seed."""
    lines = document["pool"].split("\n")
    announced = c.announcement_hash(public_of(document))
    keyed = {**document, "blinding_key": KEY.hex()}  # the strata in keyed order
    return compute(keyed, document["pool"], lines, announced=announced)[0]


def full_form(document: dict[str, Any]) -> dict[str, Any]:
    """The full proof of a document, its recorded result kept. Its published hash is the
    public announcement's, unless the document's own was left stale by a forger."""
    full = document["announcement"]
    try:
        public = public_of(document)
    except ValueError:  # a pool the trees cannot take: the verifier names it
        public = {k: v for k, v in full.items() if k not in ("pool_hash", "conflicts")}
    stated = document.get("announcement_hash")
    proof = full_proof(
        public,
        full,
        KEY,
        document["pool"],
        {k: document.get(k) for k in ("secret", "entropy", "executed_at")},
        document.get("replacements", []),
        document.get("result"),
    )
    if stated != c.announcement_hash(full):
        proof["announcement_hash"] = stated
    return proof


def verify(document: dict[str, Any]) -> list[str]:
    """``ssj draw verify`` of the document's full proof."""
    return verifying.verify(full_form(document))


def pool(n: int = 300) -> list[str]:
    rng = random.Random(11)
    classes = "A" * 60 + "B" * 30 + "C" * 8 + "D" * 2
    return c.sort_pool(
        c.pool_line(make_uscc(rng, "420202"), classes[i % 100], "420202", f"所{i % 3}")
        for i in range(n)
    )


def announcement(lines: list[str], selection: str | None = None) -> dict[str, Any]:
    roster = [
        [f"{d}-{k:02d}", d, "420200", f"所{k % 3}", ["general", "key"]]
        for d in ("SAMR", "TAX")
        for k in range(6)
    ]
    identifier = lines[0].split("\t")[0]
    out: dict[str, Any] = {
        "protocol": c.PROTOCOL_V3,
        "draw_id": str(v3.draw_id("b-3")),
        "attempt": 1,
        "batch_id": "b-3",
        "plan_id": "p-3",
        "pool_hash": c.pool_hash(lines),
        "pool_size": len(lines),
        "strata": {"A": {"ratio": "0.05"}, "B": {"count": 3}},
        "departments": [
            {"department": "SAMR", "categories": ["general"]},
            {"department": "TAX", "categories": ["key"]},
        ],
        "min_group_size": 2,
        "rules": {"cross_jurisdiction": True, "avoid_previous_inspectors": True},
        "roster": roster,
        "conflicts": [["SAMR-00", identifier]],
        "previous": [],
        "commitment": c.commitment(SECRET),
        "max_replacements": 3,
        "pool_spec": {
            "year": 2026,
            "filters": {k: [] for k in POOL_FILTERS} | {"region_prefixes": ["4202"]},
            "items": [{"code": "SAMR-1", "category": "general"}],
            "complaint_referral": False,
            "full_list": [],
            "registry_position": {"stream_seq": 1234, "event_id": "registry:1234"},
            "excluded": [["91420202MA0000000X", "drawn_this_year", "d-0", "SAMR-1"]],
            "overlaps": [["d-9", 12]],
        },
        "entropy": {
            "source": "cwl-ssq",
            "name": "中国福利彩票双色球",
            "issue": "2026141",
            "scheduled_at": SCHEDULED,
            "format": SHAPES["ssq"].as_json(),
        },
        "entropy_not_before": SCHEDULED,
        "announced_at": "2026-12-08T01:00:00+00:00",
    }
    if selection:
        out["selection"] = selection
    return out


def proof(lines: list[str] | None = None, **announced: Any) -> dict[str, Any]:
    """An honest, executed v3 proof."""
    lines = lines or pool()
    a = announcement(lines, **announced)
    document: dict[str, Any] = {
        "announcement": a,
        "announcement_hash": c.announcement_hash(a),
        "pool": "\n".join(lines),
        "secret": SECRET.hex(),
        "entropy": ENTROPY,
        "executed_at": "2026-12-08T13:20:00+00:00",
        "replacements": [],
    }
    document["result"] = run(document)
    return document


def reseal(document: dict[str, Any]) -> dict[str, Any]:
    """What a forger does after changing the inputs: recompute the result (and leave the
    top-level announcement hash as the one that was published)."""
    document["result"] = run(document)
    return document


def test_an_honest_v3_proof_verifies_and_names_its_protocol() -> None:
    document = proof()
    assert verify(document) == []
    assert document["result"]["protocol"] == "ssj-draw-3"


def test_the_seed_hashes_the_numbers_not_the_text() -> None:
    document = proof()
    public = c.announcement_hash(public_of(document))
    seed = c.derive_seed_v3(public, SECRET, b"[[3,9,14,22,27,31],[8]]")
    assert document["result"]["seed"] == seed.hex()


def _names(problems: list[str], *prefixes: str) -> bool:
    return any(p.startswith(prefixes) for p in problems)


def test_a_removed_conflict_with_a_recomputed_result_is_named() -> None:
    """Finding 3: the verifier checked only that a proof agreed with itself."""
    forged = copy.deepcopy(proof())
    forged["announcement"]["conflicts"] = []
    problems = verify(reseal(forged))
    assert _names(problems, "announcement_hash: the proof says")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(entropy="3 9 14 22 27 31 | 8"), "the draw cannot be recomputed"),
        (lambda d: d.update(entropy="03 09 14 22 27 31 + 08"), "the draw cannot be recomputed"),
        (lambda d: d.update(entropy="03 09 14 22 27 31 | 0\u200b8"), "the draw cannot be"),
        (lambda d: d.update(executed_at="2026-12-08T13:00:00+00:00"), "executed_at"),
        (lambda d: d.update(executed_at=None), "executed_at"),
        (lambda d: d["announcement"].update(entropy_not_before=""), "entropy_not_before"),
        (
            lambda d: d["announcement"].update(announced_at="2026-12-08T14:00:00+00:00"),
            "announced_at",
        ),
        (lambda d: d["announcement"]["entropy"].update(extra=1), "entropy must be an object"),
        (lambda d: d["announcement"]["rules"].update(cross_jurisdiction="false"), "rules."),
        (lambda d: d["announcement"]["roster"].insert(1, d["announcement"]["roster"][0]), "roster"),
        (lambda d: d["announcement"]["roster"][0].__setitem__(2, "4202"), "roster[0].jurisdiction"),
        (lambda d: d["announcement"]["roster"][0].__setitem__(3, "所\u200b0"), "roster[0].unit"),
        (lambda d: d["announcement"]["conflicts"].append(["A", "B"]) or None, "conflicts"),
        (lambda d: d["announcement"]["conflicts"].insert(0, ["ZZ", "0"]), "conflicts"),
        (lambda d: d["announcement"].update(min_group_size=2.0), "min_group_size"),
        (lambda d: d["announcement"].update(draw_id="another-id"), "draw_id"),
        (lambda d: d["announcement"].pop("pool_spec"), "pool_spec"),
        (lambda d: d["announcement"]["pool_spec"]["full_list"].append("X"), "full_list"),
        (
            lambda d: d["announcement"]["pool_spec"]["excluded"].append(
                [d["pool"].split("\t", 1)[0], "drawn_this_year", "d-0", "SAMR-1"]
            ),
            "excluded",
        ),
        (lambda d: d["announcement"].update(attempt=2), "draw_id"),
        (lambda d: d["announcement"].update(attempt=0), "attempt"),
        (lambda d: d["announcement"].pop("attempt"), "attempt"),
        (lambda d: d["announcement"]["strata"].update(B={"count": 3.9}), "strata.B.count"),
        (lambda d: d["announcement"]["strata"].update(B={"count": True}), "strata.B.count"),
        (lambda d: d["announcement"]["strata"].update(B={"count": "3"}), "strata.B.count"),
        (lambda d: d["announcement"]["strata"].update(A={"ratio": 0.05}), "strata.A.ratio"),
        (lambda d: d["announcement"]["strata"].update(A={"ratio": "Infinity"}), "strata.A"),
        (lambda d: d["announcement"]["strata"].update(A={"ratio": "0.05", "count": 1}), "strata.A"),
        (lambda d: d["announcement"].update(rules={}), "rules"),
        (lambda d: d["announcement"].update(max_replacements=50), "max_replacements"),
        (lambda d: d["announcement"].update(protocol="ssj-draw-2"), "ssj-draw-2 is retired"),
        (lambda d: d.update(pool=d["pool"] + "\textra"), "four tab-separated"),
    ],
    ids=[
        "entropy-not-canonical",
        "entropy-as-typed",
        "entropy-with-zwsp",
        "executed-before-the-drawing",
        "no-execution-time",
        "no-entropy-time",
        "announced-after-the-drawing",
        "entropy-spec-with-extra-key",
        "false-as-a-string",
        "roster-with-an-inspector-twice",
        "jurisdiction-not-six-digits",
        "unit-with-zwsp",
        "conflicts-unsorted",
        "conflicts-unsorted-at-front",
        "float-count",
        "draw-id-off-the-rule",
        "no-pool-spec",
        "full-list-not-the-pools",
        "excluded-yet-pooled",
        "draw-id-of-another-attempt",
        "attempt-zero",
        "attempt-missing",
        "count-float",
        "count-boolean",
        "count-string",
        "ratio-float",
        "ratio-infinity",
        "ratio-and-count",
        "rules-empty",
        "cap-off-the-rule",
        "v3-passed-off-as-v2",
        "a-fifth-field",
    ],
)
def test_each_forgery_is_named(change: Any, named: str) -> None:
    forged = copy.deepcopy(proof())
    change(forged)
    forged["announcement_hash"] = c.announcement_hash(forged["announcement"])
    # A forgery the computation itself refuses keeps its result: the verifier names it too.
    with contextlib.suppress(ValueError, KeyError, TypeError):
        reseal(forged)
    problems = verify(forged)
    assert problems, "the forgery verified"
    assert any(named in p for p in problems), problems


def test_a_drawn_line_with_an_invisible_or_uncanonical_unit_is_named() -> None:
    """所所交叉 compares units: a unit with U+200B would not match its twin. (Every line
    gets the unit here, since a changed pool draws other subjects.)"""
    for bad in ("所\u200b1", "所1 ", "所  1", "\u3000所1"):
        forged = [line.rsplit("\t", 1)[0] + "\t" + bad for line in pool()]
        problems = verify(proof(forged))
        assert any(p.startswith("pool line of ") and "unit" in p for p in problems), bad


def test_an_identifier_with_an_invisible_character_is_named() -> None:
    """ "X" and "X" + U+200B would be one company with two lines in the pool."""
    lines = pool()
    twin = lines[7].split("\t")
    forged = c.sort_pool([*lines, "\t".join([twin[0] + "\u200b", *twin[1:]])])
    assert "pool: an identifier holds other than visible ASCII characters" in verify(proof(forged))


def test_rfc3797_selection_seeds_from_the_key_of_the_groups() -> None:
    document = proof(selection=c.RFC3797_SELECTION)
    assert verify(document) == []
    from services.draw.protocol.rfc3797 import canonical_key

    key = canonical_key(["3 9 14 22 27 31", "8"]).encode("ascii")
    a = public_of(document)
    assert document["result"]["seed"] == c.derive_seed_v3(c.announcement_hash(a), SECRET, key).hex()


def test_the_command_line_compares_the_announcement_hash_the_reader_saw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = full_form(proof())
    path = tmp_path / "proof.json"
    path.write_bytes(c.canonical_json(document))  # as the service serves it
    seen = document["announcement_hash"]
    assert main(["verify", str(path), "--announcement-hash", seen.upper()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"announcement {seen}" and out[-1].startswith("OK")
    assert main(["verify", str(path), "--announcement-hash", "0" * 64]) == 1
    assert "MISMATCH announcement_hash: you saw" in capsys.readouterr().out


def test_json_with_a_key_twice_is_not_read(tmp_path: Path) -> None:
    """Finding 7: two readings of one file (Python keeps the last key, others the first)."""
    document = full_form(proof())
    text = c.canonical_json(document).decode()
    twice = text.replace('"secret":', '"secret":"' + "00" * 32 + '","secret":', 1)
    path = tmp_path / "twice.json"
    path.write_text(twice, encoding="utf-8")
    assert main(["verify", str(path)]) == 2
    nan = text.replace('"pool_size":300', '"pool_size":NaN', 1)
    path.write_text(nan, encoding="utf-8")
    assert main(["verify", str(path)]) == 2


# -- replacements (递补): the next alternate, on registry facts -----------------------------


def fact(n: int, what: str = "deregistered") -> dict[str, Any]:
    return {"event": f"registry:{n}", "fact": what, "at": "2026-12-09T02:00:00+00:00"}


def replaced(document: dict[str, Any], *requests: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    out["replacements"] = [{"sequence": n, **r} for n, r in enumerate(requests, start=1)]
    out["result"] = run(out)
    return out


def first_of(document: dict[str, Any], stratum: str) -> str:
    return next(s["identifier"] for s in document["result"]["selection"] if s["stratum"] == stratum)


def alternates_of(document: dict[str, Any], stratum: str, n: int) -> list[str]:
    """The stratum's first n alternates, as the protocol orders them."""
    from services.draw.protocol.blinding import keyed_members
    from services.draw.protocol.replace3 import Alternates

    lines = document["pool"].split("\n")
    selected = {s["identifier"] for s in document["result"]["selection"]}
    picked = {i for i, line in enumerate(lines) if line.split("\t")[0] in selected}
    order = Alternates(bytes.fromhex(document["result"]["seed"]), keyed_members(lines, KEY), picked)
    return [lines[order.next(stratum)].split("\t")[0] for _ in range(n)]  # type: ignore[index]


def test_a_subject_is_replaced_by_the_next_alternate_on_a_registry_fact() -> None:
    document = proof()
    gone = first_of(document, "A")
    first, second = alternates_of(document, "A", 2)
    request = {"kind": "subject", "identifier": gone, "reason_code": "deregistered"}
    done = replaced(document, {**request, "evidence": fact(1), "skipped": []})
    assert done["result"]["replacements"][0]["replacement"] == first
    assert verify(done) == []
    # The first alternate closed too: it is passed over only with its own evidence.
    skipping = {
        **request,
        "evidence": fact(1),
        "skipped": [{"identifier": first, "evidence": fact(2)}],
    }
    done = replaced(document, skipping)
    assert done["result"]["replacements"][0]["replacement"] == second
    assert verify(done) == []


@pytest.mark.parametrize(
    "request_",
    [
        {"reason_code": "deregistered"},  # no evidence
        {"reason_code": "deregistered", "evidence": fact(1, "revoked")},  # another fact
        {"reason_code": "closed", "evidence": fact(1)},  # no registry fact grounds it
        {"reason_code": "other", "evidence": fact(1)},
        {"reason_code": "deregistered", "evidence": {**fact(1), "at": "2026-12-01T00:00:00+00:00"}},
        {"reason_code": "deregistered", "evidence": {**fact(1), "event": "planner:1"}},
        {"reason_code": "deregistered", "evidence": {**fact(1), "event": "registry:"}},
    ],
    ids=[
        "no-evidence",
        "wrong-fact",
        "closed",
        "other",
        "before-announcement",
        "not-registry",
        "no-event-number",
    ],
)
def test_a_replacement_without_its_registry_ground_is_refused(request_: dict[str, Any]) -> None:
    document = proof()
    request = {"kind": "subject", "identifier": first_of(document, "A"), **request_}
    with pytest.raises(ValueError, match="replacement 1"):
        replaced(document, request)


def test_a_re_roll_is_named_by_the_verifier() -> None:
    """Finding 4: the replacement is fixed; claiming another company, or skipping an
    alternate with no evidence, does not verify."""
    document = proof()
    gone = first_of(document, "A")
    first, second = alternates_of(document, "A", 2)
    honest = replaced(
        document,
        {
            "kind": "subject",
            "identifier": gone,
            "reason_code": "deregistered",
            "evidence": fact(1),
            "skipped": [],
        },
    )
    chosen = copy.deepcopy(honest)
    chosen["result"]["replacements"][0]["replacement"] = second
    assert any(p.startswith("replacements[0]") for p in verify(chosen))
    unevidenced = copy.deepcopy(honest)
    unevidenced["replacements"][0]["skipped"] = [{"identifier": first}]
    assert any("cannot be recomputed" in p for p in verify(unevidenced))
    out_of_order = copy.deepcopy(honest)
    out_of_order["replacements"][0]["skipped"] = [{"identifier": second, "evidence": fact(2)}]
    assert any("cannot be recomputed" in p for p in verify(out_of_order))


def test_replacements_are_capped_by_the_announcement() -> None:
    document = proof()
    drawn = [s["identifier"] for s in document["result"]["selection"] if s["stratum"] == "A"]
    requests = [
        {
            "kind": "subject",
            "identifier": i,
            "reason_code": "deregistered",
            "evidence": fact(n),
            "skipped": [],
        }
        for n, i in enumerate(drawn[:4], start=1)
    ]
    assert verify(replaced(document, *requests[:3])) == []
    with pytest.raises(ValueError, match="allows 3 at most"):
        replaced(document, *requests)


def test_an_inspector_is_replaced_by_the_seats_next_candidate_on_a_registry_fact() -> None:
    document = proof()
    group = document["result"]["groups"][0]
    leaving = group["inspectors"][1]["inspector_id"]
    request = {
        "kind": "inspector",
        "identifier": group["identifier"],
        "inspector_id": leaving,
        "reason_code": "sick_leave",
        "evidence": fact(1, "suspended"),
        "skipped": [],
    }
    done = replaced(document, request)
    newcomer = done["result"]["replacements"][0]["replacement"]["inspector_id"]
    assert newcomer != leaving and verify(done) == []
    # The same request can only ever give the same newcomer: nothing to re-roll.
    assert replaced(document, request)["result"] == done["result"]
    # Passing the newcomer over needs evidence that takes them off the seat too.
    skipping = {
        **request,
        "skipped": [{"inspector_id": newcomer, "evidence": fact(2, "suspended")}],
    }
    other = replaced(document, skipping)["result"]["replacements"][0]["replacement"]
    assert other["inspector_id"] not in (newcomer, leaving)
    with pytest.raises(ValueError, match="replacement 1"):
        replaced(document, {**request, "skipped": [{"inspector_id": newcomer}]})
    with pytest.raises(ValueError, match="replacement 1"):
        replaced(document, {**request, "reason_code": "recusal"})  # a suspension is no conflict


def test_a_replacement_subjects_group_does_not_depend_on_the_order_of_filing() -> None:
    """Finding 4: with a fresh stream per replacement number, filing X before Y or Y
    before X chose between two groups; by the seat orders each depends on its subject."""
    document = proof()
    a_subject, b_subject = first_of(document, "A"), first_of(document, "B")

    def request(identifier: str, n: int) -> dict[str, Any]:
        return {
            "kind": "subject",
            "identifier": identifier,
            "reason_code": "deregistered",
            "evidence": fact(n),
            "skipped": [],
        }

    one = replaced(document, request(a_subject, 1), request(b_subject, 2))["result"]
    other = replaced(document, request(b_subject, 1), request(a_subject, 2))["result"]
    groups_one = {r["replacement"]: r["group"] for r in one["replacements"]}
    groups_other = {r["replacement"]: r["group"] for r in other["replacements"]}
    assert groups_one == groups_other and len(groups_one) == 2


@pytest.mark.parametrize("sequence", [True, "1", 1.0])
def test_a_replacement_sequence_is_a_whole_number(sequence: object) -> None:
    document = proof()
    request = {
        "kind": "subject",
        "identifier": first_of(document, "A"),
        "reason_code": "deregistered",
        "evidence": fact(1),
        "skipped": [],
        "sequence": sequence,
    }
    forged = copy.deepcopy(document)
    forged["replacements"] = [request]
    with pytest.raises(ValueError, match="carries sequence"):
        run(forged)


def test_the_v3_worked_examples_in_the_docs_are_current_and_verify_as_quoted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/draw-protocol.md §11 quotes these files' figures: a protocol change shows here
    (``python -m tests.examples`` rewrites them)."""
    from tests import examples

    for name, document in examples.documents().items():
        path = examples.EXAMPLES / name
        assert path.read_text(encoding="utf-8") == examples.text(document), name
    for name in ("draw-proof-v3.json", "draw-proof-v3-full.json"):
        assert main(["verify", str(examples.EXAMPLES / name)]) == 0
        assert capsys.readouterr().out.startswith("announcement 40d34cdcd5fbee5f")
    line = str(examples.EXAMPLES / "draw-line-v3.json")
    assert main(["verify-line", line, "--announcement-hash", "40d34cdcd5fbee5f" + "0" * 48]) == 1
    assert main(["verify-line", line]) == 0
    assert "91420203MA0000004X is leaf 0 of stratum B" in capsys.readouterr().out


def test_walking_the_alternates_on_made_up_records_is_refused() -> None:
    """An independent attack: one replacement passing over two dozen alternates, each
    "gone" on the same made-up registry event, reached a chosen company. Every step now
    counts against the cap, and one event grounds facts about one party only."""
    document = proof()
    gone = first_of(document, "A")
    walk = alternates_of(document, "A", 5)
    request = {"kind": "subject", "identifier": gone, "reason_code": "deregistered"}
    long_walk = {
        **request,
        "evidence": fact(1),
        "skipped": [{"identifier": a, "evidence": fact(2 + n)} for n, a in enumerate(walk[:4])],
    }
    with pytest.raises(ValueError, match="passes over 4 candidates; one may pass over 3"):
        replaced(document, long_walk)
    # Steps of all replacements together, skips included, stay within the cap (3 here).
    drawn = [s["identifier"] for s in document["result"]["selection"] if s["stratum"] == "A"]
    two = [
        {
            "kind": "subject",
            "identifier": drawn[0],
            "reason_code": "deregistered",
            "evidence": fact(10),
            "skipped": [{"identifier": walk[0], "evidence": fact(11)}],
        },
        {
            "kind": "subject",
            "identifier": drawn[1],
            "reason_code": "deregistered",
            "evidence": fact(12),
            "skipped": [{"identifier": walk[1], "evidence": fact(13)}],
        },
    ]
    with pytest.raises(ValueError, match="take 4 steps; the announcement allows 3"):
        replaced(document, *two)
    one_event = {
        **request,
        "evidence": fact(1),
        "skipped": [{"identifier": walk[0], "evidence": fact(1)}],
    }
    with pytest.raises(ValueError, match="registry:1 is cited for both"):
        replaced(document, one_event)
    # Within the cap, with an event per party, the walk is the honest order's.
    fine = {
        **request,
        "evidence": fact(1),
        "skipped": [{"identifier": walk[0], "evidence": fact(2)}],
    }
    assert replaced(document, fine)["result"]["replacements"][0]["replacement"] == walk[1]


def test_evidence_ids_have_one_spelling_and_a_conflict_is_one_pair() -> None:
    """A second attack: registry:7, registry:07 and registry:007 passed as three events;
    one conflict event recused an inspector from two subjects."""
    document = proof()
    gone = first_of(document, "A")
    zeros = {
        "kind": "subject",
        "identifier": gone,
        "reason_code": "deregistered",
        "evidence": {**fact(7), "event": "registry:07"},
        "skipped": [],
    }
    with pytest.raises(ValueError, match="registry event id"):
        replaced(document, zeros)
    groups = document["result"]["groups"]
    leaving = [(g["identifier"], g["inspectors"][0]["inspector_id"]) for g in groups]
    same = next((a, b) for a, b in itertools.combinations(leaving, 2) if a[1] == b[1])
    recusals = [
        {
            "kind": "inspector",
            "identifier": subject,
            "inspector_id": inspector,
            "reason_code": "recusal",
            "evidence": fact(55, "conflict"),
            "skipped": [],
        }
        for subject, inspector in same
    ]
    with pytest.raises(ValueError, match="registry:55 is cited for both"):
        replaced(document, *recusals)
