"""A draw's staff text (a replacement's typed reason and approver) is read like it is
written: by the initiating department's operators, the office and the auditors. Other
departments' readers, a participating department included, get the public reason code."""

from __future__ import annotations

import httpx
import pytest

from tests.access.conftest import APPROVER_CANARY, OTHER, OWN, REASON_CANARY, Stack

pytestmark = pytest.mark.e2e


def _draw(stack: Stack, sub: str, dept: str, role: str) -> dict:
    answer = httpx.get(
        f"{stack.urls['draw']}/v1/draws/{stack.fx['draw']['id']}",
        headers={"Authorization": f"Bearer {stack.token(sub, dept, role)}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(
    ("dept", "role"), [(OWN, "operator"), ("OFFICE", "office"), ("OFFICE", "auditor")]
)
def test_the_initiating_department_and_oversight_read_the_staff_text(
    stack: Stack, dept: str, role: str
) -> None:
    draw = _draw(stack, f"{role}-rd", dept, role)
    (replacement,) = draw["replacements"]
    assert replacement["reason"] == REASON_CANARY
    assert replacement["approver"] == f"{APPROVER_CANARY} ({OWN})"  # from the token
    assert replacement["reason_code"] == "deregistered"
    # The pool's plain hash too, where the draw states it and in its execution.
    assert draw["pool_hash"] and draw["executed"]["pool_hash"] == draw["pool_hash"]


@pytest.mark.parametrize(
    ("dept", "role"),
    [(OTHER, "operator"), ("TAX", "operator"), (OWN, "inspector")],
    ids=["other-department", "participating-department", "own-inspector"],
)
def test_other_readers_get_the_public_reason_code_only(stack: Stack, dept: str, role: str) -> None:
    draw = _draw(stack, f"{role}-rd", dept, role)
    (replacement,) = draw["replacements"]
    assert replacement["reason_code"] == "deregistered"
    assert "reason" not in replacement and "approver" not in replacement
    text = str(draw)
    assert REASON_CANARY not in text and APPROVER_CANARY not in text
    # Nor the pool's plain hash (a small pool's could be checked against guesses of its
    # classes): not in the summary, not in the execution.
    assert draw["pool_hash"] is None and draw["executed"]["pool_hash"] is None
    # What was replaced and by what stays readable: the record is the public one.
    assert replacement["replaced"] and "replacement" in replacement
