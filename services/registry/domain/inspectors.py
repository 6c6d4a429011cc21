"""执法检查人员名录库 and 专家库 — the directories of inspectors and experts."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidRecord
from services.registry.domain.ids import expert_id, inspector_id
from services.registry.domain.regions import require_region

LEVELS = ("province", "city", "county")  # 省/市/县
STATUSES = ("active", "suspended", "transferred")  # 在岗, 暂停, 调离
CATEGORIES = ("general", "key")
CHANGEABLE = ("name", "level", "region_code", "specialties", "categories", "contact", "unit")


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InvalidRecord(f"{what} must be one of {allowed}, not {value!r}")


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
        specialties: list[str],
        categories: list[str],
        status: str,
        contact: str,
        unit: str = "",  # absent from events recorded before units existed
    ) -> None:
        self.department = department
        self.certificate_no = certificate_no
        self.name = name
        self.level = level
        self.region_code = region_code  # jurisdiction: a province, city or county code
        self.specialties = specialties
        self.categories = categories
        self.status = status
        self.contact = contact  # never disclosed
        # 执法机构/所 the inspector belongs to; the draw keeps inspectors away from subjects
        # their own unit routinely supervises (所所交叉). "" = not recorded.
        self.unit = unit

    @classmethod
    def register(cls, **fields: Any) -> Inspector:
        """Validate, then record ``InspectorRegistered``."""
        _one_of(fields["level"], LEVELS, "level")
        _one_of(fields["status"], STATUSES, "status")
        for category in fields["categories"]:
            _one_of(category, CATEGORIES, "qualified item category")
        require_region(fields["region_code"])
        if "unit" in fields:
            fields["unit"] = fields["unit"].strip()
        return cls(**fields)

    def change(self, **proposed: Any) -> dict[str, Any]:
        """Record ``InspectorChanged`` with only the fields that differ; return them."""
        unknown = set(proposed) - set(CHANGEABLE)
        if unknown:
            raise InvalidRecord(f"fields {sorted(unknown)} cannot be changed this way")
        if "unit" in proposed:
            proposed["unit"] = proposed["unit"].strip()
        changes = {k: v for k, v in proposed.items() if getattr(self, k) != v}
        if "level" in changes:
            _one_of(changes["level"], LEVELS, "level")
        for category in changes.get("categories", ()):
            _one_of(category, CATEGORIES, "qualified item category")
        if "region_code" in changes:
            require_region(changes["region_code"])
        if changes:
            self._changed(changes=changes)
        return changes

    @event("InspectorChanged")
    def _changed(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def change_status(self, status: str, reason: str) -> bool:
        """在岗 / 暂停 / 调离, with a reason; False if unchanged."""
        _one_of(status, STATUSES, "status")
        if status == self.status:
            return False
        self._status_changed(status=status, previous=self.status, reason=reason)
        return True

    @event("InspectorStatusChanged")
    def _status_changed(self, status: str, previous: str, reason: str) -> None:
        self.status = status


class Expert(Aggregate):
    """专家 — an expert who may be drawn to support an inspection."""

    @staticmethod
    def create_id(field: str, name: str, organisation: str, **_: Any) -> Any:
        return expert_id(field, name, organisation)

    @event("ExpertRegistered")
    def __init__(self, field: str, name: str, organisation: str, status: str, contact: str) -> None:
        self.field = field
        self.name = name
        self.organisation = organisation
        self.status = status
        self.contact = contact  # never disclosed

    @classmethod
    def register(cls, **fields: Any) -> Expert:
        """Validate, then record ``ExpertRegistered``."""
        _one_of(fields["status"], STATUSES, "status")
        return cls(**fields)
