"""Public wording of the national disclosure system."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import get_args

from services.disclosure.domain.national import NATIONAL_RESULT_FIELDS, national_result
from services.disclosure.domain.public import (
    OUTCOME_TEXT,
    PUBLIC_DRAW_FIELDS,
    REPLACEMENT_REASON_TEXT,
    VOID_REASON_TEXT,
    draw_status,
    inspection_type,
    outcome_text,
    public_draw,
    public_finding,
    public_replacement,
)
from services.draw.api import ReasonCode, VoidRequest
from services.draw.protocol.reasons import REPLACEMENT_REASONS, VOID_REASONS
from services.results.domain.categories import CATEGORIES
from services.results.domain.record import OUTCOMES


def test_every_result_code_has_its_public_wording() -> None:
    # Services do not import each other: the two lists are kept equal here.
    item_results = {"problem", "not_applicable"}
    assert set(OUTCOME_TEXT) == set(CATEGORIES) | item_results
    assert set(OUTCOMES) <= set(OUTCOME_TEXT)
    assert {code: OUTCOME_TEXT[code] for code in CATEGORIES} == CATEGORIES
    assert outcome_text("refused") == "不配合检查情节严重"


def test_unknown_code_is_shown_as_it_is_rather_than_hidden() -> None:
    assert outcome_text("new_code") == "new_code"


def test_inspection_type_names_directed_and_undirected_draws() -> None:
    assert inspection_type(True) == "定向抽查"
    assert inspection_type(False) == "不定向抽查"


def test_replacement_reasons_are_one_fixed_list_in_draw_and_disclosure() -> None:
    assert list(REPLACEMENT_REASON_TEXT) == list(REPLACEMENT_REASONS)
    assert REPLACEMENT_REASON_TEXT == REPLACEMENT_REASONS
    assert get_args(ReasonCode) == tuple(REPLACEMENT_REASONS)


def test_void_reasons_are_one_fixed_list_in_draw_and_disclosure() -> None:
    assert VOID_REASON_TEXT == VOID_REASONS
    assert get_args(VoidRequest.model_fields["reason_code"].annotation) == tuple(VOID_REASONS)


def test_a_draw_is_announced_executed_voided_or_overdue() -> None:
    now = datetime(2026, 12, 9, tzinfo=UTC)
    due = {"entropy_not_before": "2026-12-08T13:15:00+00:00"}
    assert draw_status(due, datetime(2026, 12, 8, 14, tzinfo=UTC)) == "announced"
    assert draw_status(due, now + timedelta(hours=14)) == "overdue"
    assert draw_status({**due, "voided_at": "x"}, now + timedelta(days=9)) == "voided"
    assert draw_status({**due, "executed_at": "x"}, now + timedelta(days=9)) == "executed"
    voided = public_draw(
        {**due, "voided_at": "2026-12-08T10:00:00+00:00", "void_reason_code": "pool_error"}
    )
    assert (voided["status"], voided["void_reason_text"]) == ("voided", "抽查对象库有误")


def test_a_public_draw_copies_only_allow_listed_fields() -> None:
    row = {
        "draw_id": "d",
        "executed_at": "2026-11-26T08:00:00+00:00",
        "seed": "ab",
        "internal": "x",
        "subjects": [
            {
                "subject_id": "s",
                "identifier": "91420202MA4K0C7Q3D",
                "name": "黄石市某商贸有限公司",
                "stratum": "A",
                "region_code": "420202",
                "inspectors": [
                    {
                        "inspector_id": "i",
                        "name": "张三",
                        "department": "SAMR",
                        "role": "leader",
                        "contact": "13800001234",
                    }
                ],
            }
        ],
        # As rows were written before the allow-list: staff's words and the approver.
        "replacements": [
            {
                "kind": "inspector",
                "subject": "91420202MA4K0C7Q3D",
                "reason": "该员正接受纪检调查",
                "approver": "张局长 13800001234",
                "replaced_at": "2026-11-27T08:00:00+00:00",
            }
        ],
    }
    shown = public_draw(row)
    assert set(shown) == {
        *PUBLIC_DRAW_FIELDS,
        "status",
        "void_reason_text",
        "subjects",
        "replacements",
    }
    assert "13800001234" not in json.dumps(shown, ensure_ascii=False)
    assert "纪检" not in json.dumps(shown, ensure_ascii=False)
    assert shown["replacements"] == [
        {
            "kind": "inspector",
            "subject": "91420202MA4K0C7Q3D",
            "reason_code": "other",
            "reason_text": "其他",
            "replaced_at": "2026-11-27T08:00:00+00:00",
        }
    ]
    assert (
        public_replacement({"kind": "subject", "identifier": "x", "reason_code": "revoked"}, None)[
            "reason_text"
        ]
        == "吊销"
    )


def test_a_public_result_shows_findings_without_the_inspectors_note() -> None:
    row = {
        "record_id": "r",
        "outcome": "problem_pending",
        "findings": [
            {
                "item_code": "SAMR-1",
                "outcome": "problem_pending",
                "note": "线索来自举报人王某 13800001234，移交稽查",
            }
        ],
        "recorded_by_department": "SAMR",
    }
    findings = [public_finding(f) for f in row["findings"]]
    shown = national_result(row, "发现问题待后续处理", findings, [])
    assert set(shown) == {*NATIONAL_RESULT_FIELDS, "findings", "follow_up", "editions"}
    assert shown["findings"] == [
        {"item_code": "SAMR-1", "outcome": "problem_pending", "outcome_text": "发现问题待后续处理"}
    ]


def test_a_public_draws_items_carry_their_documented_fields_only() -> None:
    row = {
        "items": [
            {"code": "S-1", "category": "general", "ratio": 0.05, "name": "x", "department": "SAMR"}
        ]
    }
    assert public_draw(row)["items"] == [{"code": "S-1", "category": "general", "ratio": 0.05}]
