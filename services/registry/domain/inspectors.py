"""执法检查人员名录库 — the directory of inspectors."""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidRecord
from services.registry.domain.ids import inspector_id

LEVELS = ("province", "city", "county")  # 省/市/县
STATUSES = ("active", "suspended", "transferred")  # 在岗, 暂停, 调离
_REGION = re.compile(r"^\d{6}$")


class Inspector(Aggregate):
    """执法检查人员 — an inspector who may be drawn into inspection groups."""

    @staticmethod
    def create_id(department: str, certificate_no: str, **_: Any) -> Any:
        return inspector_id(department, certificate_no)

    @event("InspectorRegistered")
    def __init__(
        self,
        department: str,
        certificate_no: str,
        name: str,
        level: str,
        region_code: str,
        categories: list[str],
        status: str,
        contact: str,
    ) -> None:
        self.department = department
        self.certificate_no = certificate_no
        self.name = name
        self.level = level
        self.region_code = region_code
        self.categories = list(categories)
        self.status = status
        self.contact = contact  # never disclosed

    @classmethod
    def register(cls, **fields: Any) -> Inspector:
        """Validate, then record ``InspectorRegistered``."""
        if fields["level"] not in LEVELS:
            raise InvalidRecord(f"level must be one of {LEVELS}, not {fields['level']!r}")
        if fields["status"] not in STATUSES:
            raise InvalidRecord(f"status must be one of {STATUSES}, not {fields['status']!r}")
        if not _REGION.match(fields["region_code"]):
            raise InvalidRecord("region code must be six digits (GB/T 2260)")
        return cls(**fields)
