"""检查对象名录库 — the directory of inspection subjects."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError

from libs.common.text import NON_MARKET_ID
from services.registry.domain.errors import InvalidIdentifier, InvalidRecord
from services.registry.domain.ids import subject_id
from services.registry.domain.industries import require_industry
from services.registry.domain.regions import require_region

# 营利性市场主体, 非营利性市场主体 (both identified by USCC), 非市场主体 (own identifiers).
KINDS = ("for_profit", "non_profit", "non_market")
RISK_CLASSES = ("A", "B", "C", "D")  # 信用风险分类, A lowest risk
# 存续, 注销, 吊销, 迁出, 撤销
STATUSES = ("operating", "deregistered", "revoked", "moved_out", "cancelled")
# 经营异常名录, 严重违法失信名单
LISTS = ("abnormal_operation", "serious_violation")
# Fields SubjectChanged may carry; identity, status, risk class and lists have own events.
CHANGEABLE = (
    "name",
    "legal_form",
    "region_code",
    "industry",
    "address",
    "legal_representative",
    "departments",
    "tags",
    "supervising_unit",
)
# A USCC already in compact form: 8 digits, then 10 of the code's 31 characters.
_COMPACT_USCC = re.compile(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}")


def normalise_identifier(kind: str, identifier: str) -> str:
    """Validate the identifier for the kind of subject and return its compact form.

    Market subjects carry a USCC (统一社会信用代码), check digit included (python-stdnum);
    non-market subjects (products, projects, behaviours) use ``PREFIX-local-id``.
    """
    if kind not in KINDS:
        raise InvalidRecord(f"kind must be one of {KINDS}, not {kind!r}")
    if kind == "non_market":
        if not NON_MARKET_ID.match(identifier):
            raise InvalidIdentifier(
                f"non-market identifier {identifier!r} must look like PREFIX-local-id"
            )
        return identifier
    # Fast path for the usual, already compact identifier (a bulk import checks a million):
    # python-stdnum still computes the check digit; anything else takes its full validate,
    # which also produces the precise error.
    if _COMPACT_USCC.fullmatch(identifier) and uscc.calc_check_digit(identifier) == identifier[-1]:
        return identifier
    try:
        return str(uscc.validate(identifier))
    except ValidationError as exc:
        raise InvalidIdentifier(f"invalid USCC {identifier!r}: {exc}") from exc


def check_fields(fields: dict[str, Any]) -> None:
    """Rules for the changeable fields (region and industry against the code tables)."""
    if "region_code" in fields:
        require_region(fields["region_code"], county_level=True)
    if "industry" in fields:
        require_industry(fields["industry"])
    if "name" in fields and not str(fields["name"]).strip():
        raise InvalidRecord("name must not be empty")


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InvalidRecord(f"{what} must be one of {allowed}, not {value!r}")


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
        legal_form: str,
        region_code: str,
        industry: str,
        address: str,
        legal_representative: str,
        status: str,
        departments: list[str],
        tags: list[str],
        risk_class: str,
        abnormal_operation: bool,
        serious_violation: bool,
        supervising_unit: str = "",  # absent from events recorded before units existed
    ) -> None:
        self.identifier = identifier
        self.kind = kind
        self.name = name
        self.legal_form = legal_form
        self.region_code = region_code
        self.industry = industry
        self.address = address
        self.legal_representative = legal_representative
        self.status = status
        self.departments = departments
        self.tags = tags
        self.risk_class = risk_class
        self.abnormal_operation = abnormal_operation
        self.serious_violation = serious_violation
        # 日常监管单位: the unit (所) that routinely supervises the subject; "" = not recorded.
        self.supervising_unit = supervising_unit
        self.risk_history: list[dict[str, Any]] = []

    @classmethod
    def register(cls, *, identifier: str, kind: str, **fields: Any) -> Subject:
        """Validate the identifier and fields, then record ``SubjectRegistered``."""
        compact = normalise_identifier(kind, identifier)
        if "supervising_unit" in fields:
            fields["supervising_unit"] = fields["supervising_unit"].strip()
        check_fields(fields)
        _one_of(fields["risk_class"], RISK_CLASSES, "risk class")
        _one_of(fields["status"], STATUSES, "status")
        return cls(identifier=compact, kind=kind, **fields)

    def fields(self) -> dict[str, Any]:
        """The changeable fields as they stand."""
        return {name: getattr(self, name) for name in CHANGEABLE}

    def change(self, **proposed: Any) -> dict[str, Any]:
        """Record ``SubjectChanged`` with only the fields that differ; return them."""
        unknown = set(proposed) - set(CHANGEABLE)
        if unknown:
            raise InvalidRecord(f"fields {sorted(unknown)} cannot be changed this way")
        if "supervising_unit" in proposed:
            proposed["supervising_unit"] = proposed["supervising_unit"].strip()
        changes = {k: v for k, v in proposed.items() if getattr(self, k) != v}
        if changes:
            check_fields(changes)
            self._changed(changes=changes)
        return changes

    @event("SubjectChanged")
    def _changed(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def change_status(self, status: str, reason: str) -> bool:
        """Record a registration-status change (e.g. 注销); False if already so."""
        _one_of(status, STATUSES, "status")
        if status == self.status:
            return False
        self._status_changed(status=status, previous=self.status, reason=reason)
        return True

    @event("SubjectStatusChanged")
    def _status_changed(self, status: str, previous: str, reason: str) -> None:
        self.status = status

    def classify(self, risk_class: str, reason: str, effective_on: date) -> bool:
        """Record a new credit-risk class with its reason; False if unchanged."""
        _one_of(risk_class, RISK_CLASSES, "risk class")
        if risk_class == self.risk_class:
            return False
        self._classified(
            risk_class=risk_class,
            previous=self.risk_class,
            reason=reason,
            effective_on=effective_on.isoformat(),
        )
        return True

    @event("RiskClassChanged")
    def _classified(self, risk_class: str, previous: str, reason: str, effective_on: str) -> None:
        self.risk_history.append(
            {"from": previous, "to": risk_class, "reason": reason, "effective_on": effective_on}
        )
        self.risk_class = risk_class

    def set_listing(self, list_name: str, listed: bool, reason: str, decided_on: date) -> bool:
        """Put on or take off 经营异常名录 / 严重违法失信名单; False if unchanged."""
        _one_of(list_name, LISTS, "list")
        if getattr(self, list_name) == listed:
            return False
        if not reason.strip():
            raise InvalidRecord("a listing decision needs a reason")
        self._listing_changed(
            list_name=list_name, listed=listed, reason=reason, decided_on=decided_on.isoformat()
        )
        return True

    @event("SubjectListingChanged")
    def _listing_changed(self, list_name: str, listed: bool, reason: str, decided_on: str) -> None:
        setattr(self, list_name, listed)
