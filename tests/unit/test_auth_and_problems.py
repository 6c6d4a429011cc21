"""JWT verification, roles, and problem+json field paths."""

from __future__ import annotations

import time

import jwt
import pytest

from libs.common.auth import decode_token, issue_token
from libs.common.faults import CRASH_EXIT_CODE
from libs.common.problems import Problem, _field_path
from libs.common.settings import CommonSettings

SETTINGS = CommonSettings.model_validate({"SSJ_JWT_SECRET": "s" * 40})


def test_token_round_trip_keeps_sub_dept_and_roles() -> None:
    token = issue_token(SETTINGS, sub="u1", dept="SAMR", roles=["operator", "auditor"])
    principal = decode_token(SETTINGS, token)
    assert (principal.sub, principal.dept) == ("u1", "SAMR")
    assert principal.roles == {"operator", "auditor"}
    assert principal.actor.roles == ("auditor", "operator")


@pytest.mark.parametrize(
    "claims, key",
    [
        ({"sub": "u", "iss": "ssj", "exp": int(time.time()) + 60}, "wrong-secret-" * 4),
        ({"sub": "u", "iss": "ssj", "exp": int(time.time()) - 60}, "s" * 40),
        ({"sub": "u", "iss": "other", "exp": int(time.time()) + 60}, "s" * 40),
        ({"iss": "ssj", "exp": int(time.time()) + 60}, "s" * 40),
    ],
    ids=["wrong-secret", "expired", "wrong-issuer", "no-subject"],
)
def test_bad_tokens_are_401(claims: dict, key: str) -> None:
    token = jwt.encode(claims, key, algorithm="HS256")
    with pytest.raises(Problem) as err:
        decode_token(SETTINGS, token)
    assert err.value.status == 401


def test_unknown_role_cannot_be_issued() -> None:
    with pytest.raises(ValueError):
        issue_token(SETTINGS, sub="u", dept="X", roles=["admin"])


def test_office_acts_for_every_department_an_operator_only_for_its_own() -> None:
    office = decode_token(SETTINGS, issue_token(SETTINGS, sub="o", dept="OFFICE", roles=["office"]))
    op = decode_token(SETTINGS, issue_token(SETTINGS, sub="p", dept="TAX", roles=["operator"]))
    assert office.may_act_for("TAX") and op.may_act_for("TAX")
    assert not op.may_act_for("SAMR")


def test_field_paths_read_like_json_paths() -> None:
    assert _field_path(("body", "batches", 0, "ends_on")) == "batches[0].ends_on"
    assert _field_path(("query", "limit")) == "limit"
    assert _field_path(("body",)) == ""


def test_crash_point_fires_only_on_the_named_pass(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    code = (
        "from libs.common.faults import crash_point\n"
        "for i in range(5):\n"
        "    print(i, flush=True)\n"
        "    crash_point('x.y')\n"
    )
    env = {"SSJ_CRASH_AT": "x.y@3", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == CRASH_EXIT_CODE
    assert done.stdout.split() == ["0", "1", "2"]
