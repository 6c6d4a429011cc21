"""部门名录 — the register of departments kept by the joint-meeting office (联席会议办公室).

The seeds speak of 领导小组成员单位 (the departments that are members of the leading group)
and their 内设机构 (internal units), adjusted as departments are reorganised. Items,
inspectors, subjects' supervising departments, tags, plans and tokens name departments by
code from this register, so a typo or a department nobody registered cannot slip into the
events. A department is never deleted: the office deactivates it (``active`` false), and
from then on no new record may name it.
"""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidRecord, RegistryError
from services.registry.domain.ids import department_id
from services.registry.domain.regions import require_region

# Short upper-case ASCII codes: SAMR, TAX, EPB, 420000-SAMR, SAMR_LAW. They travel in
# tokens, event fields and URLs, so nothing that needs escaping or normalising.
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,31}$"
_CODE = re.compile(CODE_PATTERN)
LEVELS = ("province", "city", "county")  # 省级, 市级, 县级
CHANGEABLE = ("name", "level", "region_code", "parent", "active")
NAME_MAX = 100


class UnknownDepartment(RegistryError):
    """A write names a department that is not in the register, or no longer active.

    ``field`` is the request field that named it; the API reports it the way it reports
    validation errors (``errors[].field``).
    """

    def __init__(self, field: str, codes: list[str], inactive: list[str] | None = None) -> None:
        self.field = field
        self.codes = sorted(codes)
        self.inactive = sorted(inactive or [])
        missing = [c for c in self.codes if c not in self.inactive]
        parts = []
        if missing:
            parts.append(f"not in the department register (部门名录): {missing}")
        if self.inactive:
            parts.append(f"deactivated: {self.inactive}")
        super().__init__(f"{field} names unknown departments; " + "; ".join(parts))

    @property
    def problem_extensions(self) -> dict[str, Any]:
        """The field-by-field form of the problem+json answer."""
        return {
            "errors": [
                {
                    "field": self.field,
                    "in": "body",
                    "code": "unknown_department",
                    "message": str(self),
                    "departments": self.codes,
                }
            ]
        }


def check_code(code: str) -> None:
    """A department code is a short upper-case ASCII code."""
    if not _CODE.match(code):
        raise InvalidRecord(
            f"department code {code!r} must be 1–32 upper-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )


def check_fields(fields: dict[str, Any], code: str) -> None:
    """Rules of the changeable fields (the parent's existence is the application's)."""
    if "name" in fields:
        name = fields["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
            raise InvalidRecord(f"a department's name is 1–{NAME_MAX} characters")
    if "level" in fields and fields["level"] not in LEVELS:
        raise InvalidRecord(f"level must be one of {LEVELS}, not {fields['level']!r}")
    if "region_code" in fields:
        require_region(fields["region_code"])
    if fields.get("parent"):
        check_code(fields["parent"])
        if fields["parent"] == code:
            raise InvalidRecord("a department cannot be its own parent")
    if "active" in fields and not isinstance(fields["active"], bool):
        raise InvalidRecord("active is true or false")


class Department(Aggregate):
    """部门 — a member department of the leading group, or one of its 内设机构 (``parent``
    names the department it belongs to)."""

    @staticmethod
    def create_id(code: str, **_: Any) -> Any:
        return department_id(code)

    @event("DepartmentRegistered")
    def __init__(self, code: str, name: str, level: str, region_code: str, parent: str) -> None:
        self.code = code
        self.name = name
        self.level = level
        self.region_code = region_code  # the jurisdiction, GB/T 2260
        self.parent = parent  # "" for a member department; else the code of its department
        self.active = True

    @classmethod
    def register(cls, *, code: str, **fields: Any) -> Department:
        """Validate, then record ``DepartmentRegistered``."""
        check_code(code)
        fields = {"parent": "", **fields}
        fields["name"] = str(fields.get("name", "")).strip()
        check_fields(fields, code)
        return cls(code=code, **fields)

    def fields(self) -> dict[str, Any]:
        """The changeable fields as they stand."""
        return {name: getattr(self, name) for name in CHANGEABLE}

    def change(self, **proposed: Any) -> dict[str, Any]:
        """Record ``DepartmentChanged`` with only the fields that differ; return them.
        Deactivating is ``active=False``: the department stays, with its history."""
        unknown = set(proposed) - set(CHANGEABLE)
        if unknown:
            raise InvalidRecord(f"fields {sorted(unknown)} cannot be changed")
        if "name" in proposed and isinstance(proposed["name"], str):
            proposed["name"] = proposed["name"].strip()
        changes = {k: v for k, v in proposed.items() if getattr(self, k) != v}
        if changes:
            check_fields(changes, self.code)
            self._changed(changes=changes)
        return changes

    @event("DepartmentChanged")
    def _changed(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
