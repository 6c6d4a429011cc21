"""The item list 随机抽查事项清单: rules, versioned changes, publish and withdraw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.registry.domain.errors import InvalidItem, ItemStateError
from services.registry.domain.items import InspectionItem, version_as_of
from tests.builders import item_payload


def _item(**overrides: Any) -> InspectionItem:
    fields = {
        "sub_items": [],
        "content": "",
        "frequency_per_year": 1,
        "inspector_requirements": "",
        "internet_plus_code": "",
        "check_form": [],
        **item_payload("SAMR-1", "SAMR"),
        **overrides,
    }
    return InspectionItem.register(**fields)


def test_general_item_ratio_below_five_percent_is_rejected() -> None:
    with pytest.raises(InvalidItem, match="at least 5 %"):
        _item(ratio=0.049)


def test_key_item_may_use_a_low_ratio() -> None:
    assert _item(category="key", ratio=0.01).ratio == 0.01


def test_unknown_method_is_rejected_with_the_known_ones_named() -> None:
    with pytest.raises(InvalidItem, match="on_site"):
        _item(methods=["phone_call"])


def test_change_records_only_the_fields_that_differ() -> None:
    item = _item()
    item.collect_events()
    changes = item.change(name=item.name, ratio=0.1, content="检查经营场所")
    assert changes == {"ratio": 0.1, "content": "检查经营场所"}
    (event,) = item.collect_events()
    assert type(event).__name__ == "ItemChanged"
    assert event.changes == changes  # type: ignore[attr-defined]


def test_unchanged_fields_record_no_event() -> None:
    item = _item()
    item.collect_events()
    assert item.change(name=item.name, ratio=item.ratio) == {}
    assert item.collect_events() == []


def test_change_that_breaks_the_ratio_rule_is_rejected() -> None:
    with pytest.raises(InvalidItem, match="5 %"):
        _item().change(ratio=0.01)


def test_code_and_department_cannot_be_changed() -> None:
    with pytest.raises(InvalidItem, match="cannot be changed"):
        _item().change(department="TAX")


def test_only_a_published_item_can_be_withdrawn_and_only_with_a_reason() -> None:
    item = _item()
    with pytest.raises(ItemStateError):
        item.withdraw("不再适用")
    item.publish()
    with pytest.raises(InvalidItem, match="reason"):
        item.withdraw("  ")
    item.withdraw("法规废止")
    assert not item.published


def test_version_as_of_picks_the_last_version_recorded_by_then() -> None:
    stamps = [
        (1, datetime(2026, 1, 5, tzinfo=UTC)),
        (2, datetime(2026, 3, 1, tzinfo=UTC)),
        (3, datetime(2026, 6, 1, tzinfo=UTC)),
    ]
    assert version_as_of(stamps, datetime(2026, 4, 1, tzinfo=UTC)) == 2
    assert version_as_of(stamps, datetime(2026, 1, 1, tzinfo=UTC)) is None
