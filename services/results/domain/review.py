"""审核 — who reviews a result: a reviewer of the implementing department who is not one
of the inspection group (nobody reviews their own inspection)."""

from __future__ import annotations

from collections.abc import Collection

from services.results.domain.errors import NotReviewer


def authorise_review(
    *, sub: str, dept: str, roles: Collection[str], department: str, group: Collection[str]
) -> None:
    """Raise :class:`NotReviewer` unless the caller may review a task of ``department``
    inspected by ``group`` (inspector ids, at dispatch and now)."""
    if "reviewer" not in roles:
        raise NotReviewer("results are reviewed by the reviewer role (审核人)")
    if dept != department:
        raise NotReviewer(
            f"a result of {department!r} is reviewed by its own reviewers, not {dept!r}'s"
        )
    if sub in group:
        raise NotReviewer(f"{sub!r} is in the inspection group and may not review its result")
