"""Who reads a draw's internal record (抽取的内部记录) — a pure rule, no I/O.

A replacement (递补) carries staff's own words beside its public reason code: why an
inspector was taken off ("该员正接受纪检调查") and who approved it, often with a name and a
phone number. They are read like they are written: by operators of the department that
runs the draw (the initiating department, which files replacements), and by the office and
the auditors. Every other reader gets the draw as the public proof shows it: reason codes
from the fixed list, no staff text.
"""

from __future__ import annotations

from collections.abc import Collection

# Roles that read every department's records (oversight).
READ_ALL = frozenset({"office", "auditor"})


def may_read_internal(*, dept: str, roles: Collection[str], initiating_department: str) -> bool:
    """Whether the caller (``dept``, ``roles``) reads the staff text of the draw initiated
    by ``initiating_department``."""
    if READ_ALL & set(roles):
        return True
    return "operator" in roles and bool(dept) and dept == initiating_department
