"""The platform account's column of the access matrix (平台对接账号), against the five running
services: let through where a row says ``platform=True`` (or needs no token), 403 on every
other operation."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from tests.access.conftest import Stack
from tests.access.matrix import RULES
from tests.access.test_matrix import LET_THROUGH, _seen, _send

pytestmark = pytest.mark.e2e


def test_a_platform_account_calls_its_operations_and_nothing_else(stack: Stack) -> None:
    token = stack.token("gsxt-national", "PLATFORM", "platform")
    auth = {"Authorization": f"Bearer {token}"}
    counter = itertools.count(int(time.time()) % 100000 * 1000 + 700)
    differ = []
    with httpx.Client(timeout=30) as http:
        for rule in RULES:
            expected: str | int = LET_THROUGH if rule.platform_allowed else 403
            response = _send(http, stack, rule, auth, next(counter))
            if _seen(response, expected) != expected:
                differ.append(
                    f"{rule.method} {rule.service}{rule.path} as platform: "
                    f"{response.status_code}, matrix says {expected}"
                )
    assert differ == [], "\n".join(differ)
