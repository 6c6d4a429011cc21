"""Who may write what in the registry — pure rules, no I/O.

A department writes its own records, the joint-meeting office (联席会议办公室) writes all:

- an inspector, an item, a tag belong to the one department they name;
- a subject (检查对象) belongs to the departments that supervise it (its ``departments``):
  any of them may change it and take its decisions. The registration status (存续, 注销,
  吊销 …) is the registration authority's decision, the lists (经营异常名录, 严重违法失信名单)
  and the credit-risk class the responsible department's: the registry does not record
  which supervising department is the registration authority, so each of these decisions
  is open to every supervising department and to the office, and to nobody else;
- a department never takes a subject away from another: it may add departments to a
  subject it supervises, remove only itself, and never leave a subject that no department
  supervises; only the office removes other departments;
- a bulk import's rows obey the same rules row by row, and a full sync (which closes every
  subject of a region absent from the file) is the office's alone.

A token without a department (``dept`` empty) never writes as a department.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from services.registry.domain.errors import RegistryError


class Caller(Protocol):
    """The one who writes: :class:`libs.common.auth.Principal` fits."""

    @property
    def dept(self) -> str: ...

    @property
    def roles(self) -> Collection[str]: ...


class Supervised(Protocol):
    """A record supervised by departments: :class:`Subject` fits."""

    @property
    def departments(self) -> list[str]: ...


class WriteForbidden(RegistryError):
    """The caller may not write this record (another department's)."""


def is_office(caller: Caller) -> bool:
    """The joint-meeting office writes for every department."""
    return "office" in caller.roles


def may_write_for(caller: Caller, department: str) -> bool:
    """Whether the caller writes records of ``department``: the office, or an operator of
    that very department (never one whose token names no department)."""
    if is_office(caller):
        return True
    return "operator" in caller.roles and bool(caller.dept) and caller.dept == department


def may_write_subject(caller: Caller, subject: Supervised) -> bool:
    """Whether the caller may change ``subject`` or take its decisions (status, listings,
    risk class): the office, or an operator of a department supervising it."""
    if is_office(caller):
        return True
    return any(may_write_for(caller, d) for d in subject.departments)


def may_full_sync(caller: Caller) -> bool:
    """Whether the caller may mark the subjects absent from a file (the office only)."""
    return is_office(caller)


def registration_problem(caller: Caller, departments: Iterable[str]) -> str | None:
    """Why the caller may not register a subject supervised by ``departments`` (None: it
    may). A department registers subjects it supervises itself."""
    if is_office(caller) or any(may_write_for(caller, d) for d in departments):
        return None
    return (
        f"department {caller.dept!r} may register only subjects it supervises: "
        "name it among the subject's departments"
    )


def departments_change_problem(
    caller: Caller, current: Iterable[str], proposed: Iterable[str]
) -> str | None:
    """Why the caller may not replace a subject's supervising ``current`` departments with
    ``proposed`` (None: it may). The office may do anything; a department may add
    departments and remove itself, but not remove another department nor leave none."""
    if is_office(caller):
        return None
    before, after = set(current), set(proposed)
    removed = before - after - {caller.dept}
    if removed:
        return (
            f"department {caller.dept!r} may not remove {sorted(removed)} from the subject's "
            "departments: only the office takes a subject away from a department"
        )
    if before and not after:
        return "a subject must keep a supervising department: only the office removes the last"
    return None


def require_subject_writer(caller: Caller, subject: Supervised, what: str) -> None:
    """Raise :class:`WriteForbidden` unless :func:`may_write_subject`; ``what`` names the
    write for the message."""
    if not may_write_subject(caller, subject):
        raise WriteForbidden(
            f"department {caller.dept!r} does not supervise this subject "
            f"(its departments: {sorted(subject.departments)}): {what} is for them or the office"
        )


def require_department_writer(caller: Caller, department: str, what: str) -> None:
    """Raise :class:`WriteForbidden` unless :func:`may_write_for` ``department``."""
    if not may_write_for(caller, department):
        raise WriteForbidden(f"department {caller.dept!r} cannot {what} of {department!r}")
