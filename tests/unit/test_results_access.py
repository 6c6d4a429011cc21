"""Who reads an inspection record and its notes (issue 11, point 4)."""

from __future__ import annotations

import pytest

from services.results.domain.access import may_read_record

GROUP = [
    {"inspector_id": "insp-samr-leader", "department": "SAMR", "role": "leader"},
    {"inspector_id": "insp-tax-member", "department": "TAX", "role": "member"},
]


def _may(sub: str, dept: str, *roles: str, initiating: str | None = "SAMR") -> bool:
    return may_read_record(
        sub=sub, dept=dept, roles=roles, initiating_department=initiating, inspectors=GROUP
    )


@pytest.mark.parametrize(
    ("sub", "dept", "roles"),
    [
        ("insp-samr-leader", "SAMR", ("inspector",)),
        ("insp-tax-member", "TAX", ("inspector",)),
        ("op-samr", "SAMR", ("operator",)),
        ("op-tax", "TAX", ("operator",)),
        ("office", "OFFICE", ("office",)),
        ("audit", "AUDIT", ("auditor",)),
    ],
)
def test_the_group_its_departments_the_office_and_auditors_read_the_record(
    sub: str, dept: str, roles: tuple[str, ...]
) -> None:
    assert _may(sub, dept, *roles)


@pytest.mark.parametrize(
    ("sub", "dept", "roles"),
    [
        ("insp-tax-other", "TAX", ("inspector",)),  # same department, not in the group
        ("op-mem", "MEM", ("operator",)),  # a department not in this inspection
        ("op-none", "", ("operator",)),  # a token with no department
        ("insp-samr-leader", "SAMR", ()),  # no role
    ],
)
def test_anyone_else_reads_nothing(sub: str, dept: str, roles: tuple[str, ...]) -> None:
    assert not _may(sub, dept, *roles)


def test_a_record_without_its_assignment_is_for_the_office_and_auditors_only() -> None:
    assert not _may("op-samr", "SAMR", "operator", initiating=None)
    assert _may("audit", "AUDIT", "auditor", initiating=None)
