"""Subject directory 检查对象名录库: identifiers, code tables, history, lists; conflicts."""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from services.registry.domain.conflicts import Conflict
from services.registry.domain.errors import InvalidIdentifier, InvalidRecord
from services.registry.domain.industries import require_industry
from services.registry.domain.inspectors import Inspector
from services.registry.domain.regions import require_region
from services.registry.domain.subjects import Subject
from services.registry.imports.columns import INSPECTOR_COLUMNS, SUBJECT_COLUMNS, header_map
from services.registry.imports.validate import inspector_row, subject_row
from tests.builders import inspector_payload, subject_payload


def _subject(**overrides: Any) -> Subject:
    fields = {
        "legal_form": "有限责任公司",
        "address": "黄石市黄石港区某路1号",
        "legal_representative": "张三",
        "status": "operating",
        "tags": [],
        "abnormal_operation": False,
        "serious_violation": False,
        **subject_payload(random.Random(5), "B"),
        **overrides,
    }
    return Subject.register(**fields)


def test_uscc_with_a_wrong_check_digit_is_rejected() -> None:
    good = subject_payload(random.Random(6))["identifier"]
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    with pytest.raises(InvalidIdentifier, match="USCC"):
        _subject(identifier=bad)


def test_non_market_subjects_use_their_own_identifier_scheme() -> None:
    subject = _subject(kind="non_market", identifier="PRODUCT-2026-000123")
    assert subject.identifier == "PRODUCT-2026-000123"
    with pytest.raises(InvalidIdentifier):
        _subject(kind="non_market", identifier="no scheme")


def test_unknown_region_code_is_rejected() -> None:
    with pytest.raises(InvalidRecord, match="unknown region code"):
        _subject(region_code="429999")


def test_subject_region_must_be_county_level() -> None:
    with pytest.raises(InvalidRecord, match="county-level"):
        _subject(region_code="420200")


def test_region_table_knows_province_city_and_county_levels() -> None:
    assert require_region("420000").name == "湖北省"
    assert require_region("420200").level == "city"
    assert require_region("429004").name == "仙桃市"  # 省直辖县级行政单位


@pytest.mark.parametrize("code", ["F", "F52", "C13", "T98"])
def test_industry_sections_and_their_divisions_are_accepted(code: str) -> None:
    assert require_industry(code) == code


@pytest.mark.parametrize("code", ["Z", "F13", "C44", "f52", "F5"])
def test_industry_division_outside_its_section_is_rejected(code: str) -> None:
    with pytest.raises(InvalidRecord):
        require_industry(code)


def test_risk_class_changes_keep_their_history() -> None:
    subject = _subject()
    assert subject.classify("D", "抽查发现严重问题", date(2026, 5, 1))
    assert not subject.classify("D", "again", date(2026, 5, 2))
    assert subject.risk_history == [
        {"from": "B", "to": "D", "reason": "抽查发现严重问题", "effective_on": "2026-05-01"}
    ]


def test_status_change_is_its_own_event_and_never_a_deletion() -> None:
    subject = _subject()
    subject.collect_events()
    assert subject.change_status("deregistered", "注销登记")
    (event,) = subject.collect_events()
    assert type(event).__name__ == "SubjectStatusChanged"
    assert subject.status == "deregistered"


def test_listing_needs_a_reason_and_records_only_changes() -> None:
    subject = _subject()
    with pytest.raises(InvalidRecord, match="reason"):
        subject.set_listing("abnormal_operation", True, " ", date(2026, 3, 1))
    assert subject.set_listing("abnormal_operation", True, "未按时公示年报", date(2026, 3, 1))
    assert not subject.set_listing("abnormal_operation", True, "again", date(2026, 3, 2))
    assert subject.abnormal_operation


def test_change_records_only_changed_fields_and_checks_code_tables() -> None:
    subject = _subject()
    assert subject.change(address=subject.address, industry="F51") == {"industry": "F51"}
    with pytest.raises(InvalidRecord):
        subject.change(region_code="999999")
    with pytest.raises(InvalidRecord, match="cannot be changed"):
        subject.change(risk_class="A")


def test_conflict_needs_a_known_reason_and_is_lifted_with_one() -> None:
    inspector, subject = "0" * 8 + "-0000-0000-0000-" + "0" * 12, str(_subject().id)
    with pytest.raises(InvalidRecord):
        Conflict.declare(
            inspector_id=inspector,
            subject_id=subject,
            reason="dislike",
            detail="",
            declared_on=date(2026, 1, 1),
        )
    conflict = Conflict.declare(
        inspector_id=inspector,
        subject_id=subject,
        reason="relative",
        detail="配偶任该公司监事",
        declared_on=date(2026, 1, 1),
    )
    with pytest.raises(InvalidRecord, match="reason"):
        conflict.lift("", date(2026, 2, 1))
    conflict.lift("关系已解除", date(2026, 2, 1))
    assert not conflict.active


