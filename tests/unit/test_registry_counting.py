"""The registry's subject counts over grouped subjects (services/registry/counting.py),
against a plain reading of the draw's pool rules, subject by subject. No I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.counting import CLASSES, SubjectCube

REGIONS = ("420202", "420203", "420222", "420302", "110101")
KINDS = ("for_profit", "non_profit", "non_market")
INDUSTRIES = ("F52", "F51", "C13", "H62")
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


def cube_of(population: list[tuple[Any, ...]]) -> SubjectCube:
    """The groups CUBE_SQL would return (closed subjects left out)."""
    groups = Counter(s for s in population if s[4] not in ("deregistered", "revoked", "cancelled"))
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
            for s, n in groups.items()
        ]
    )


@settings(max_examples=300, deadline=None)
@given(subjects, st.lists(pools, min_size=1, max_size=3))
def test_counts_equal_the_pool_rules_read_subject_by_subject(
    population: list[tuple[Any, ...]], query: list[dict[str, list[str]]]
) -> None:
    counted = cube_of(population).count(query)
    expected = Counter(s[3] for s in population if all(admits(p, s) for p in query))
    assert counted["per_risk_class"] == {c: expected.get(c, 0) for c in CLASSES}
    assert counted["total"] == sum(expected.values())


def test_closed_subjects_are_never_counted_and_empty_statuses_mean_operating() -> None:
    base = ("420202", "for_profit", "F52", "A")
    population = [
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
