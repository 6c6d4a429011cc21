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
        # Parsed by Python, refused by PostgreSQL (found by an adversarial review: 500s):
        encode_cursor(["0001-01-01T00:00:00+01:00", str(uuid.uuid4())]),  # before year 1 in UTC
        encode_cursor(["9999-12-31T23:59:59-01:00", str(uuid.uuid4())]),  # after 9999 in UTC
        encode_cursor(["2026-12-01T00:00:00\x00", str(uuid.uuid4())]),
    ],
)
def test_a_forged_cursor_is_refused(token: str) -> None:
    with pytest.raises(Problem) as refused:
        decode_cursor(token, (datetime.fromisoformat, uuid.UUID))
    assert refused.value.status == 422


@pytest.mark.parametrize("text", ["黄石\x00", "\ud800", 7])
def test_a_cursors_text_is_text_postgresql_takes(text: object) -> None:
    import base64
    import json

    raw = json.dumps(["2026-12-01T00:00:00+00:00", text]).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(Problem) as refused:
        decode_cursor(token, (datetime.fromisoformat, str))
    assert refused.value.status == 422
