"""The registry's subject counts over grouped subjects (services/registry/counting.py),
against a plain reading of the draw's pool rules, subject by subject. No I/O."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry import counting
from services.registry.counting import CLASSES, LAST_PAGE, Pool, SubjectCube, page_ranges, traits

REGIONS = ("420202", "420203", "420222", "420302", "110101")
KINDS = ("for_profit", "non_profit", "non_market")
INDUSTRIES = ("F52", "F51", "F", "C13", "H62")
STATUSES = ("operating", "moved_out", "deregistered", "revoked", "cancelled")
TAGS = ("food", "cold", "kids")

subjects = st.lists(
    st.tuples(
        st.sampled_from(REGIONS),
        st.sampled_from(KINDS),
        st.sampled_from(INDUSTRIES),
        st.sampled_from(CLASSES),
        st.sampled_from(STATUSES),
        st.booleans(),
        st.booleans(),
        st.frozensets(st.sampled_from(TAGS), max_size=2),
    ),
    max_size=60,
)
pools = st.fixed_dictionaries(
    {},
    optional={
        "region_prefixes": st.lists(st.sampled_from(("42", "4202", "420222", "4203", "11"))),
        "kinds": st.lists(st.sampled_from(KINDS), max_size=2),
        "industries": st.lists(st.sampled_from(("F", "F52", "C", "H62")), max_size=2),
        "risk_classes": st.lists(st.sampled_from(CLASSES), max_size=2),
        "tags": st.lists(st.sampled_from(TAGS), max_size=2),
        "statuses": st.lists(st.sampled_from(STATUSES), max_size=2),
        "flags": st.lists(st.sampled_from(("abnormal_operation", "serious_violation")), max_size=1),
    },
)


def admits(pool: Mapping[str, Sequence[str]], s: tuple[Any, ...]) -> bool:
    """The draw's rule (services/draw/freeze.py MATCHES), for one subject."""
    region, kind, industry, risk, status, abnormal, serious, tags = s
    statuses = [
        x
        for x in (pool.get("statuses") or ["operating"])
        if x
        not in (
            "deregistered",
            "revoked",
            "cancelled",
        )
    ]
    flags = pool.get("flags") or []
    return (
        status in statuses
        and (
            not pool.get("region_prefixes")
            or any(region.startswith(p) for p in pool["region_prefixes"])
        )
        and (not pool.get("kinds") or kind in pool["kinds"])
        and (not pool.get("industries") or any(industry.startswith(p) for p in pool["industries"]))
        and (not pool.get("risk_classes") or risk in pool["risk_classes"])
        and (not pool.get("tags") or bool(tags & set(pool["tags"])))
        and (
            not flags
            or (abnormal and "abnormal_operation" in flags)
            or (serious and "serious_violation" in flags)
        )
    )


def reference(population: list[tuple[Any, ...]], query: Sequence[Pool]) -> dict[str, Any]:
    """The count of a query read subject by subject."""
    found = Counter(s[3] for s in population if all(admits(p, s) for p in query))
    return {"total": found.total(), "per_risk_class": {c: found.get(c, 0) for c in CLASSES}}


