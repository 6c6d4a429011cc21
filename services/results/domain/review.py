"""Who enters a task's result and who reviews it (谁检查、谁录入、谁负责; 审核).

The group enters the result of its inspection; operators of the implementing department
(the group leader's) enter it for them, the office for anyone. A reviewer of the
implementing department who is not of the group and entered nothing of the result reviews
it: nobody approves their own entry, whatever roles their token holds.
"""

from __future__ import annotations

from collections.abc import Collection

from services.results.domain.errors import NotInGroup, NotReviewer


def authorise_entry(
    *, sub: str, dept: str, roles: Collection[str], department: str, group: Collection[str]
) -> None:
    """Raise :class:`NotInGroup` unless the caller may enter the result of a task of
    ``department`` whose group now is ``group`` (inspector ids)."""
    if "inspector" in roles and sub in group:
        return
    if "office" in roles:
        return
    if "operator" in roles and dept == department:
        return
    raise NotInGroup(
        f"{sub!r} is not in the inspection group and is not an operator of the implementing "
        f"department {department!r}"
    )


def authorise_review(
    *,
    sub: str,
    dept: str,
    roles: Collection[str],
    department: str,
    group: Collection[str],
    entrants: Collection[str] = (),
) -> None:
    """Raise :class:`NotReviewer` unless the caller may review a task of ``department``
    inspected by ``group`` (inspector ids, at dispatch and now) and entered by
    ``entrants``."""
    if "reviewer" not in roles:
        raise NotReviewer("results are reviewed by the reviewer role (审核人)")
    if dept != department:
        raise NotReviewer(
            f"a result of {department!r} is reviewed by its own reviewers, not {dept!r}'s"
        )
    if sub in group:
        raise NotReviewer(f"{sub!r} is in the inspection group and may not review its result")
    if sub in entrants:
        raise NotReviewer(f"{sub!r} entered this result and may not review it")
