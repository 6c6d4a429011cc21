"""Keyset cursors (libs/common/paging.py): opaque, typed on the way back, and a forged one
is a 422 before it reaches SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from libs.common.paging import decode_cursor, encode_cursor
from libs.common.problems import Problem


def test_a_cursor_round_trips_its_typed_values() -> None:
    when = datetime(2026, 12, 5, 19, 56, 58, 863570, tzinfo=UTC)
    key = uuid.uuid4()
    token = encode_cursor([when, key, "黄石"])
    assert token.replace("-", "").replace("_", "").isalnum()  # URL-safe, no padding
    assert decode_cursor(token, (datetime.fromisoformat, uuid.UUID, str)) == [when, key, "黄石"]


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        encode_cursor(["2026-13-01", str(uuid.uuid4())]),  # no such month
        encode_cursor(["2026-12-01T00:00:00+00:00", "not-a-uuid"]),
        encode_cursor(["2026-12-01T00:00:00+00:00"]),  # one value short
        "eyJhIjoxfQ",  # {"a":1}: not a list
        "_w",  # not UTF-8
    ],
)
def test_a_forged_cursor_is_refused(token: str) -> None:
    with pytest.raises(Problem) as refused:
        decode_cursor(token, (datetime.fromisoformat, uuid.UUID))
    assert refused.value.status == 422
