"""schemathesis hooks of the fuzz runs (``SCHEMATHESIS_HOOKS=tests.e2e.fuzz_hooks``): every
case goes out with the token of one of the roles in ``SSJ_FUZZ_TOKENS``, and every answer is
logged to ``SSJ_FUZZ_LOG`` with the role it went to.

The role is chosen from the case itself (a hash of its method, path, parameters and body),
not in turn: Hypothesis replays and shrinks a failing case, and the replay must go out with
the same token. Cases whose ``Authorization`` schemathesis removed or spoiled on purpose (the
coverage phase's negative cases) keep it that way and are logged as ``anonymous``.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import schemathesis
from schemathesis.core import NotSet

# Role → bearer token, as tests/e2e/fuzz.py passes them.
TOKENS: dict[str, str] = json.loads(os.environ.get("SSJ_FUZZ_TOKENS") or "{}")
ROLES = sorted(TOKENS)
ROLE_OF = {f"Bearer {value}": role for role, value in TOKENS.items()}
LOG = os.environ.get("SSJ_FUZZ_LOG", "")


def role_for(case: Any) -> str:
    """The role this case is sent as (the same on every replay of the case)."""
    # No body is schemathesis's NOT_SET, whose repr holds its address: not the same from
    # one run to the next.
    body = None if isinstance(case.body, NotSet) else case.body
    key = repr((case.method, case.path, case.path_parameters, case.query, body))
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return ROLES[int.from_bytes(digest[:4], "big") % len(ROLES)]


if TOKENS:

    @schemathesis.auth(refresh_interval=None, retry_on=[])
    class RoleTokens:
        """A token of one of the roles on every case (no caching: the role is per case)."""

        def get(self, case: Any, context: Any) -> str:
            return TOKENS[role_for(case)]

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """One line per answer: the role it went to, the operation and the status."""
    if not LOG:
        return
    headers = case.headers or {}
    line = {
        "role": ROLE_OF.get(headers.get("Authorization", ""), "anonymous"),
        "operation": case.operation.label,
        "status": response.status_code,
    }
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")
