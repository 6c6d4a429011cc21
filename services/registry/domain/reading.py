"""Who may read a conflict-of-interest record (回避关系) — a pure rule, no I/O.

A conflict record names an inspector, a company and why the inspector must not inspect it,
often in words ("配偶为该公司法定代表人"): private facts about the inspector's family and
finances. It is read like it is written: by operators of the inspector's department, by
the inspector concerned, and by the office and the auditors. Anyone else (another
department, another inspector of the same department) does not see it: a list leaves it
out.
"""

from __future__ import annotations

from collections.abc import Collection

# Roles that read every department's records (oversight).
READ_ALL = frozenset({"office", "auditor"})


def may_read_conflict(
    *,
    sub: str,
    dept: str,
    roles: Collection[str],
    inspector_id: str,
    inspector_department: str | None,
) -> bool:
    """Whether the caller (``sub``, ``dept``, ``roles``) may read the conflict record of the
    inspector ``inspector_id`` of ``inspector_department`` (None: the inspector is not in
    the directory, so only the office and the auditors)."""
    if READ_ALL & set(roles):
        return True
    if "inspector" in roles and sub == inspector_id:
        return True
    return (
        "operator" in roles
        and inspector_department is not None
        and bool(dept)
        and dept == inspector_department
    )
