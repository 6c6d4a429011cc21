"""SubjectsDrawn parts stay within what one NATS message carries, however long the names."""

from __future__ import annotations

import json

from services.draw.domain.draw import PART_BYTES, PART_SIZE, split_parts

ASTRAL = "\U0001f600"  # 12 bytes as the relay escapes it (\ud83d\ude00)


def _entry(n: int) -> dict[str, object]:
    group = [
        {"inspector_id": f"i-{n}-{k}", "name": ASTRAL * 64, "unit": ASTRAL * 100, "role": "member"}
        for k in range(20)
    ]
    return {"identifier": f"91420200MA{n:08d}", "name": ASTRAL * 200, "inspectors": group}


def _context() -> dict[str, object]:
    items = [{"code": f"ITEM-{k}", "name": ASTRAL * 200} for k in range(100)]
    return {"batch_id": "b", "plan_id": "p", "year": 2026, "items": items, "ends_on": "2026-12-31"}


def test_worst_case_parts_fit_the_byte_budget_and_keep_the_order() -> None:
    entries = [_entry(n) for n in range(520)]
    context = _context()
    parts = split_parts(context, entries)
    assert len(parts) > 2  # 520 such subjects never fit in one 500-subject part
    for part in parts:
        event = {**context, "part": 1, "parts": len(parts), "subjects": part}
        assert len(json.dumps(event)) <= PART_BYTES
    assert [e for part in parts for e in part] == entries


def test_short_entries_are_cut_by_count() -> None:
    entries = [{"identifier": str(n)} for n in range(1201)]
    parts = split_parts({"batch_id": "b"}, entries)
    assert [len(p) for p in parts] == [PART_SIZE, PART_SIZE, 201]


def test_no_subjects_still_make_one_part() -> None:
    assert split_parts({"batch_id": "b"}, []) == [[]]
