"""Finding 9: the public proof of an ssj-draw-3 draw proves the draw without disclosing
any pooled subject's risk class or unit, or any conflict of interest; auditors' full proof
shows them and must be what the public one committed to; a subject can check its own
line. Every forgery below is one a service operator could make; each is named.
Pure: the protocol package."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from services.draw.protocol import blinding, merkle
from services.draw.protocol.entropy import SHAPES
from services.draw.protocol.forms import line_proof, proofs
from services.draw.protocol.verify import verify
from services.draw.protocol.verify3 import recompute, verify_line
from tests.unit.test_draw_v3_proofs import KEY, fact, first_of, pool, proof, replaced

Doc = dict[str, Any]


def both(inputs: Doc | None = None) -> tuple[Doc, Doc]:
    """The public and the full proof of an honest draw (of ``inputs``)."""
    return proofs(inputs or proof(), KEY)


def reseal(document: Doc) -> Doc:
    """What a forger does after changing a public proof: recompute its result from what
    it now says (the announcement hash stays the one that was published)."""
    document["result"] = recompute(document)
    return document


def test_honest_public_and_full_proofs_verify() -> None:
    public, full = both()
    assert verify(public) == []
    assert verify(full) == []
    # Every opened leaf is one the draw used: the selection, nothing else here.
    opened = [o["line"].split("\t")[0] for rows in public["opened"].values() for o in rows]
    assert sorted(opened) == sorted(s["identifier"] for s in public["result"]["selection"])


def test_the_public_proof_discloses_no_class_unit_or_conflict_of_the_pool() -> None:
    inputs = proof()
    public, _ = both(inputs)
    text = json.dumps(public, ensure_ascii=False)
    full = inputs["announcement"]
    # No unit by name (the roster's and the pool's 所0/所1/所2), no pool hash, no pairs.
    assert "所" not in text
    assert not {"pool", "pool_hash", "conflicts", "previous"} & set(public["announcement"])
    assert "pool_hash" not in public["result"]
    # Of the pool, only the opened (drawn) subjects are named at all.
    drawn = {s["identifier"] for s in public["result"]["selection"]}
    pooled = {line.split("\t")[0] for line in inputs["pool"].split("\n")}
    assert all(i not in text for i in pooled - drawn)
    # The conflict in the full announcement concerns an undrawn subject here: invisible.
    (_, identifier), *_ = full["conflicts"]
    assert identifier not in drawn and identifier not in text


def test_unit_tokens_do_not_link_across_draws() -> None:
    """A token is per announcement: the same unit in two draws gives two tokens."""
    assert blinding.unit_token(KEY, "所1") != blinding.unit_token(bytes(32), "所1")
    assert blinding.unit_token(KEY, "") == ""


def _line_of(document: Doc, stratum: str, n: int = 0) -> dict[str, Any]:
    row: dict[str, Any] = document["opened"][stratum][n]
    return row


def _set_field(row: dict[str, Any], index: int, value: str) -> None:
    parts = row["line"].split("\t")
    parts[index] = value
    row["line"] = "\t".join(parts)


def _swap_salts(rows: list[dict[str, Any]]) -> None:
    rows[0]["salt"], rows[-1]["salt"] = rows[-1]["salt"], rows[0]["salt"]


FORGERIES: list[tuple[str, Callable[[Doc], Any], str]] = [
    ("other-stratum", lambda d: _set_field(_line_of(d, "A"), 1, "B"), "opened under"),
    ("other-region", lambda d: _set_field(_line_of(d, "A"), 2, "420281"), "not in the announced"),
    ("other-unit-token", lambda d: _set_field(_line_of(d, "A"), 3, "0" * 32), "not in the annou"),
    ("no-unit-token", lambda d: _set_field(_line_of(d, "A"), 3, ""), "not in the announced"),
    ("bar-added", lambda d: _set_field(_line_of(d, "A"), 4, "SAMR-00"), "not in the announced"),
    ("other-salt", lambda d: _line_of(d, "A").update(salt="00" * 32), "not in the announced"),
    ("path-shortened", lambda d: _line_of(d, "A")["path"].pop(), "not in the announced"),
    (
        "path-sibling-changed",
        lambda d: _line_of(d, "A")["path"].__setitem__(0, "ab" * 32),
        "not in the announced",
    ),
    (
        "position-moved",
        lambda d: _line_of(d, "A").update(position=_line_of(d, "A")["position"] + 1),
        "",
    ),
    ("leaf-dropped", lambda d: d["opened"]["A"].pop(), "does not open"),
    ("leaf-twice", lambda d: d["opened"]["A"].append(_line_of(d, "A")), "ascending position"),
    ("pool-included", lambda d: d.update(pool="x"), "for auditors only"),
    (
        "pairs-in-the-announcement",
        lambda d: d["announcement"].update(conflicts=[]),
        "belong to the full announcement",
    ),
    (
        "roster-unit-by-name",
        lambda d: d["announcement"]["roster"][0].__setitem__(3, "所0"),
        "unit token",
    ),
    (
        "roots-recommitted",
        lambda d: d["announcement"]["pool_roots"]["A"].update(root="cd" * 32),
        "announcement_hash",
    ),
    (
        "sizes-off",
        lambda d: d["announcement"]["pool_roots"]["B"].update(size=1),
        "do not add up",
    ),
    # Found by an independent attack: a roster id with a comma read as two bars; a
    # department twice (the last entry would win); categories as text ("" = none).
    ("roster-id-with-comma", lambda d: d["announcement"]["roster"][0].__setitem__(0, "a,b"), "id"),
    (
        "department-twice",
        lambda d: d["announcement"]["departments"].append(
            dict(d["announcement"]["departments"][0])
        ),
        "each department once",
    ),
    (
        "categories-as-text",
        lambda d: d["announcement"]["departments"][0].update(categories=""),
        "categories",
    ),
    # A source of a thousand results (福彩3D): the secret's maker could have picked one
    # that favours a chosen company (an independent attack moved 5 % to 7.5 %).
    (
        "weak-source",
        lambda d: d["announcement"]["entropy"].update(format=SHAPES["fc3d"].as_json()),
        "possible results",
    ),
    # A second attack: a lottery's format declared wider than it draws (3D's digits as
    # 0-999999) passed the ten-million rule; a known lottery must have its own shape.
    (
        "lottery-format-inflated",
        lambda d: d["announcement"]["entropy"].update(
            format={
                "groups": [{"name": "d", "count": 3, "low": 0, "high": 999999, "ordered": True}]
            }
        ),
        "whose drawings publish",
    ),
    # Salts of two opened leaves swapped: keyed order broken (and the leaves no longer hash).
    (
        "salts-out-of-order",
        lambda d: _swap_salts(d["opened"]["A"]),
        "do not rise with position",
    ),
    # Other numbers draw other positions, whose leaves the proof cannot open.
    ("entropy-changed", lambda d: d.update(entropy="01 09 14 22 27 31 | 08"), "does not open"),
]


@pytest.mark.parametrize(
    ("change", "named"), [(f[1], f[2]) for f in FORGERIES], ids=[f[0] for f in FORGERIES]
)
def test_each_forgery_of_a_public_proof_is_named(change: Callable[[Doc], Any], named: str) -> None:
    public, _ = both()
    forged = copy.deepcopy(public)
    change(forged)
    with contextlib.suppress(ValueError, KeyError, TypeError):
        reseal(forged)  # the forger's own recomputation, where it can be made
    problems = verify(forged)
    assert problems, "the forgery verified"
    assert any(named in p for p in problems), problems


def test_a_changed_result_is_named() -> None:
    public, _ = both()
    chosen = copy.deepcopy(public)
    chosen["result"]["selection"][0]["identifier"] = "91420202MA0000000X"
    assert any(p.startswith("selection[0]") for p in verify(chosen))
    swapped = copy.deepcopy(public)
    group = swapped["result"]["groups"][0]["inspectors"]
    group[0]["inspector_id"] = "SAMR-05" if group[0]["inspector_id"] != "SAMR-05" else "SAMR-04"
    assert any(p.startswith("groups[0]") for p in verify(swapped))
    leaked = copy.deepcopy(public)
    leaked["result"]["pool_hash"] = "0" * 64
    assert any("not part of this proof's result" in p for p in verify(leaked))


def test_an_opening_beyond_what_the_draw_used_is_named() -> None:
    """An operator who opens more leaves than the draw read discloses what is internal."""
    inputs = proof()
    public, _ = both(inputs)
    lines = inputs["pool"].split("\n")
    trees = blinding.Trees(inputs["announcement"], lines, KEY)
    drawn = {s["identifier"] for s in public["result"]["selection"]}
    spare = next(line.split("\t")[0] for line in lines if line.split("\t")[0] not in drawn)
    stratum, opened = trees.opening(spare)
    public["opened"].setdefault(stratum, []).append(opened)
    public["opened"][stratum].sort(key=lambda o: o["position"])
    assert any("not used by the draw" in p for p in verify(public))


def test_a_subject_replacement_opens_the_alternates_it_read() -> None:
    inputs = proof()
    gone = first_of(inputs, "A")
    honest = replaced(
        inputs,
        {
            "kind": "subject",
            "identifier": gone,
            "reason_code": "deregistered",
            "evidence": fact(1),
            "skipped": [],
        },
    )
    public, full = both(honest)
    assert verify(public) == [] and verify(full) == []
    newcomer = public["result"]["replacements"][0]["replacement"]
    assert newcomer in {o["line"].split("\t")[0] for o in public["opened"]["A"]}


FULL_FORGERIES: list[tuple[str, Callable[[Doc], Any], str]] = [
    (
        "conflict-dropped-behind-the-commitment",
        lambda d: d["full_announcement"].update(conflicts=[]),
        "announcement.private_hash",
    ),
    ("other-key", lambda d: d.update(blinding_key="11" * 32), "announcement.pool_roots"),
    (
        "unit-renamed-in-the-pool",
        lambda d: d.update(pool=d["pool"].replace("\t所1", "\t所9")),
        "pool_hash",
    ),
    (
        "roster-token-forged",
        lambda d: d["announcement"]["roster"][0].__setitem__(3, "0" * 32),
        "announcement.roster",
    ),
    ("no-key", lambda d: d.pop("blinding_key"), "blinding_key"),
    # An independent attack: roots slipped into the full announcement made the auditors'
    # form checks read it as public and skip its pairs; a conflict with a look-alike
    # identifier (not in the pool) barred nobody while the list seemed to hold it.
    (
        "roots-smuggled-into-the-full-announcement",
        lambda d: d["full_announcement"].update(pool_roots={}),
        "belongs to the public announcement",
    ),
    (
        "conflict-with-a-look-alike",
        lambda d: d["full_announcement"].update(
            conflicts=sorted([*d["full_announcement"]["conflicts"], ["SAMR-01", "91420O"]])
        ),
        "names no roster inspector and pool subject",
    ),
]


@pytest.mark.parametrize(
    ("change", "named"), [(f[1], f[2]) for f in FULL_FORGERIES], ids=[f[0] for f in FULL_FORGERIES]
)
def test_each_forgery_of_a_full_proof_is_named(change: Callable[[Doc], Any], named: str) -> None:
    """The full proof must be exactly what the public announcement committed to."""
    _, full = both()
    forged = copy.deepcopy(full)
    change(forged)
    problems = verify(forged)
    assert any(named in p for p in problems), problems


def test_a_subject_checks_its_own_line() -> None:
    inputs = proof()
    public, _ = both(inputs)
    lines = inputs["pool"].split("\n")
    trees = blinding.Trees(inputs["announcement"], lines, KEY)
    identifier, stratum = lines[5].split("\t")[:2]
    document = line_proof(public["announcement"], trees, identifier)
    problems, said = verify_line(document)
    assert problems == [] and f"{identifier} is leaf" in said and f"stratum {stratum}" in said
    moved = copy.deepcopy(document)
    moved["opened"]["position"] += 1
    assert verify_line(moved)[0]
    other = copy.deepcopy(document)
    other["stratum"] = "D" if stratum != "D" else "C"
    assert verify_line(other)[0]
    forged = copy.deepcopy(document)
    forged["announcement"]["min_group_size"] = 3
    assert any("announcement_hash" in p for p in verify_line(forged)[0])


def test_merkle_paths_follow_rfc_9162() -> None:
    """The tree hash of RFC 9162 §2.1.1 (recursive, split at the largest power of two),
    and every path proves its leaf at its index only."""

    def mth(leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return leaves[0]
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    for n in (1, 2, 3, 5, 8, 13):
        leaves = [hashlib.sha256(bytes([0, i])).digest() for i in range(n)]
        tree = merkle.levels(leaves)
        assert tree[-1][0] == mth(leaves)
        for i in range(n):
            path = merkle.path(tree, i)
            assert merkle.root_from_path(leaves[i], i, n, path) == tree[-1][0]
            assert all(
                merkle.root_from_path(leaves[i], j, n, path) != tree[-1][0]
                for j in range(n)
                if j != i
            )
    assert merkle.root([]) == hashlib.sha256(b"").digest()


def test_the_service_keeps_no_salt_or_key_in_the_public_announcement() -> None:
    public, full = both()
    assert full["blinding_key"] not in json.dumps(public)
    assert set(public["announcement"]) == (
        set(full["full_announcement"]) - set(blinding.PRIVATE_KEYS)
    ) | set(blinding.PUBLIC_KEYS)


def test_a_pool_of_sizes_and_lines_round_trips() -> None:
    """Strata of every size, empty ones included, give roots the verifier accepts."""
    lines = pool(37)
    inputs = proof(lines)
    public, full = both(inputs)
    assert verify(public) == [] and verify(full) == []
    sizes = {s: r["size"] for s, r in public["announcement"]["pool_roots"].items()}
    assert sum(sizes.values()) == 37 and sizes["*"] == 0


def test_leaves_stand_in_keyed_order_not_identifier_order() -> None:
    """An independent attack: with leaves in identifier order, an opened leaf's position
    told anyone who knows the pool's identifiers how many of its stratum sort before it,
    and so classes of subjects never drawn. The trees (and the sampling) now take each
    stratum in the order of the salts, which only the blinding key gives."""
    inputs = proof()
    lines = inputs["pool"].split("\n")
    by_key = blinding.keyed_members(lines, KEY)
    by_pool = {s: sorted(v) for s, v in by_key.items()}
    assert by_key["A"] != by_pool["A"] and sorted(by_key["A"]) == by_pool["A"]
    assert blinding.keyed_members(lines, bytes(32))["A"] != by_key["A"]
    public, _ = both(inputs)
    rows = public["opened"]["A"]
    names = [o["line"].split("\t")[0] for o in rows]  # by position
    assert names != sorted(names)
    assert [o["position"] for o in rows] == sorted(
        by_key["A"].index(lines.index(next(x for x in lines if x.startswith(n + "\t"))))
        for n in names
    )


def test_what_decides_nothing_is_not_published() -> None:
    """Unit tokens only under 所所交叉 and for units an inspector of the roster has; bars
    only on inspectors who could take a seat (an independent attack found both leaking)."""
    inputs = proof()
    full = inputs["announcement"]
    lines = inputs["pool"].split("\n")
    target = lines[0].split("\t")[0]
    # A conflict of an inspector of a department with no seat in the draw.
    outsider = [["EPB-00", "EPB", "420200", "所0", ["general", "key"]]]
    wider = {**full, "roster": sorted(full["roster"] + outsider)}
    wider["conflicts"] = sorted([*full["conflicts"], ["EPB-00", target]])
    assert "EPB-00" not in blinding.relevant_bars(wider, lines, blinding.bars_of(wider)).get(
        target, []
    )
    off = {**full, "rules": {**full["rules"], "cross_jurisdiction": False}}
    public = blinding.public_announcement(off, KEY, blinding.Trees(off, lines, KEY).roots())
    assert {row[3] for row in public["roster"]} == {""}
    trees = blinding.Trees(off, lines, KEY)
    assert trees.opening(target)[1]["line"].split("\t")[3] == ""


def test_a_skipped_list_has_one_form() -> None:
    """A second attack: ``skipped: false`` crashed the public verifier while the full one
    accepted it; an extra field in a skipped entry carried staff's words into the proof."""
    inputs = proof()
    honest = replaced(
        inputs,
        {
            "kind": "subject",
            "identifier": first_of(inputs, "A"),
            "reason_code": "deregistered",
            "evidence": fact(1),
            "skipped": [],
        },
    )
    public, full = both(honest)
    for form in (False, {}, [{"identifier": "x", "evidence": fact(2), "note": "领导交办"}]):
        for document in (public, full):
            forged = copy.deepcopy(document)
            forged["replacements"][0]["skipped"] = form
            assert any("skipped must be a list" in p for p in verify(forged)), form
