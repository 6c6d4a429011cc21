"""Realistic test data: valid USCCs, real region codes, plausible names."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from stdnum.cn import uscc

# Real GB/T 2260 county-level codes (Hubei, Huangshi and Wuhan; Beijing Dongcheng).
REGIONS = ["420202", "420203", "420204", "420205", "420222", "420102", "420103", "110101"]
INDUSTRIES = ["C13", "F51", "F52", "H62", "I65", "L72", "M74"]
_ALNUM = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # USCC alphabet: no I, O, S, V, Z
# Names of the department codes the tests and the demo use (黄石市 member departments).
DEPARTMENT_NAMES = {
    "SAMR": "黄石市市场监督管理局",
    "TAX": "国家税务总局黄石市税务局",
    "EPB": "黄石市生态环境局",
}


def make_uscc(rng: random.Random, region: str = "420202") -> str:
    """A valid 18-character USCC (registration authority 9 = market regulator, type 1)."""
    org = "".join(rng.choice(_ALNUM) for _ in range(9))
    body = f"91{region}{org}"
    return body + uscc.calc_check_digit(body)


def subject_payload(rng: random.Random, risk_class: str = "A", **overrides: object) -> dict:
    """A registrable for-profit subject."""
    region = str(overrides.get("region_code") or rng.choice(REGIONS))
    payload = {
        "identifier": make_uscc(rng, region),
        "kind": "for_profit",
        "name": f"黄石市{rng.randrange(10**6):06d}商贸有限公司",
        "region_code": region,
        "industry": rng.choice(INDUSTRIES),
        "risk_class": risk_class,
        "departments": ["SAMR"],
    }
    payload.update(overrides)
    return payload


def item_payload(code: str, department: str, **overrides: object) -> dict:
    """A registrable general item."""
    payload = {
        "code": code,
        "department": department,
        "name": f"{department} 随机抽查事项 {code}",
        "category": "general",
        "ratio": 0.05,
        "methods": ["on_site"],
        "legal_basis": "《市场监督管理行政处罚程序规定》",
        "subject_kinds": ["for_profit"],
    }
    payload.update(overrides)
    return payload


def inspector_payload(department: str, n: int, **overrides: object) -> dict:
    """A registrable active inspector."""
    payload = {
        "department": department,
        "certificate_no": f"{department}-{n:05d}",
        "name": f"检查员{department}{n}",
        "level": "county",
        "region_code": "420202",
        "categories": ["general", "key"],
        "contact": f"1380000{n:04d}",
    }
    payload.update(overrides)
    return payload


def department_payload(code: str, **overrides: object) -> dict:
    """A registrable city-level member department (领导小组成员单位) of Huangshi."""
    payload = {
        "code": code,
        "name": DEPARTMENT_NAMES.get(code, f"黄石市{code}局"),
        "level": "city",
        "region_code": "420200",
        "parent": "",
    }
    payload.update(overrides)
    return payload


def register_departments(
    url: str, office_token: str, codes: Iterable[str], parent: str = ""
) -> None:
    """Register these departments (or, with ``parent``, units 所 of that department)
    through the registry at ``url`` as the office; a code registered before (409, e.g. by
    an earlier test of the session) is left as it is."""
    auth = {"Authorization": f"Bearer {office_token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        for code in dict.fromkeys(codes):
            payload = department_payload(code, parent=parent)
            response = http.post("/v1/departments", json=payload)
            if response.status_code not in (201, 409):
                raise RuntimeError(f"registering department {code}: {response.text}")


def ensure_departments(app: Any, codes: Iterable[str], parent: str = "") -> None:
    """Register these departments (or, with ``parent``, units 所 of that department) in a
    RegistryApplication driven directly (imports, benchmarks), unless they already are."""
    known = app.departments_active(list(codes))
    for code in known:
        if not known[code]:
            app.register_department(**department_payload(code, parent=parent))


# An on-site drawing (现场摇号) of eight digits (a hundred million results: a source needs at
# least ten million), witnessed by the discipline inspection team: a source with no fixed
# schedule, so a test or the demo can name a drawing seconds ahead.
ONSITE_SOURCE: dict[str, Any] = {
    "code": "onsite-8d",
    "name": "现场摇号（纪检组监督）",
    "publisher": "黄石市双随机、一公开联席会议办公室",
    "groups": [{"name": "digits", "count": 8, "low": 0, "high": 9, "ordered": True}],
    "schedule": None,
}
ONSITE_ENTROPY = "3 1 4 1 5 9 2 6"  # eight digits, as the drawing shows them
# The draw service's least lead in development is 2 s (services/draw/settings.py).
ENTROPY_LEAD_SECONDS = 3.0


def register_entropy_source(draw_url: str, office_token: str, body: dict | None = None) -> None:
    """Register the on-site source (or ``body``) as the office; registered before (409)
    is fine."""
    response = httpx.post(
        f"{draw_url}/v1/entropy-sources",
        json=body or ONSITE_SOURCE,
        headers={"Authorization": f"Bearer {office_token}"},
        timeout=30,
    )
    if response.status_code not in (201, 409):
        raise RuntimeError(f"registering the entropy source: {response.text}")


def entropy_choice(lead_seconds: float = ENTROPY_LEAD_SECONDS) -> dict:
    """The announcement's ``entropy``: the on-site drawing ``lead_seconds`` from now. Its
    issue is numbered by its time (milliseconds since 1970), so issues and times of the
    source rise together, as the draw service requires."""
    at = datetime.now(UTC) + timedelta(seconds=lead_seconds)
    issue = str(int(at.timestamp() * 1000))
    return {"source": ONSITE_SOURCE["code"], "issue": issue, "scheduled_at": at.isoformat()}


def wait_for_entropy(announced: dict) -> None:
    """Sleep until the announced drawing has taken place (execution is refused before)."""
    due = datetime.fromisoformat(announced["entropy_not_before"])
    remaining = (due - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        time.sleep(remaining + 0.05)
