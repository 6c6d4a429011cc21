"""Results in the national system's fields (services/disclosure/domain/national.py): the
wording kept equal to the results service's, the 备注, name-fragment keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

import pytest

from services.disclosure.domain import national
from services.disclosure.domain.public import OUTCOME_TEXT
from services.disclosure.results_api import Outcome
from services.disclosure.results_query import region_prefix
from services.results.domain.categories import (
    CATEGORIES,
    FOLLOW_UP_OUTCOMES,
    NON_COOPERATION,
    PENDING_KINDS,
    PROBLEM_CATEGORIES,
)


def test_wording_is_the_results_services_own() -> None:
    # Services do not import each other: the lists are kept equal here.
    assert national.NON_COOPERATION_TEXT == NON_COOPERATION
    assert national.PENDING_KIND_TEXT == PENDING_KINDS
    outcomes = {
        k: v for k, v in national.FOLLOW_UP_TEXT.items() if k not in ("ordered", "reinspected")
    }
    assert outcomes == {k: text for k, (text, _) in FOLLOW_UP_OUTCOMES.items()}
    assert set(get_args(Outcome)) == set(CATEGORIES)
    assert national.FOLLOWED_OUTCOMES == PROBLEM_CATEGORIES
    assert {k: OUTCOME_TEXT[k] for k in CATEGORIES} == CATEGORIES


def test_names_are_keyed_by_their_character_pairs_after_nfkc() -> None:
    assert national.normalise_name("黄石 市ＡＢＣ商贸") == "黄石市abc商贸"
    assert national.bigrams("黄石市黄石") == ["黄石", "石市", "市黄"]
    assert national.bigrams("黄") == []
    # A fragment's pairs are among the name's exactly when it could be inside it.
    name = national.bigrams("黄石市东方商贸有限公司")
    assert set(national.bigrams("东方商贸")) <= set(name)
    assert not set(national.bigrams("东商")) <= set(name)


def test_the_remark_says_what_the_category_leaves_open() -> None:
    assert (
        national.remark(pending_kind=None, non_cooperation_case=None, corrections=0, late=False)
        == ""
    )
    text = national.remark(
        pending_kind="correction_ordered",
        non_cooperation_case=None,
        corrections=1,
        late=True,
        follow_up=[
            {"step": "ordered", "on": "2026-10-01"},
            {"step": "reinspected", "on": "2026-10-20"},
            {"step": "transferred", "on": "2026-10-21", "receiving_department": "黄石市税务局"},
        ],
    )
    assert text == (
        "责令限期改正，待复查；后续处置：移交有管辖权的部门（黄石市税务局）（2026-10-21）；"
        "已更正1次；逾期公示"
    )
    refused = national.remark(
        pending_kind=None, non_cooperation_case="denied_entry", corrections=0, late=False
    )
    assert refused == f"不配合情形：{NON_COOPERATION['denied_entry']}"


def test_a_national_result_holds_its_allow_list_and_nothing_more() -> None:
    row = {f: f"v-{f}" for f in national.NATIONAL_RESULT_FIELDS}
    row.update(
        corrections=0,
        late=False,
        pending_kind=None,
        non_cooperation_case=None,
        inspecting_authority=None,
        department="SAMR",
        editions=[
            {
                "edition": 1,
                "published_on": "2026-12-01",
                "outcome": "no_problem",
                "outcome_text": "未发现问题",
                "reviewer": "x",
            }
        ],
        note="内部",
        reviewer="rev-1",
    )
    step = {"step": "ordered", "on": "2026-11-01", "documents": ["ab" * 32], "decision_no": "x"}
    shown = national.national_result(row, "未发现问题", [], [step])
    assert set(shown) == {*national.NATIONAL_RESULT_FIELDS, "findings", "follow_up", "editions"}
    assert shown["inspecting_authority"] == "SAMR"  # the code while the name is unknown
    assert shown["follow_up"] == [
        {
            "step": "ordered",
            "step_text": "责令限期改正",
            "on": "2026-11-01",
            "receiving_department": None,
        }
    ]
    assert set(shown["editions"][0]) == set(national.PUBLIC_EDITION_FIELDS)


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("420000", "42"),
        ("420200", "4202"),
        ("420202", "420202"),
        ("110100", "1101"),
        ("000000", "00"),
    ],
)
def test_a_region_covers_the_codes_under_it(region: str, prefix: str) -> None:
    assert region_prefix(region) == prefix


def test_the_portal_shows_times_in_beijing() -> None:
    from datetime import UTC, datetime

    from services.disclosure.portal.render import beijing, beijing_day

    late_evening_utc = datetime(2026, 12, 5, 17, 30, 5, 123456, tzinfo=UTC)
    assert beijing(late_evening_utc) == "2026-12-06 01:30:05"
    assert beijing_day(late_evening_utc) == "2026-12-06"
    assert beijing("2026-12-05T17:30:05+00:00") == "2026-12-06 01:30:05"
    assert beijing(None) == "" and beijing_day("") == ""


def test_a_day_ends_at_midnight_in_beijing_within_the_records_years() -> None:
    from datetime import UTC, date, datetime

    from services.disclosure.domain.days import InvalidDay, end_of_day

    assert end_of_day(date(2026, 3, 1)) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    for outside in (date(1999, 12, 31), date(9999, 12, 31)):
        with pytest.raises(InvalidDay):
            end_of_day(outside)


def test_export_files_of_dead_processes_are_swept(tmp_path: Path) -> None:
    """A file left by an export whose process died is removed at the next start; one of a
    live process (this one), or of no pid at all, is left alone."""
    import subprocess
    import sys

    from services.disclosure.application import EXPORT_PREFIX, sweep_exports

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    dead = tmp_path / f"{EXPORT_PREFIX}{gone}-abc.xlsx"
    live = tmp_path / f"{EXPORT_PREFIX}{os.getpid()}-def.csv"
    other = tmp_path / f"{EXPORT_PREFIX}old-style.csv"
    for path in (dead, live, other):
        path.write_text("x")
    assert sweep_exports(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_the_normal_form_of_a_normal_form_is_itself() -> None:
    """Removing a space can put a letter beside a combining mark that NFKC then composes
    (and a search key must have the pairs its stored name has)."""
    for text in ["a \u0308", "ㄱ ㅏ", "\u1100 \u1161", "Ae \u0301x有限公司", "ＡＢ 商贸", "㈱ ﬁ"]:
        key = national.normalise_name(text)
        assert national.normalise_name(key) == key, text
        assert national.bigrams(text) == national.pairs_of(key)
    assert national.normalise_name("a \u0308") == "ä"
