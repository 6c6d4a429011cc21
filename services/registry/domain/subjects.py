"""检查对象名录库 — the directory of inspection subjects."""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import Aggregate, event
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError

from services.registry.domain.errors import InvalidIdentifier, InvalidRecord
from services.registry.domain.ids import subject_id

# 营利性市场主体, 非营利性市场主体 (both identified by USCC), 非市场主体 (own identifiers).
KINDS = ("for_profit", "non_profit", "non_market")
RISK_CLASSES = ("A", "B", "C", "D")  # 信用风险分类, A lowest risk
# 存续, 注销, 吊销, 迁出, 撤销
STATUSES = ("operating", "deregistered", "revoked", "moved_out", "cancelled")
_REGION = re.compile(r"^\d{6}$")
_NON_MARKET_ID = re.compile(r"^[A-Z]{2,6}-[0-9A-Za-z-]{4,40}$")


def normalise_identifier(kind: str, identifier: str) -> str:
    """Validate the identifier for the kind of subject and return its compact form.

    Market subjects carry a USCC (统一社会信用代码), check digit included (python-stdnum);
    non-market subjects (products, projects, behaviours) use ``PREFIX-local-id``.
    """
    if kind not in KINDS:
        raise InvalidRecord(f"kind must be one of {KINDS}, not {kind!r}")
    if kind == "non_market":
        if not _NON_MARKET_ID.match(identifier):
            raise InvalidIdentifier(
                f"non-market identifier {identifier!r} must look like PREFIX-local-id"
            )
        return identifier
    try:
        return str(uscc.validate(identifier))
    except ValidationError as exc:
        raise InvalidIdentifier(f"invalid USCC {identifier!r}: {exc}") from exc


def check_subject(region_code: str, risk_class: str, status: str) -> None:
    """Field rules shared by registration and later changes."""
    if not _REGION.match(region_code):
        raise InvalidRecord(f"region code must be six digits (GB/T 2260), not {region_code!r}")
    if risk_class not in RISK_CLASSES:
        raise InvalidRecord(f"risk class must be one of {RISK_CLASSES}, not {risk_class!r}")
    if status not in STATUSES:
        raise InvalidRecord(f"status must be one of {STATUSES}, not {status!r}")


class Subject(Aggregate):
    """检查对象 — a subject of inspection."""

    @staticmethod
    def create_id(identifier: str, **_: Any) -> Any:
        return subject_id(identifier)

    @event("SubjectRegistered")
    def __init__(
        self,
        identifier: str,
        kind: str,
        name: str,
        region_code: str,
        industry: str,
        risk_class: str,
        status: str,
        departments: list[str],
    ) -> None:
        self.identifier = identifier
        self.kind = kind
        self.name = name
        self.region_code = region_code
        self.industry = industry
        self.risk_class = risk_class
        self.status = status
        self.departments = list(departments)

    @classmethod
    def register(cls, *, identifier: str, kind: str, **fields: Any) -> Subject:
        """Validate the identifier and fields, then record ``SubjectRegistered``."""
        compact = normalise_identifier(kind, identifier)
        check_subject(fields["region_code"], fields["risk_class"], fields["status"])
        return cls(identifier=compact, kind=kind, **fields)
