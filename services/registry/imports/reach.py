"""What a department's import may touch: its own records only (domain/writing.py).

An inspector row must be of the caller's department (its key names the department, so an
existing inspector of another department cannot be reached either); a subject row must
name the caller among its departments, and an existing subject must be one the caller
supervises, whose other departments the row keeps. Anything else is a row error
``department_forbidden``. The office's imports (and trusted local commands) skip this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from services.registry.domain.subjects import Subject
from services.registry.domain.writing import (
    Caller,
    departments_change_problem,
    may_write_for,
    may_write_subject,
)
from services.registry.imports.validate import RowError

FORBIDDEN = "department_forbidden"
Part = list[tuple[int, UUID, dict[str, Any]]]


def outside(number: int, kind: str, by: Caller | None, fields: dict[str, Any]) -> list[RowError]:
    """The error of a checked row that is not about the caller's own records (none when
    ``by`` is None: the office or a trusted local command)."""
    if by is None:
        return []
    if kind == "inspectors":
        if may_write_for(by, fields["department"]):
            return []
        message = (
            f"department {by.dept!r} imports only its own inspectors, "
            f"not {fields['department']!r}'s"
        )
        return [RowError(number, "department", FORBIDDEN, message)]
    if any(may_write_for(by, d) for d in fields["departments"]):
        return []
    message = (
        f"department {by.dept!r} imports only subjects it supervises: "
        "name it among the row's departments"
    )
    return [RowError(number, "departments", FORBIDDEN, message)]


def own_subjects(
    by: Caller, part: Part, current: Mapping[UUID, Subject | None], errors: list[RowError]
) -> Part:
    """The rows of ``part`` about subjects that are new (not in ``current``) or that ``by``
    supervises and takes from no other department; the others' errors go to ``errors``."""
    kept: Part = []
    for number, key, fields in part:
        subject = current.get(key)
        problem = None
        if subject is not None:
            if not may_write_subject(by, subject):
                problem = (
                    f"department {by.dept!r} does not supervise this subject "
                    f"(its departments: {sorted(subject.departments)})"
                )
            else:
                problem = departments_change_problem(by, subject.departments, fields["departments"])
        if problem:
            errors.append(RowError(number, "departments", FORBIDDEN, problem))
        else:
            kept.append((number, key, fields))
    return kept
