"""Realistic test data: valid USCCs, real region codes, plausible names."""

from __future__ import annotations

import random

from stdnum.cn import uscc

# Real GB/T 2260 county-level codes (Hubei, Huangshi and Wuhan; Beijing Dongcheng).
REGIONS = ["420202", "420203", "420204", "420205", "420222", "420102", "420103", "110101"]
INDUSTRIES = ["C13", "F51", "F52", "H62", "I65", "L72", "M74"]
_ALNUM = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # USCC alphabet: no I, O, S, V, Z


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