# -- units for 所所交叉 -------------------------------------------------------------------


def _inspector(**overrides: Any) -> Inspector:
    fields = {"specialties": [], "status": "active", **inspector_payload("SAMR", 1), **overrides}
    return Inspector.register(**fields)


def test_subject_supervising_unit_is_registered_and_changed_on_its_own() -> None:
    subject = _subject(supervising_unit=" 黄石市市场监管局黄石港所 ")
    assert subject.supervising_unit == "黄石市市场监管局黄石港所"
    assert _subject().supervising_unit == ""
    subject.collect_events()
    assert subject.change(**subject.fields()) == {}
    assert subject.change(supervising_unit="黄石市市场监管局黄石港所 ") == {}
    assert not subject.collect_events()
    changed = subject.change(address=subject.address, supervising_unit="黄石市市场监管局下陆所")
    assert changed == {"supervising_unit": "黄石市市场监管局下陆所"}
    (event,) = subject.collect_events()
    assert type(event).__name__ == "SubjectChanged"
    assert event.changes == {"supervising_unit": "黄石市市场监管局下陆所"}  # type: ignore[attr-defined]


def test_inspector_unit_is_registered_and_changed_on_its_own() -> None:
    inspector = _inspector(unit="黄石市市场监管局黄石港所")
    assert inspector.unit == "黄石市市场监管局黄石港所"
    assert _inspector().unit == ""
    inspector.collect_events()
    assert inspector.change(name=inspector.name, unit="黄石市市场监管局黄石港所") == {}
    assert inspector.change(name=inspector.name, unit="黄石市市场监管局西塞山所") == {
        "unit": "黄石市市场监管局西塞山所"
    }
    (event,) = inspector.collect_events()
    assert type(event).__name__ == "InspectorChanged"
    assert event.changes == {"unit": "黄石市市场监管局西塞山所"}  # type: ignore[attr-defined]
    assert inspector.change(unit="") == {"unit": ""}


def _stored_before_units(aggregate: Aggregate, field: str) -> list[Any]:
    """The aggregate's events as stored before ``field`` existed, read back by the mapper."""
    mapper = Application[UUID]().mapper
    events = []
    for event in aggregate.collect_events():
        stored = mapper.to_stored_event(event)
        state = mapper.transcoder.decode(stored.state)
        state.pop(field, None)
        old = dataclasses.replace(stored, state=mapper.transcoder.encode(state))
        events.append(mapper.to_domain_event(old))
    return events


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: _subject(supervising_unit="黄石港所"), "supervising_unit"),
        (lambda: _inspector(unit="黄石港所"), "unit"),
    ],
    ids=["subject", "inspector"],
)
def test_events_stored_before_units_existed_still_load(make: Any, field: str) -> None:
    original = make()
    (registered,) = _stored_before_units(original, field)
    assert field not in vars(registered)
    aggregate = registered.mutate(None)
    assert getattr(aggregate, field) == ""
    assert aggregate.change(**{field: "下陆所"}) == {field: "下陆所"}
    assert aggregate.version == 2 and getattr(aggregate, field) == "下陆所"


def _row(columns: dict[str, tuple[str, ...]], headers: list[str], cells: list[str]) -> dict:
    return {field: cells[i] for i, field in header_map(headers, columns).items()}


def test_unit_columns_are_read_from_chinese_headers_and_left_out_when_absent() -> None:
    identifier = subject_payload(random.Random(7))["identifier"]
    headers = [
        "统一社会信用代码",
        "主体类型",
        "企业名称",
        "行政区划代码",
        "行业代码",
        "信用风险分类",
    ]
    cells = [identifier, "营利性", "黄石市某商贸有限公司", "420202", "F52", "B"]
    fields, errors = subject_row(
        2, _row(SUBJECT_COLUMNS, [*headers, "日常监管单位"], [*cells, " 黄石港所 "])
    )
    assert errors == [] and fields is not None and fields["supervising_unit"] == "黄石港所"
    fields, _ = subject_row(2, _row(SUBJECT_COLUMNS, [*headers, "监管所"], [*cells, ""]))
    assert fields is not None and fields["supervising_unit"] == ""
    fields, _ = subject_row(2, _row(SUBJECT_COLUMNS, headers, cells))
    assert fields is not None and "supervising_unit" not in fields

    headers = ["所属部门", "执法证号", "姓名", "执法层级", "管辖区划", "可检查事项类别"]
    cells = ["SAMR", "SAMR-00001", "张三", "县级", "420202", "一般"]
    for header in ("所属单位", "执法机构", "unit"):
        fields, errors = inspector_row(
            2, _row(INSPECTOR_COLUMNS, [*headers, header], [*cells, "黄石港所"])
        )
        assert errors == [] and fields is not None and fields["unit"] == "黄石港所"
    fields, _ = inspector_row(2, _row(INSPECTOR_COLUMNS, headers, cells))
    assert fields is not None and "unit" not in fields
