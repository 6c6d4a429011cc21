"""Who reads a draw's staff text: the pure rule (services/draw/domain/reading.py)."""

from __future__ import annotations

import pytest

from services.draw.domain.reading import may_read_internal


@pytest.mark.parametrize(
    ("dept", "roles", "expected"),
    [
        ("SAMR", {"operator"}, True),  # the initiating department files the replacements
        ("OFFICE", {"office"}, True),
        ("", {"auditor"}, True),
        ("TAX", {"operator"}, False),  # another department, taking part or not
        ("SAMR", {"inspector"}, False),  # an inspector is not the one who files them
        ("SAMR", {"reader"}, False),
        ("", {"operator"}, False),  # no department is nobody's department
    ],
)
def test_staff_text_is_read_by_the_initiating_department_and_oversight(
    dept: str, roles: set[str], expected: bool
) -> None:
    assert may_read_internal(dept=dept, roles=roles, initiating_department="SAMR") is expected


def test_no_department_matches_a_draw_without_one() -> None:
    assert not may_read_internal(dept="", roles={"operator"}, initiating_department="")
