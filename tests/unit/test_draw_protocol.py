"""Protocol ssj-draw-2: generator, canonical forms, selection, groups, replacements, proofs."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import random
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.draw.protocol import canonical as c
from services.draw.protocol.groups import Examiner, GroupDrawer, NoValidGroup, Target, covers
from services.draw.protocol.proof import ReplacementError, main, pool_problems, run, verify
from services.draw.protocol.reasons import public_request
from services.draw.protocol.stream import Stream, sample
from services.draw.protocol.subjects import parse_ratio, select, stratum_count
from tests.builders import make_uscc

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "services" / "draw" / "protocol"
SECRET = bytes(range(32))
RATIOS = {
    "A": {"ratio": "0.01"},
    "B": {"ratio": "0.03"},
    "C": {"ratio": "0.1"},
    "D": {"ratio": "0.2"},
}


def pool_lines(n: int, seed: int = 7, regions: tuple[str, ...] = ("420202",)) -> list[str]:
    rng = random.Random(seed)
    classes = "A" * 60 + "B" * 30 + "C" * 8 + "D" * 2
    return c.sort_pool(
        c.pool_line(make_uscc(rng, region), classes[i % 100], region, f"所{i % 3}")
        for i, region in ((i, regions[i % len(regions)]) for i in range(n))
    )


def roster(per_department: int = 6) -> list[list[Any]]:
    return [
        [f"{dept}-{k:02d}", dept, "420200", f"所{k % 3}", ["general", "key"]]
        for dept in ("SAMR", "TAX")
        for k in range(per_department)
    ]


def announcement(lines: list[str], **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "protocol": c.PROTOCOL_V2,
        "draw_id": "d-1",
        "batch_id": "b-1",
        "pool_hash": c.pool_hash(lines),
        "pool_size": len(lines),
        "strata": RATIOS,
        "departments": [
            {"department": "SAMR", "categories": ["general"]},
            {"department": "TAX", "categories": ["key"]},
        ],
        "min_group_size": 2,
        "rules": {"cross_jurisdiction": False, "avoid_previous_inspectors": True},
        "roster": roster(),
        "conflicts": [],
        "previous": [],
        "commitment": c.commitment(SECRET),
        "entropy_source": "双色球 2026136",
        "entropy_not_before": "",
        "announced_at": "2026-11-23T08:00:00+00:00",
    }
    base.update(overrides)
    return base


def proof_of(
    lines: list[str], entropy: str = "03 09 14 22 27 31 + 08", **kw: Any
) -> dict[str, Any]:
    announced = announcement(lines, **kw)
    proof: dict[str, Any] = {
        "announcement": announced,
        "announcement_hash": c.announcement_hash(announced),
        "pool": "\n".join(lines),
        "secret": SECRET.hex(),
        "entropy": entropy,
        "replacements": [],
    }
    proof["result"] = run(proof)
    return proof


# -- the generator -------------------------------------------------------------------------


def test_stream_blocks_are_sha256_of_seed_label_counter() -> None:
    stream = Stream(b"s" * 32, "subjects/A")
    block0 = hashlib.sha256(b"s" * 32 + b"subjects/A" + (0).to_bytes(8, "big")).digest()
    block1 = hashlib.sha256(b"s" * 32 + b"subjects/A" + (1).to_bytes(8, "big")).digest()
    expected = list(struct.unpack(">4Q", block0)) + list(struct.unpack(">4Q", block1))
    assert [stream.next_u64() for _ in range(8)] == expected


def test_below_rejects_the_biased_tail() -> None:
    # n = 2**63 + 1: values at or above 2**64 - (2**64 mod n) = n are rejected.
    stream = Stream(b"x" * 32, "t")
    n = 2**63 + 1
    raw = Stream(b"x" * 32, "t")
    values = [raw.next_u64() for _ in range(64)]
    first_kept = next(v for v in values if v < n)
    assert stream.below(n) == first_kept % n
    with pytest.raises(ValueError):
        stream.below(0)


@given(st.integers(min_value=0, max_value=300), st.data())
@settings(max_examples=60, deadline=None)
def test_sample_gives_k_distinct_positions_in_range(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    picked = sample(Stream(b"q" * 32, "x"), n, k)
    assert len(picked) == k == len(set(picked))
    assert all(0 <= p < n for p in picked)


def test_sample_is_the_partial_fisher_yates_of_the_spec() -> None:
    """The inlined hot loop draws exactly what docs/draw-protocol.md §6 says."""

    def spec(stream: Stream, n: int, k: int) -> list[int]:
        a = list(range(n))
        for i in range(k):
            j = i + stream.below(n - i)
            a[i], a[j] = a[j], a[i]
        return a[:k]

    for n, k in ((1, 1), (10, 10), (1000, 37), (2**20 + 7, 500)):
        fast, slow = Stream(b"p" * 32, f"s{n}"), Stream(b"p" * 32, f"s{n}")
        assert sample(fast, n, k) == spec(slow, n, k)
        assert fast.next_u64() == slow.next_u64()  # the stream is left where it should be


def test_sample_of_everything_is_a_permutation_and_too_many_is_refused() -> None:
    assert sorted(sample(Stream(b"q" * 32, "x"), 50, 50)) == list(range(50))
    with pytest.raises(ValueError):
        sample(Stream(b"q" * 32, "x"), 3, 4)


# -- canonical forms -----------------------------------------------------------------------


def test_fields_are_normalised_so_no_tab_or_newline_reaches_a_line() -> None:
    assert c.field("  黄石港\t所 \n") == "黄石港 所"
    assert c.pool_line(" 91X ", "A", "420202", "a\tb") == "91X\tA\t420202\ta b"
    with pytest.raises(ValueError, match="stratum"):
        c.pool_line("91X", "E", "420202", "")


def test_the_pool_is_sorted_by_identifier_and_duplicates_are_refused() -> None:
    lines = [c.pool_line(i, "A", "420202", "") for i in ("b", "a", "c")]
    assert [line[0] for line in c.sort_pool(lines)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="twice"):
        c.sort_pool([*lines, c.pool_line("a", "B", "420202", "")])


def test_seed_binds_announcement_secret_and_entropy() -> None:
    digest = c.announcement_hash({"x": 1})
    seed = c.derive_seed(digest, SECRET, " 1  2 3 ")
    assert seed == c.derive_seed(digest, SECRET, "1 2 3")  # canonical form of the entropy
    material = b"ssj-draw-2\x00" + bytes.fromhex(digest) + SECRET + b"1 2 3"
    assert seed == hashlib.sha256(material).digest()
    assert seed != c.derive_seed(c.announcement_hash({"x": 2}), SECRET, "1 2 3")
    with pytest.raises(ValueError):
        c.derive_seed(digest, SECRET, "   ")


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert c.canonical_json({"b": 1, "a": ["所", 2]}) == '{"a":["所",2],"b":1}'.encode()


# -- subject selection ---------------------------------------------------------------------


def test_ratio_counts_are_exact_decimals_rounded_up() -> None:
    # 0.03 × 300000 is 9000.000000000002 in binary floating point; exactly 9000 here.
    assert stratum_count(300_000, {"ratio": "0.03"}) == 9000
    assert stratum_count(1, {"ratio": "0.01"}) == 1
    assert stratum_count(0, {"ratio": "0.2"}) == 0
    assert stratum_count(7, {"count": 9}) == 7
    assert parse_ratio("0.1") * 10 == 1
    for bad in ("0", "1.5", "abc"):
        with pytest.raises(ValueError):
            parse_ratio(bad)


def test_each_stratum_is_drawn_from_its_own_members() -> None:
    lines = pool_lines(1000)
    picked, summary = select(SECRET, lines, RATIOS)
    assert {k: v["count"] for k, v in summary.items()} == {"*": 0, "A": 6, "B": 9, "C": 8, "D": 4}
    strata = {line.split("\t")[0]: line.split("\t")[1] for line in lines}
    assert all(strata[p.identifier] == p.stratum for p in picked)
    assert len({p.identifier for p in picked}) == len(picked)


def test_the_full_list_is_always_selected_and_not_drawn_again() -> None:
    lines = c.sort_pool(
        [
            *pool_lines(200),
            c.pool_line("ZZZ-LISTED-1", "*", "420202", ""),
            c.pool_line("ZZZ-LISTED-2", "*", "420202", ""),
        ]
    )
    picked, summary = select(SECRET, lines, {"A": {"count": 2}})
    assert [p.identifier for p in picked[:2]] == ["ZZZ-LISTED-1", "ZZZ-LISTED-2"]
    assert summary["*"] == {"pool": 2, "count": 2} and summary["A"]["count"] == 2
    assert len(picked) == 4


def test_strata_without_a_rule_are_not_drawn() -> None:
    _, summary = select(SECRET, pool_lines(300), {"D": {"ratio": "1"}})
    assert summary["A"]["count"] == 0 and summary["D"]["count"] == summary["D"]["pool"]


# -- inspector groups ----------------------------------------------------------------------


def _drawer(**kw: Any) -> GroupDrawer:
    args: dict[str, Any] = {
        "roster": [Examiner.from_row(r) for r in roster()],
        "departments": [
            {"department": "SAMR", "categories": ["general"]},
            {"department": "TAX", "categories": ["key"]},
        ],
    }
    args.update(kw)
    return GroupDrawer(**args)


def test_a_group_has_a_leader_of_the_initiating_department_and_each_participant() -> None:
    group = _drawer().group(Stream(SECRET, "inspectors"), Target("S1", "420202", "所0"))
    assert [(m["department"], m["role"]) for m in group] == [("SAMR", "leader"), ("TAX", "member")]
    bigger = _drawer(min_group_size=4).group(Stream(SECRET, "i"), Target("S1", "420202", ""))
    assert [m["department"] for m in bigger] == ["SAMR", "TAX", "SAMR", "SAMR"]
    assert len({m["inspector_id"] for m in bigger}) == 4


def test_jurisdiction_prefixes() -> None:
    assert covers("420000", "420202") and covers("420200", "420202")
    assert covers("420202", "420202") and not covers("420202", "420203")
    assert not covers("420300", "420202")


@pytest.mark.parametrize(
    ("change", "target", "rule"),
    [
        (
            {"departments": [{"department": "EPB", "categories": []}]},
            ("S", "420202", ""),
            "department",
        ),
        (
            {"departments": [{"department": "SAMR", "categories": ["special"]}]},
            ("S", "420202", ""),
            "qualification",
        ),
        ({}, ("S", "110101", ""), "jurisdiction"),
        (
            {
                "cross_jurisdiction": True,
                "roster": [
                    Examiner("a", "SAMR", "420200", "所0", ("general",)),
                    Examiner("b", "TAX", "420200", "所1", ("key",)),
                ],
            },
            ("S", "420202", "所0"),
            "cross_jurisdiction",
        ),
        (
            {"conflicts": frozenset((f"SAMR-{k:02d}", "S") for k in range(6))},
            ("S", "420202", ""),
            "conflict_of_interest",
        ),
        (
            {"previous": frozenset((f"SAMR-{k:02d}", "S") for k in range(6))},
            ("S", "420202", ""),
            "previous_inspector",
        ),
        (
            {"min_group_size": 8, "departments": [{"department": "SAMR", "categories": []}]},
            ("S", "420202", ""),
            "group_size",
        ),
    ],
)
def test_an_impossible_group_names_the_rule(
    change: dict[str, Any], target: tuple[str, str, str], rule: str
) -> None:
    with pytest.raises(NoValidGroup) as caught:
        _drawer(**change).group(Stream(SECRET, "i"), Target(*target))
    assert caught.value.rule == rule
    assert rule in str(caught.value)


def test_previous_inspectors_may_serve_again_when_the_rule_is_off() -> None:
    previous = frozenset((f"SAMR-{k:02d}", "S") for k in range(6))
    group = _drawer(previous=previous, avoid_previous=False).group(
        Stream(SECRET, "i"), Target("S", "420202", "")
    )
    assert group[0]["department"] == "SAMR"


def test_workload_is_spread_within_one_group_of_the_least_loaded() -> None:
    proof = proof_of(pool_lines(3000))
    loads: dict[str, int] = {r[0]: 0 for r in roster()}
    for g in proof["result"]["groups"]:
        for m in g["inspectors"]:
            loads[m["inspector_id"]] += 1
    for dept in ("SAMR", "TAX"):
        counts = [n for i, n in loads.items() if i.startswith(dept)]
        assert max(counts) - min(counts) <= 1


# -- proofs and replacements ---------------------------------------------------------------


def test_a_proof_verifies_and_every_tampering_is_named() -> None:
    proof = proof_of(pool_lines(500))
    assert verify(proof) == []

    def problems(mutate: Any) -> str:
        forged = copy.deepcopy(proof)
        mutate(forged)
        return "\n".join(verify(forged))

    assert "commitment" in problems(lambda p: p.update(secret=bytes(32).hex()))
    assert "pool_hash" in problems(lambda p: p.update(pool=p["pool"].rpartition("\n")[0]))
    assert "pool: pool must be the canonical pool text" in problems(
        lambda p: p.update(pool=p["pool"].split("\n"))
    )
    assert "seed" in problems(lambda p: p.update(entropy="1 2 3"))
    assert "announcement_hash" in problems(
        lambda p: p["announcement"]["strata"].update(D={"ratio": "0.5"})
    )
    assert "selection[0]" in problems(
        lambda p: p["result"]["selection"].__setitem__(0, {"identifier": "X", "stratum": "A"})
    )
    assert "canonical order" in problems(
        lambda p: p.update(pool="\n".join(reversed(p["pool"].split("\n"))))
    )
    # Every recorded figure is recomputed, the pool's hash and size included.
    for key, forged_value in (("pool_hash", "0" * 64), ("pool_size", 7), ("commitment", "x")):
        assert f"{key}: recorded" in problems(
            lambda p, k=key, v=forged_value: p["result"].update({k: v})
        )
    assert verify({**proof, "result": None}) == [
        "the proof has no result to verify (use replay to compute one)"
    ]


@pytest.mark.parametrize("unique", [False, True])
def test_pool_problems_name_hash_size_and_order(unique: bool) -> None:
    """The full check (the verifier's) and the service's, which knows identifiers unique,
    agree on every pool whose identifiers are unique."""
    lines = pool_lines(300)
    text = "\n".join(lines)
    announced = {"pool_hash": c.pool_hash(lines), "pool_size": len(lines)}

    def problems(pool: list[str], announcement: dict[str, Any] = announced) -> list[str]:
        text = "\n".join(pool)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return pool_problems(text, pool, announcement, digest, identifiers_unique=unique)

    assert problems(lines) == []
    swapped = [lines[1], lines[0], *lines[2:]]
    assert problems(swapped, {"pool_hash": c.pool_hash(swapped), "pool_size": 300}) == [
        "pool: lines are not in canonical order (identifiers ascending, unique)"
    ]
    assert [p.split(":")[0] for p in problems(lines[:-1])] == ["pool_hash", "pool_size"]
    assert pool_problems(text, lines, {**announced, "pool_size": 3}, announced["pool_hash"]) == [
        "pool_size: announced 3, pool has 300"
    ]


def test_only_the_full_pool_check_catches_a_repeated_identifier() -> None:
    """Two lines of one identifier still sort as lines; the verifier's check names them,
    the service relies on its unique index instead."""
    first = pool_lines(2)[0]
    identifier = first.split("\t")[0]
    lines = [f"{identifier}\tA\t420202\t甲所", f"{identifier}\tB\t420202\t甲所"]
    text = "\n".join(lines)
    announced = {"pool_hash": c.pool_hash(lines), "pool_size": 2}
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert pool_problems(text, lines, announced, digest) == [
        "pool: lines are not in canonical order (identifiers ascending, unique)"
    ]
    assert pool_problems(text, lines, announced, digest, identifiers_unique=True) == []


def test_replacements_are_deterministic_and_follow_the_rules() -> None:
    lines = pool_lines(800)
    base = proof_of(lines)
    first = base["result"]["groups"][0]
    second = base["result"]["selection"][1]
    member = first["inspectors"][1]
    unavailable = [s["identifier"] for s in base["result"]["selection"]][:1]
    requests = [
        {
            "sequence": 1,
            "kind": "inspector",
            "identifier": first["identifier"],
            "inspector_id": member["inspector_id"],
            "reason_code": "recusal",
        },
        {
            "sequence": 2,
            "kind": "subject",
            "identifier": second["identifier"],
            "unavailable": unavailable,
            "reason_code": "deregistered",
        },
    ]
    proof = {**base, "replacements": requests}
    outcome = run(proof)
    assert outcome["replacements"] == run(copy.deepcopy(proof))["replacements"]
    assert outcome["selection"] == base["result"]["selection"]  # the original stays
    inspector, subject = outcome["replacements"]
    assert inspector["replaced"] == member["inspector_id"]
    assert inspector["replacement"]["inspector_id"] != member["inspector_id"]
    assert inspector["replacement"]["department"] == member["department"] == "TAX"
    assert subject["stratum"] == second["stratum"]
    assert subject["replacement"] not in {s["identifier"] for s in base["result"]["selection"]}
    assert subject["group"][0]["role"] == "leader"
    assert verify({**proof, "result": outcome}) == []

    typed = {**requests[0], "reason": "该员正接受纪检调查", "approver": "张局长 13800001234"}
    (extra,) = verify({**proof, "replacements": [typed, requests[1]], "result": outcome})
    assert "['approver', 'reason'] are not part of a public request" in extra
    unknown = {**requests[1], "reason_code": "recusal"}  # an inspector's reason for a subject
    (wrong,) = verify({**proof, "replacements": [requests[0], unknown], "result": outcome})
    assert "reason_code 'recusal'" in wrong

    with pytest.raises(ReplacementError, match="not a drawn subject"):
        run({**base, "replacements": [{**requests[0], "identifier": "nobody"}]})
    with pytest.raises(ReplacementError, match="sequence"):
        run({**base, "replacements": [{**requests[0], "sequence": 2}]})
    with pytest.raises(ReplacementError, match="not in the group"):
        run({**base, "replacements": [{**requests[0], "inspector_id": "ghost"}]})


def test_a_replaced_inspector_is_not_drawn_back_into_the_group() -> None:
    lines = pool_lines(100)
    tight = [[f"TAX-{k}", "TAX", "420200", "", ["key"]] for k in range(2)] + [
        ["SAMR-0", "SAMR", "420200", "", ["general"]]
    ]
    base = proof_of(lines, roster=tight, strata={"D": {"count": 1}})
    group = base["result"]["groups"][0]
    tax = group["inspectors"][1]["inspector_id"]
    once = [
        {
            "sequence": 1,
            "kind": "inspector",
            "identifier": group["identifier"],
            "inspector_id": tax,
            "reason_code": "post_change",
        }
    ]
    replaced = run({**base, "replacements": once})["replacements"][0]["replacement"]
    twice = [*once, {**once[0], "sequence": 2, "inspector_id": replaced["inspector_id"]}]
    with pytest.raises(NoValidGroup) as caught:
        run({**base, "replacements": twice})
    assert caught.value.rule == "replaced"


def test_the_full_list_cannot_be_replaced_by_chance() -> None:
    lines = c.sort_pool([*pool_lines(50), c.pool_line("ZZ-1", "*", "420202", "")])
    base = proof_of(lines, strata={"A": {"count": 1}})
    request = {
        "sequence": 1,
        "kind": "subject",
        "identifier": "ZZ-1",
        "reason_code": "deregistered",
    }
    with pytest.raises(ReplacementError, match="100 % list"):
        run({**base, "replacements": [request]})


def test_command_line_verify_and_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof = proof_of(pool_lines(300))
    path = tmp_path / "proof.json"
    path.write_bytes(c.canonical_json(proof))  # as the service serves it
    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    document = json.loads(path.read_text(encoding="utf-8"))
    # First what a reader compares with the notice they saw, then the verdict.
    assert out[0] == f"announcement {document['announcement_hash']}"
    assert out[1] == f"commitment   {document['announcement']['commitment']}"
    assert out[-1].startswith("OK draw d-1")

    replay_input = {k: v for k, v in proof.items() if k != "result"}
    replay_input["entropy"] = "other numbers"
    path.write_bytes(c.canonical_json(replay_input))
    assert main(["replay", str(path)]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["seed"] != proof["result"]["seed"]
    assert main(["verify", str(path)]) == 1
    assert "no result" in capsys.readouterr().out

    forged = copy.deepcopy(proof)
    forged["result"]["seed"] = "00" * 32
    path.write_bytes(c.canonical_json(forged))
    assert main(["verify", str(path)]) == 1
    assert "MISMATCH seed" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing.json")]) == 2


def test_the_protocol_imports_only_the_standard_library() -> None:
    for module in PROTOCOL_DIR.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert (
                    top in sys.stdlib_module_names
                    or name.startswith("services.draw.protocol")
                    or top == "__future__"
                ), f"{module.name} imports {name}"


def test_ssj_draw_commands_dispatch_to_the_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from libs.common.cli import main as ssj

    sources = ["9319", "2 5 12 8 10", "9 18 26 34 41 45"]  # RFC 3797 section 6
    assert ssj(["draw", "rfc3797", "--pool-size", "25", "--count", "10", *sources]) == 0
    assert capsys.readouterr().out.split() == [
        "17",
        "7",
        "2",
        "16",
        "25",
        "23",
        "8",
        "24",
        "19",
        "13",
    ]
    path = tmp_path / "proof.json"
    path.write_bytes(c.canonical_json(proof_of(pool_lines(100))))
    assert ssj(["draw", "verify", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_the_worked_example_in_the_docs_still_verifies() -> None:
    """docs/draw-protocol.md quotes this file's figures; a protocol change must show here."""
    path = PROTOCOL_DIR.parents[2] / "docs" / "examples" / "draw-proof.json"
    example = json.loads(path.read_text(encoding="utf-8"))
    assert verify(example) == []
    # The result names the pool's hash, not the announcement's (they were once confused).
    assert run(example)["pool_hash"] == example["announcement"]["pool_hash"]
    assert run(example)["announcement_hash"] != example["announcement"]["pool_hash"]
    assert example["result"]["seed"] == (
        "a02105b1e04317d9078ba8271429de968931b22eabe5e7cef7690d3c47f8ca13"
    )
    assert [s["identifier"][-3:] for s in example["result"]["selection"]] == [
        "01X",
        "03X",
        "04X",
        "06X",
    ]


def test_a_request_recorded_before_reason_codes_is_published_as_other() -> None:
    legacy = {
        "sequence": 1,
        "kind": "subject",
        "identifier": "91420202MA0000001X",
        "unavailable": [],
        "reason": "检查前已注销，经张局长 13800001234 同意",
        "approver": "张局长",
    }
    assert public_request(legacy) == {
        "sequence": 1,
        "kind": "subject",
        "identifier": "91420202MA0000001X",
        "unavailable": [],
        "reason_code": "other",
    }
