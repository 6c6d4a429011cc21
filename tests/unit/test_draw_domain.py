"""Draw domain: seeded sampling, strata, inspector groups."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from services.draw.domain.draw import Draw
from services.draw.domain.errors import NoValidGroup, PoolEmpty
from services.draw.domain.sampling import Sha256Stream, sample
from services.draw.domain.selection import (
    Candidate,
    Examiner,
    covers,
    draw_groups,
    select_subjects,
    stratum_count,
)
from tests.builders import make_uscc


def _pool(n: int, seed: int = 7) -> list[Candidate]:
    rng = random.Random(seed)
    classes = ["A"] * 60 + ["B"] * 30 + ["C"] * 8 + ["D"] * 2
    return [
        Candidate(f"s{i}", make_uscc(rng), f"公司{i}", "420202", classes[i % 100]) for i in range(n)
    ]


def _examiners() -> list[Examiner]:
    return [
        Examiner(f"{dept}-{i}", f"{dept}{i}", dept, "420200", ("general", "key"))
        for dept in ("SAMR", "TAX", "EPB")
        for i in range(4)
    ]


RATIOS = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}


def test_same_seed_and_pool_give_the_same_selection() -> None:
    pool = _pool(500)
    first = select_subjects(b"seed-1", pool, RATIOS)
    shuffled = list(reversed(pool))
    assert select_subjects(b"seed-1", shuffled, RATIOS) == first


def test_one_bit_of_seed_changes_the_selection() -> None:
    pool = _pool(500)
    a, _, _ = select_subjects(b"\x00" * 32, pool, RATIOS)
    b, _, _ = select_subjects(b"\x00" * 31 + b"\x01", pool, RATIOS)
    assert a != b


def test_each_stratum_is_drawn_at_its_ratio_rounded_up() -> None:
    pool = _pool(1000)
    selection, strata, digest = select_subjects(b"s", pool, RATIOS)
    assert {k: v["count"] for k, v in strata.items()} == {"A": 6, "B": 9, "C": 8, "D": 4}
    assert Counter(c.risk_class for c in selection) == {"A": 6, "B": 9, "C": 8, "D": 4}
    assert len(digest) == 64


def test_stratum_count_never_skips_a_nonempty_stratum_nor_exceeds_it() -> None:
    assert stratum_count(3, 0.01) == 1
    assert stratum_count(0, 0.5) == 0
    assert stratum_count(10, 1.0) == 10
    assert stratum_count(100, 0.03) == 3


def test_empty_pool_is_an_error() -> None:
    with pytest.raises(PoolEmpty):
        select_subjects(b"s", [], RATIOS)


def test_below_is_uniform_over_small_ranges() -> None:
    stream = Sha256Stream(b"uniform", "test")
    counts = Counter(stream.below(3) for _ in range(30_000))
    # chi-square with 2 degrees of freedom; 13.8 is the 0.001 critical value
    chi2 = sum((c - 10_000) ** 2 / 10_000 for c in counts.values())
    assert chi2 < 13.8


def test_sample_inclusion_does_not_depend_on_position() -> None:
    hits = Counter[int]()
    for s in range(4000):
        hits.update(sample(Sha256Stream(s.to_bytes(4, "big"), "p"), range(10), 2))
    # expected 800 each; chi-square, 9 degrees of freedom, 0.001 critical value 27.9
    chi2 = sum((hits[i] - 800) ** 2 / 800 for i in range(10))
    assert chi2 < 27.9


def test_jurisdiction_covers_subregions_only() -> None:
    assert covers("420000", "420202")
    assert covers("420200", "420202")
    assert covers("420202", "420202")
    assert not covers("420100", "420202")


def test_group_has_leader_from_initiating_and_member_from_each_participant() -> None:
    subjects = _pool(20)[:5]
    groups = draw_groups(b"g", subjects, _examiners(), "SAMR", ["TAX", "EPB"], {"general"})
    for group in groups:
        inspectors = group["inspectors"]
        assert isinstance(inspectors, list)
        assert inspectors[0]["role"] == "leader" and inspectors[0]["department"] == "SAMR"
        assert [i["department"] for i in inspectors[1:]] == ["TAX", "EPB"]


def test_workload_is_spread_evenly() -> None:
    subjects = _pool(200)[:12]
    groups = draw_groups(b"w", subjects, _examiners(), "SAMR", [], {"general"})
    load = Counter(i["inspector_id"] for g in groups for i in g["inspectors"])  # type: ignore[attr-defined]
    assert max(load.values()) - min(load.values()) <= 1
    assert all(len(g["inspectors"]) == 2 for g in groups)  # type: ignore[arg-type]


def test_no_group_when_no_inspector_has_jurisdiction_names_the_rule() -> None:
    far = [Examiner("x", "x", "SAMR", "110101", ("general",)) for _ in range(3)]
    with pytest.raises(NoValidGroup, match="jurisdiction"):
        draw_groups(b"g", _pool(5)[:1], far, "SAMR", [], {"general"})


def test_draw_is_reproducible_from_its_stored_seed() -> None:
    batch = {
        "batch_id": "b1",
        "plan_id": "p1",
        "year": 2026,
        "initiating_department": "SAMR",
        "participating_departments": ["TAX"],
        "items": [{"code": "I1", "category": "general"}],
        "ends_on": "2026-06-30",
        "ratios": RATIOS,
    }
    pool = _pool(300)
    draw = Draw.execute(batch=batch, seed=bytes(range(32)), pool=pool, examiners=_examiners())
    again = Draw.execute(
        batch=batch,
        seed=bytes.fromhex(draw.seed),
        pool=list(reversed(pool)),
        examiners=_examiners(),
    )
    assert again.selection == draw.selection
    assert again.groups == draw.groups
    assert again.pool_hash == draw.pool_hash


def test_inspector_with_a_conflict_of_interest_is_never_drawn_for_that_subject() -> None:
    subject = _pool(20)[0]
    examiners = _examiners()
    barred = {e.inspector_id for e in examiners[:2]}  # two of the four SAMR inspectors
    conflicts = frozenset((i, subject.subject_id) for i in barred)
    for seed in range(20):
        (group,) = draw_groups(
            seed.to_bytes(2, "big"), [subject], examiners, "SAMR", [], {"general"}, conflicts
        )
        drawn = {i["inspector_id"] for i in group["inspectors"]}  # type: ignore[attr-defined]
        assert not drawn & barred


def test_no_group_when_every_candidate_has_a_conflict_names_the_rule() -> None:
    subject = _pool(5)[0]
    examiners = _examiners()
    conflicts = frozenset((e.inspector_id, subject.subject_id) for e in examiners)
    with pytest.raises(NoValidGroup, match="conflicts of interest"):
        draw_groups(b"c", [subject], examiners, "SAMR", [], {"general"}, conflicts)
