"""Who reads a conflict-of-interest record (issue 11, point 4)."""

from __future__ import annotations

import pytest

from services.registry.domain.reading import may_read_conflict

INSPECTOR = "5f0e8a4c-0000-4000-8000-000000000001"


def _may(sub: str, dept: str, *roles: str, department: str | None = "SAMR") -> bool:
    return may_read_conflict(
        sub=sub, dept=dept, roles=roles, inspector_id=INSPECTOR, inspector_department=department
    )


@pytest.mark.parametrize(
    ("sub", "dept", "roles"),
    [
        ("op-samr", "SAMR", ("operator",)),  # the inspector's department
        (INSPECTOR, "SAMR", ("inspector",)),  # the inspector concerned
        ("office", "OFFICE", ("office",)),
        ("audit", "AUDIT", ("auditor",)),
    ],
)
def test_the_department_the_inspector_the_office_and_auditors_read_it(
    sub: str, dept: str, roles: tuple[str, ...]
) -> None:
    assert _may(sub, dept, *roles)


@pytest.mark.parametrize(
    ("sub", "dept", "roles"),
    [
        ("insp-tax", "TAX", ("inspector",)),  # the pen-test's unassigned TAX inspector
        ("insp-samr-other", "SAMR", ("inspector",)),  # a colleague of the same department
        ("op-tax", "TAX", ("operator",)),  # another department
        ("op-none", "", ("operator",)),  # a token with no department
    ],
)
def test_anyone_else_does_not(sub: str, dept: str, roles: tuple[str, ...]) -> None:
    assert not _may(sub, dept, *roles)


def test_a_record_of_an_inspector_not_in_the_directory_is_for_oversight_only() -> None:
    assert not _may("op-samr", "SAMR", "operator", department=None)
    assert _may("office", "OFFICE", "office", department=None)
