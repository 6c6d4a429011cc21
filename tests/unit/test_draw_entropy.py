"""Public entropy as data (services/draw/protocol/entropy.py) and the sealed secret
(services/draw/sealing.py): pure, no service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.draw.domain.errors import InvalidDraw
from services.draw.domain.sources import EntropySource, check_scheduled
from services.draw.protocol.entropy import (
    SHAPES,
    EntropyError,
    EntropyFormat,
    canonical_text,
    numbers_bytes,
    parse_numbers,
    read_canonical,
    rfc3797_sources,
)
from services.draw.sealing import SealBroken, Sealer, new_secret

SSQ = SHAPES["ssq"]
SPELLINGS = [
    "03 09 14 22 27 31 + 08",
    "3 9 14 22 27 31 8",
    "03 09 14 22 27 31 08",
    "03,09,14,22,27,31,08",
    "03, 09, 14, 22, 27, 31 + 08",
    "03、09、14、22、27、31＋08",
    "０３ ０９ １４ ２２ ２７ ３１ ＋ ０８",
    "03 09 14 22 27 31 | 08",
    "03/09/14/22/27/31/08",
    "\t03 09 14 22 27 31\n08\n",
    "03;09;14;22;27;31;08",
    "003 009 014 022 027 031 008",
]


@pytest.mark.parametrize("typed", SPELLINGS)
def test_every_spelling_of_one_result_is_one_set_of_numbers(typed: str) -> None:
    numbers = parse_numbers(SSQ, typed)
    assert numbers == ((3, 9, 14, 22, 27, 31), (8,))
    assert numbers_bytes(numbers) == b"[[3,9,14,22,27,31],[8]]"
    assert canonical_text(SSQ, numbers) == "03 09 14 22 27 31 | 08"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("03 09 14 22 27 31 + 0\u200b8", "ZERO WIDTH SPACE"),
        ("03 09 14 22 27 31 + 08\u2060", "WORD JOINER"),
        ("\ufeff03 09 14 22 27 31 + 08", "ZERO WIDTH NO-BREAK SPACE"),
        ("03 09 14 22 27 31 + 08\u0000", r"U\+0000"),
        ("红球 03 09 14 22 27 31 蓝球 08", "not a digit"),
        ("03 09 14 22 27 31 + 08 (第2026141期)", "not a digit"),
        ("-3 9 14 22 27 31 8", "not a digit"),
        ("03 09 14 22 27 31", "7 numbers"),
        ("0309 14 22 27 31 08", "7 numbers"),
        ("03 09 14 22 27 31 08 09", "7 numbers"),
        ("09 03 14 22 27 31 08", "ascending"),
        ("03 03 14 22 27 31 08", "ascending"),
        ("00 09 14 22 27 31 08", "outside 1-33"),
        ("03 09 14 22 27 34 08", "outside 1-33"),
        ("03 09 14 22 27 31 17", "outside 1-16"),
    ],
)
def test_what_is_not_the_sources_numbers_is_refused_with_the_reason(typed: str, why: str) -> None:
    with pytest.raises(EntropyError, match=why):
        parse_numbers(SSQ, typed)


def test_a_sequence_keeps_its_order_and_repeats() -> None:
    fc3d = SHAPES["fc3d"]
    assert parse_numbers(fc3d, "7 0 7") == ((7, 0, 7),)
    assert parse_numbers(fc3d, "7 0 7") != parse_numbers(fc3d, "0 7 7")
    assert canonical_text(fc3d, ((7, 0, 7),)) == "7 0 7"


def test_the_proof_must_carry_the_numbers_in_canonical_form() -> None:
    assert read_canonical(SSQ, "03 09 14 22 27 31 | 08") == ((3, 9, 14, 22, 27, 31), (8,))
    for other in ("3 9 14 22 27 31 | 8", "03 09 14 22 27 31 + 08", "03 09 14 22 27 31 |08"):
        with pytest.raises(EntropyError, match="canonical form"):
            read_canonical(SSQ, other)


def test_each_group_is_one_rfc3797_source() -> None:
    assert rfc3797_sources(((3, 9, 14, 22, 27, 31), (8,))) == ["3 9 14 22 27 31", "8"]


@pytest.mark.parametrize(
    "value",
    [
        {"groups": []},
        {"groups": [{"name": "a", "count": 7, "low": 1, "high": 5, "ordered": False}]},
        {"groups": [{"name": "a", "count": True, "low": 1, "high": 5, "ordered": False}]},
        {"groups": [{"name": "a", "count": 1, "low": 1, "high": 5, "ordered": "false"}]},
        {"groups": [{"name": "a", "count": 1, "low": 5, "high": 5, "ordered": False}]},
        {"groups": [{"name": "a", "count": 1, "low": 1, "high": 5}]},
        {"groups": [{"name": "a b", "count": 1, "low": 1, "high": 5, "ordered": False}]},
        {"groups": [{"name": "a", "count": 1, "low": 1, "high": 5, "ordered": False}] * 2},
        {"groups": [{"name": "a", "count": 65, "low": 0, "high": 9, "ordered": True}]},
        {"groups": [], "extra": 1},
    ],
)
def test_a_format_is_read_strictly(value: object) -> None:
    with pytest.raises(ValueError):
        EntropyFormat.from_json(value)


def test_every_shape_reads_back_from_its_json() -> None:
    for shape in SHAPES.values():
        assert EntropyFormat.from_json(shape.as_json()) == shape


def test_a_sealed_secret_opens_only_under_its_key_draw_and_commitment() -> None:
    sealer = Sealer("a-deployment-key")
    secret = new_secret()
    assert len(secret) == 32 and secret != new_secret()
    sealed = sealer.seal(secret, "draw-1", "c1")
    assert secret.hex() not in sealed
    assert sealer.open(sealed, "draw-1", "c1") == secret
    for key, draw, committed in (
        ("another-key", "draw-1", "c1"),
        ("a-deployment-key", "draw-2", "c1"),
        ("a-deployment-key", "draw-1", "c2"),
    ):
        with pytest.raises(SealBroken):
            Sealer(key).open(sealed, draw, committed)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SealBroken):
        sealer.open(tampered, "draw-1", "c1")


def _ssq_source() -> EntropySource:
    return EntropySource(
        code="cwl-ssq",
        name="中国福利彩票双色球",
        publisher="中国福利彩票发行管理中心",
        format=SSQ.as_json(),
        schedule={"days": [2, 4, 7], "time": "21:15"},
    )


def test_a_scheduled_drawing_must_be_one_of_the_sources_times_and_far_enough_ahead() -> None:
    source = _ssq_source()
    now = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 Beijing time
    tuesday = datetime(2026, 12, 8, 13, 15, tzinfo=UTC)  # Tuesday 21:15 Beijing time
    lead = timedelta(minutes=10)
    check_scheduled(source, tuesday, now, lead)
    for wrong in (tuesday + timedelta(minutes=1), tuesday + timedelta(days=1)):
        with pytest.raises(InvalidDraw, match="draws on ISO weekdays"):
            check_scheduled(source, wrong, now, lead)
    with pytest.raises(InvalidDraw, match="at least 600 s"):
        check_scheduled(source, tuesday, tuesday - timedelta(minutes=5), lead)
    onsite = EntropySource(
        code="onsite", name="现场摇号", publisher="办公室", format=SSQ.as_json(), schedule=None
    )
    check_scheduled(onsite, now + timedelta(minutes=11), now, lead)


@pytest.mark.parametrize(
    "schedule",
    [{"days": [], "time": "21:15"}, {"days": [8], "time": "21:15"}, {"days": [1], "time": "9"}],
)
def test_a_schedule_is_read_strictly(schedule: dict) -> None:
    with pytest.raises(InvalidDraw):
        EntropySource(code="x", name="x", publisher="x", format=SSQ.as_json(), schedule=schedule)


def test_the_lead_cannot_be_set_below_its_floor_outside_development() -> None:
    from services.draw.settings import FLOOR_LEAD_SECONDS, DrawSettings

    assert DrawSettings(draw_min_lead=0).lead_seconds("production") == FLOOR_LEAD_SECONDS
    assert DrawSettings().lead_seconds("production") == 600
    assert DrawSettings(draw_min_lead=0).lead_seconds("development") == 0


def test_a_sources_issues_and_draw_times_rise_together() -> None:
    """An insider may not name a past issue (its numbers already public) under a future
    draw time: issues named before fix the order."""
    from services.draw.domain.sources import check_issue

    source = _ssq_source()
    tuesday = datetime(2026, 12, 8, 13, 15, tzinfo=UTC)
    thursday = tuesday + timedelta(days=2)
    named = [("2026141", tuesday)]
    check_issue(source, "2026142", thursday, named)
    check_issue(source, "2026141", tuesday, named)  # the same issue, the same time
    with pytest.raises(InvalidDraw, match="out of step"):
        check_issue(source, "2026140", thursday, named)  # a past issue, a later time
    with pytest.raises(InvalidDraw, match="was announced as drawn at"):
        check_issue(source, "2026141", thursday, named)


def test_a_source_needs_ten_million_possible_results() -> None:
    """Whoever fixes the secret may try many before announcing; with few results one
    can be picked that favours a company. 双色球 and 大乐透 are large enough, 3D is not."""
    assert SHAPES["ssq"].outcomes == 17_721_088 and SHAPES["ssq"].weakness() is None
    assert SHAPES["dlt"].outcomes == 21_425_712 and SHAPES["dlt"].weakness() is None
    assert SHAPES["fc3d"].outcomes == 1_000 and "1,000 possible results" in str(
        SHAPES["fc3d"].weakness()
    )
    assert SHAPES["pl5"].weakness() is not None
