"""Who may read an inspection record (检查记录) with its notes — a pure rule, no I/O.

A record's findings carry the inspector's notes and its corrections their reasons: leads
from informants, names, phone numbers. They are read like they are written: by the
inspection group concerned, by operators of the departments taking part in that
inspection (the initiating department and the departments of the group's members), and
by the office and the auditors. Anyone else gets nothing (lists leave the record out, a
single record is 403). The public sees results through the disclosure service, whose
allow-list has no notes at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

# Roles that read every department's records (oversight).
READ_ALL = frozenset({"office", "auditor"})


def may_read_record(
    *,
    sub: str,
    dept: str,
    roles: Collection[str],
    initiating_department: str | None,
    inspectors: Iterable[Mapping[str, Any]],
) -> bool:
    """Whether the caller (``sub``, ``dept``, ``roles``) may read a record of the inspection
    initiated by ``initiating_department`` with the group ``inspectors``.

    ``initiating_department`` None (no assignment known for the record) leaves it to the
    office and the auditors.
    """
    if READ_ALL & set(roles):
        return True
    if initiating_department is None:
        return False
    group = list(inspectors)
    if "inspector" in roles and sub in {str(m.get("inspector_id")) for m in group}:
        return True
    departments = {initiating_department, *(str(m.get("department")) for m in group)}
    return "operator" in roles and bool(dept) and dept in departments


def may_have_files(
    *,
    sub: str,
    dept: str,
    roles: Collection[str],
    implementing_department: str,
    group: Iterable[Mapping[str, Any]],
    auditors: bool,
) -> bool:
    """Whether the caller may download a task's files: evidence (证据) and documents are
    for the inspection group and the implementing department's reviewers; the case file
    (立卷归档, which holds them all) for those and the auditors (``auditors``). Reading the
    task is wider (oversight, the departments taking part): the files are not."""
    if auditors and "auditor" in roles:
        return True
    if "reviewer" in roles and dept == implementing_department:
        return True
    return "inspector" in roles and sub in {str(m.get("inspector_id")) for m in group}
