"""Fairness of protocol ssj-draw-2, tested statistically over many fixed seeds.

The seeds are fixed, so these tests are deterministic: they fail only if the sampler is
biased (or changes), never by bad luck on a given day. The significance level is 0.001.

Selecting k of n without replacement makes the inclusion counts negatively correlated, so
the plain Pearson statistic is rescaled to its χ² form (derivations in the test docstrings).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.draw.protocol import canonical as c
from services.draw.protocol.proof import run
from services.draw.protocol.subjects import select, stratum_count
from tests.builders import make_uscc

ALPHA_Z = 3.090232  # upper 0.001 quantile of the standard normal
SEEDS = [c.derive_seed("00" * 32, bytes(32), f"seed {i}") for i in range(3000)]


def chi2_critical(df: int) -> float:
    """Upper 0.001 critical value of χ²(df), Wilson–Hilferty approximation (within 1 %
    of the tables for df ≥ 3)."""
    h = 2 / (9 * df)
    return df * (1 - h + ALPHA_Z * math.sqrt(h)) ** 3


def test_chi2_critical_matches_the_tables() -> None:
    # Tabulated 0.001 critical values: df 9 → 27.877, df 29 → 58.301, df 99 → 148.230.
    for df, table in ((9, 27.877), (29, 58.301), (99, 148.230)):
        assert abs(chi2_critical(df) - table) / table < 0.01


def _pool(sizes: dict[str, int], seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    regions = ["420202", "420203", "420204", "420205", "420222", "420281"]
    return c.sort_pool(
        c.pool_line(make_uscc(rng, regions[i % len(regions)]), stratum, regions[i % 6], "")
        for stratum, n in sizes.items()
        for i in range(n)
    )


def test_every_subject_is_included_at_its_stratum_ratio() -> None:
    """For each stratum with n members and k drawn, each member's inclusion count O_i over
    S draws has mean S·p (p = k/n), variance S·p(1−p) and covariance −S·p(1−p)/(n−1);
    then Q = (n−1)/n · Σ (O_i − S·p)² / (S·p(1−p)) is approximately χ²(n−1)."""
    sizes = {"A": 100, "B": 60, "C": 30, "D": 10}
    strata = {
        "A": {"ratio": "0.05"},
        "B": {"ratio": "0.1"},
        "C": {"ratio": "0.2"},
        "D": {"ratio": "0.3"},
    }
    lines = _pool(sizes)
    members = {
        s: [line.split("\t")[0] for line in lines if line.split("\t")[1] == s] for s in sizes
    }
    counts: Counter[str] = Counter()
    for seed in SEEDS:
        picked, _ = select(seed, lines, strata)
        counts.update(p.identifier for p in picked)
    draws = len(SEEDS)
    for stratum, ids in members.items():
        n = len(ids)
        k = stratum_count(n, strata[stratum])
        p = k / n
        q = (n - 1) / n * sum((counts[i] - draws * p) ** 2 for i in ids) / (draws * p * (1 - p))
        assert q < chi2_critical(n - 1), f"stratum {stratum}: Q = {q:.1f}"
        assert sum(counts[i] for i in ids) == draws * k


def test_selection_does_not_depend_on_position_in_region_order() -> None:
    """USCCs begin with the region code, so the canonical (identifier) order is region
    order: exactly where 'every k-th record' systems never reach the last regions. With
    the pool cut into D equal deciles, the per-draw decile counts are multivariate
    hypergeometric; Σ (O_d − E)² / E divided by (n−k)/(n−1) is approximately χ²(D−1)."""
    lines = _pool({"A": 1000})
    regions = [line.split("\t")[2] for line in lines]
    assert regions == sorted(regions)  # the pool really is in region order
    n, k, deciles = 1000, 20, 10
    observed = [0] * deciles
    last_region_hits = 0
    for seed in SEEDS:
        picked, _ = select(seed, lines, {"A": {"count": k}})
        for p in picked:
            observed[p.position * deciles // n] += 1
            last_region_hits += regions[p.position] == regions[-1]
    expected = len(SEEDS) * k / deciles
    q = sum((o - expected) ** 2 / expected for o in observed) / ((n - k) / (n - 1))
    assert q < chi2_critical(deciles - 1), f"Q = {q:.1f}, deciles {observed}"
    share_of_last_region = regions.count(regions[-1]) / n
    assert last_region_hits > 0.8 * share_of_last_region * k * len(SEEDS)


def _proof(lines: list[str], entropy: str, secret: bytes = bytes(range(32))) -> dict[str, Any]:
    announcement = {
        "protocol": c.PROTOCOL_V2,
        "pool_hash": c.pool_hash(lines),
        "pool_size": len(lines),
        "strata": {
            "A": {"ratio": "0.01"},
            "B": {"ratio": "0.03"},
            "C": {"ratio": "0.1"},
            "D": {"ratio": "0.2"},
        },
        "departments": [{"department": "SAMR", "categories": []}],
        "min_group_size": 2,
        "rules": {},
        "roster": [[f"i{k}", "SAMR", "420000", "", []] for k in range(10)],
        "conflicts": [],
        "previous": [],
        "commitment": c.commitment(bytes(range(32))),
        "entropy_source": "test",
    }
    return {
        "announcement": announcement,
        "pool": "\n".join(lines),
        "secret": secret.hex(),
        "entropy": entropy,
        "replacements": [],
    }


def test_same_inputs_give_the_same_output_whatever_order_the_pool_arrives_in() -> None:
    lines = _pool({"A": 600, "B": 300, "C": 80, "D": 20})
    first = run(_proof(lines, "05 11 17 23 29 33 + 12"))
    shuffled = list(lines)
    random.Random(3).shuffle(shuffled)
    assert run(_proof(c.sort_pool(shuffled), "05 11 17 23 29 33 + 12")) == first


def test_one_bit_of_entropy_or_secret_changes_the_result() -> None:
    lines = _pool({"A": 600, "B": 300, "C": 80, "D": 20})
    entropy = "05 11 17 23 29 33 + 12"
    base = run(_proof(lines, entropy))["selection"]
    for at, char in enumerate(entropy):
        if char.isdigit():  # flipping bit 0 of a digit gives another digit
            flipped = entropy[:at] + chr(ord(char) ^ 1) + entropy[at + 1 :]
            assert run(_proof(lines, flipped))["selection"] != base, flipped
    secret = bytearray(range(32))
    secret[31] ^= 1
    assert run(_proof(lines, entropy, bytes(secret)))["selection"] != base


@given(
    st.dictionaries(st.sampled_from("ABCD"), st.integers(min_value=0, max_value=120), min_size=1),
    st.dictionaries(
        st.sampled_from("ABCD"), st.sampled_from(["0.01", "0.03", "0.1", "0.2", "0.5", "1"])
    ),
    st.integers(min_value=0, max_value=2**32),
)
@settings(max_examples=40, deadline=None)
def test_counts_and_membership_hold_for_any_pool(
    sizes: dict[str, int], ratios: dict[str, str], salt: int
) -> None:
    lines = _pool(sizes, seed=salt)
    strata = {s: {"ratio": r} for s, r in ratios.items()}
    picked, summary = select(salt.to_bytes(32, "big"), lines, strata)
    for stratum, n in sizes.items():
        expected = stratum_count(n, strata[stratum]) if stratum in strata else 0
        assert summary[stratum] == {"pool": n, "count": expected}
        assert sum(p.stratum == stratum for p in picked) == expected
    assert len({p.identifier for p in picked}) == len(picked)
    assert all(lines[p.position].startswith(p.identifier + "\t" + p.stratum) for p in picked)
