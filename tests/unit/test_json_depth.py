"""The nesting depth of a JSON body, counted without parsing it (libs/common/bodyguard.py)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from libs.common.bodyguard import SMALL_BRACKETS, json_depth

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=30,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@given(JSON)
def test_the_depth_is_the_parsed_values_depth(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert json_depth(text.encode()) == depth_of(value)


def test_brackets_inside_strings_are_text() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": ["\\"[[[", "]"]}') == 2


def test_a_bomb_of_two_megabytes_is_measured_not_parsed() -> None:
    assert json_depth(b"[" * 2_000_000) == 2_000_000
    assert json_depth(b'{"a":' * 100_000 + b"1" + b"}" * 100_000) == 100_000


def test_a_string_that_never_closes_ends_the_count_in_linear_time() -> None:
    """The parser refuses the unclosed string before it recurses into anything in it; and
    seven hundred thousand escaped quotes that never close are scanned once, not once per
    quote (a required closing quote made this quadratic: hours, not milliseconds)."""
    assert json_depth(b'[["' + b"[" * 50) == 2
    assert json_depth(b'"\\' * 700_000) == 0
    assert json_depth(b'["\\' * 500_000) == 250_000  # half the brackets fall in strings


@given(st.lists(JSON, min_size=1, max_size=40))
def test_both_ways_of_counting_agree_around_the_small_body_limit(values: list[object]) -> None:
    """Few brackets are counted by a loop, many by numpy: the same depth either way."""
    for count in (SMALL_BRACKETS // 2 - 1, SMALL_BRACKETS // 2, SMALL_BRACKETS):
        value: object = [[v] for v in values] + [[]] * count
        text = json.dumps(value).encode()
        assert json_depth(text) == depth_of(value)
