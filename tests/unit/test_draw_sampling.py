"""The service's vectorised sampler gives the protocol's draws, value for value.

The standalone verifier recomputes every draw with the reference sampler in
``services.draw.protocol.stream``; a single differing position would make an executed draw
fail verification, so equality is checked on random inputs, on the shapes where repeated
targets abound, and on the rare path where a value needs the exact rejection test.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.draw import sampling
from services.draw.protocol import stream as reference
from services.draw.protocol.stream import Stream


def both(seed: bytes, n: int, k: int, consumed: int = 0) -> tuple[Stream, Stream]:
    """Run both samplers on equal streams, with ``consumed`` values taken before."""
    ours, theirs = Stream(seed, "subjects/B"), Stream(seed, "subjects/B")
    for _ in range(consumed):
        assert ours.next_u64() == theirs.next_u64()
    assert sampling.sample(ours, n, k) == reference.sample(theirs, n, k), (n, k, consumed)
    return ours, theirs


def same_state(ours: Stream, theirs: Stream) -> None:
    assert (ours._counter, ours._buffer) == (theirs._counter, theirs._buffer)
    assert [ours.next_u64() for _ in range(9)] == [theirs.next_u64() for _ in range(9)]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    n=st.integers(min_value=1, max_value=2_000_000),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    consumed=st.integers(min_value=0, max_value=7),
)
def test_same_draws_and_stream_state_as_the_reference(
    seed: bytes, n: int, fraction: float, consumed: int
) -> None:
    k = min(n, int(n * fraction), 20_000)
    same_state(*both(seed, n, k, consumed))


@pytest.mark.parametrize(
    ("n", "k"),
    [(256, 256), (257, 256), (1000, 1000), (5000, 4999), (20_000, 4_000), (600_000, 6_000)],
)
def test_shapes_with_many_repeated_targets(n: int, k: int) -> None:
    """A whole shuffle (k = n) revisits almost every position: long chains of swaps."""
    for i in range(20):
        ours, theirs = both(hashlib.sha256(b"shape %d" % i).digest(), n, k, i % 4)
        same_state(ours, theirs)
    full = Stream(b"\x00" * 32, "x")
    assert sorted(sampling.sample(full, 1000, 1000)) == list(range(1000))


def test_values_needing_the_exact_rejection_test() -> None:
    """With n = 2⁵³ about one value in 2¹¹ lies at or above 2⁶⁴ − n; those draws must
    still match (the reference's exact test decides), and some must have been met."""
    n, k, met = 1 << 53, 300, 0
    for i in range(60):
        seed = hashlib.sha256(b"reject %d" % i).digest()
        probe = Stream(seed, "subjects/B")
        met += any(probe.next_u64() >= (1 << 64) - n for _ in range(k + 40))
        same_state(*both(seed, n, k))
    assert met >= 3, met


def test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="cannot draw 5 of 4"):
        sampling.sample(Stream(b"s", "x"), 4, 5)
    with pytest.raises(ValueError, match="cannot draw -1 of 4"):
        sampling.sample(Stream(b"s", "x"), 4, -1)


def test_the_services_keyed_order_is_the_protocols() -> None:
    """services/draw/keyed.py (NumPy) orders each stratum as the verifier's reference
    does (docs/draw-protocol.md §3a), ties in the first 8 bytes included."""
    import random as random_module

    from services.draw import keyed
    from services.draw.protocol import blinding

    rng = random_module.Random(5)
    lines = sorted(
        f"9142{i:014d}\t{rng.choice('*AAAABBCD')}\t420202\tU{rng.randrange(9)}" for i in range(5000)
    )
    for key in (bytes(32), bytes(range(32)), rng.randbytes(32)):
        assert keyed.keyed_members(lines, key) == blinding.keyed_members(lines, key)
    words = {s: [3, 1, 2] for s in "AB"}
    tied = bytes(8) + b"\x01" * 24 + bytes(8) + b"\x00" * 24 + bytes(32) + b"\x09" * 32
    assert blinding.order_by_salts(words, tied)["A"] == [1, 2, 3]  # 1 and 2 tie: pool order