def groups_of(population: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    """The groups CUBE_SQL makes (closed subjects left out), with their sizes."""
    return Counter(s for s in population if s[4] not in ("deregistered", "revoked", "cancelled"))


def cube_of(population: list[tuple[Any, ...]]) -> SubjectCube:
    """The cube from one mapping per group."""
    keys = ("region_code", "kind", "industry", "risk_class", "status")
    return SubjectCube.from_rows(
        [
            {
                **dict(zip(keys, s[:5], strict=True)),
                "abnormal_operation": s[5],
                "serious_violation": s[6],
                "tags": sorted(s[7]),
                "n": n,
            }
            for s, n in groups_of(population).items()
        ]
    )


def aggregates_of(population: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The one row CUBE_SQL returns: texts joined by line breaks (jsonb's text of the tags,
    which json.dumps writes alike), counts an array; all NULL when there is no group."""
    groups = list(groups_of(population).items())
    if not groups:
        return dict.fromkeys(("region_code", "industry", "tags", "traits", "n"))
    texts = {
        "region_code": [s[0] for s, _ in groups],
        "industry": [s[2] for s, _ in groups],
        "tags": [json.dumps(sorted(s[7])) for s, _ in groups],
        "traits": [traits(s[1], s[3], s[4], int(s[5]) + 2 * int(s[6])) for s, _ in groups],
    }
    return {**{k: "\n".join(v) for k, v in texts.items()}, "n": [n for _, n in groups]}


@settings(max_examples=300, deadline=None)
@given(subjects, st.lists(pools, min_size=1, max_size=3))
def test_counts_equal_the_pool_rules_read_subject_by_subject(
    population: list[tuple[Any, ...]], query: list[dict[str, list[str]]]
) -> None:
    expected = reference(population, query)
    half = len(population) // 2
    halves = [aggregates_of(population[:half]), aggregates_of(population[half:])]
    for cube in (
        cube_of(population),
        SubjectCube.from_aggregates([aggregates_of(population)]),
        # Two ranges of pages grouped apart: a group may come in two parts.
        SubjectCube.from_aggregates(halves),
    ):
        assert cube.count(query) == expected


def test_closed_subjects_are_never_counted_and_empty_statuses_mean_operating() -> None:
    base = ("420202", "for_profit", "F52", "A")
    population: list[tuple[Any, ...]] = [
        (*base, "operating", False, False, frozenset()),
        (*base, "moved_out", False, False, frozenset()),
        (*base, "revoked", False, False, frozenset()),
    ]
    cube = cube_of(population)
    assert cube.count([{}])["total"] == 1
    assert cube.count([{"statuses": ["moved_out", "revoked"]}])["total"] == 1
    assert cube.subjects == 2


def test_an_overlap_counts_subjects_matching_every_pool() -> None:
    population = [
        ("420202", "for_profit", "F52", "B", "operating", False, False, frozenset({"food"})),
        ("420202", "for_profit", "F52", "B", "operating", False, False, frozenset({"cold"})),
        (
            "420202",
            "for_profit",
            "F52",
            "B",
            "operating",
            False,
            False,
            frozenset({"food", "cold"}),
        ),
        ("420302", "for_profit", "F52", "C", "operating", True, False, frozenset({"food"})),
    ]
    cube = cube_of(population)
    food, cold = {"tags": ["food"]}, {"tags": ["cold"]}
    assert cube.count([food])["total"] == 3
    assert cube.count([food, cold])["per_risk_class"] == {"A": 0, "B": 1, "C": 0, "D": 0}
    assert (
        cube.count([{"region_prefixes": ["4203"]}, {"flags": ["abnormal_operation"]}])["total"] == 1
    )


def _subject(region: str = "420202", industry: str = "F52", risk: str = "A", **kw: Any) -> tuple:
    """One subject as the tests above read it (operating, on no list, no tags)."""
    return (
        region,
        kw.get("kind", "for_profit"),
        industry,
        risk,
        kw.get("status", "operating"),
        kw.get("abnormal", False),
        kw.get("serious", False),
        frozenset(kw.get("tags", ())),
    )


def test_regions_and_industries_match_by_prefix() -> None:
    cube = cube_of(
        [
            _subject("420202", "F52"),
            _subject("420203", "F51"),
            _subject("420302", "F", "B"),
            _subject("110101", "C13", "C"),
        ]
    )
    totals = [
        cube.count([pool])["total"]
        for pool in (
            {"region_prefixes": ["42"]},
            {"region_prefixes": ["4202"]},
            {"region_prefixes": ["420203", "11"]},
            {"region_prefixes": ["4204"]},
            {"industries": ["F"]},
            {"industries": ["F52", "C"]},
            # A subject filed under the section only is no division's.
            {"industries": ["F5"]},
        )
    ]
    assert totals == [3, 2, 2, 0, 3, 2, 2]


def test_tags_and_lists_match_any_of_those_given() -> None:
    cube = cube_of(
        [
            _subject(tags={"food"}),
            _subject(tags={"cold"}, risk="B"),
            _subject(tags={"food", "kids"}, risk="C"),
            _subject(abnormal=True, risk="D"),
            _subject(serious=True),
            _subject(abnormal=True, serious=True, risk="B"),
            _subject(),
        ]
    )
    assert cube.count([{"tags": ["food", "cold"]}])["total"] == 3
    assert cube.count([{"tags": ["kids"]}])["per_risk_class"] == {"A": 0, "B": 0, "C": 1, "D": 0}
    assert cube.count([{"tags": ["ghost"]}])["total"] == 0
    assert cube.count([{"flags": ["abnormal_operation"]}])["total"] == 2
    both = {"flags": ["abnormal_operation", "serious_violation"]}
    assert cube.count([both])["total"] == 3
    # Within a pool the filters all apply; across a query's pools too.
    assert cube.count([{"flags": ["serious_violation"], "risk_classes": ["B"]}])["total"] == 1
    assert cube.count([{"tags": ["food"]}, {"risk_classes": ["A", "D"]}])["total"] == 1


def test_an_empty_directory_counts_nothing() -> None:
    cube = SubjectCube.from_aggregates([aggregates_of([]), aggregates_of([])])
    assert cube.subjects == 0
    assert cube.count([{}, {"tags": ["food"]}]) == {
        "total": 0,
        "per_risk_class": dict.fromkeys(CLASSES, 0),
    }


def test_a_line_break_in_a_grouped_column_is_refused_not_miscounted() -> None:
    row = aggregates_of([_subject(), _subject("420203")])
    row["region_code"] = "420202\n420203\nX"
    with pytest.raises(ValueError, match="region_code"):
        SubjectCube.from_aggregates([row])


def test_counts_stay_right_when_the_mask_cache_is_full_and_threads_share_the_cube(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(counting, "MASK_BYTES", 1)  # 16 masks at most: most are not kept
    population = [
        _subject(r, i, c, tags={"food"} if k % 3 else set(), abnormal=k % 5 == 0)
        for k, (r, i, c) in enumerate(
            (r, i, c) for r in REGIONS for i in INDUSTRIES for c in CLASSES
        )
    ]
    pools = [
        [{"region_prefixes": [r[:k]]}, {"industries": [i[:1]], "tags": ["food"]}]
        for r in REGIONS
        for k in (2, 4, 6)
        for i in INDUSTRIES
    ]
    shared = cube_of(population)
    with ThreadPoolExecutor(4) as threads:
        answers = list(threads.map(shared.count, pools * 4))
    assert answers == [reference(population, q) for q in pools] * 4


@pytest.mark.parametrize(("pages", "parts"), [(0, 2), (1, 2), (24_676, 2), (10, 3), (5, 1)])
def test_page_ranges_cover_every_page_once_the_last_open(pages: int, parts: int) -> None:
    ranges = page_ranges(pages, parts)
    assert len(ranges) == parts
    assert ranges[0][0] == (0, 0) and ranges[-1][1] == (LAST_PAGE, 0)
    assert all(a[1] == b[0] for a, b in pairwise(ranges))
    sizes = [hi[0] - lo[0] for lo, hi in ranges[:-1]]
    assert all(abs(size - pages / parts) < 1 for size in sizes)
