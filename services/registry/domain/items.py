"""抽查事项清单 — the random-inspection item list, versioned by events.

Every change is an event (``ItemRegistered``, ``ItemChanged`` with only the changed fields,
``ItemPublished``, ``ItemWithdrawn``), so the list can be read as it stood on any date.
Only published items may be used by plans.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidItem, ItemStateError
from services.registry.domain.ids import item_id

CATEGORIES = ("general", "key")  # 一般检查事项 / 重点检查事项
# 实地检查, 书面检查, 网络监测, 抽样检测, 委托专业机构, 采用其他部门结果
METHODS = ("on_site", "documentary", "online", "sampling", "expert", "other_department")
SUBJECT_KINDS = ("for_profit", "non_profit", "non_market")
MIN_GENERAL_RATIO = 0.05
# Fields an ItemChanged event may carry; code and department identify the item.
CHANGEABLE = (
    "name",
    "sub_items",
    "legal_basis",
    "subject_kinds",
    "content",
    "methods",
    "category",
    "ratio",
    "frequency_per_year",
    "inspector_requirements",
    "internet_plus_code",
    "check_form",
)


def check_item(fields: dict[str, Any]) -> None:
    """Rules of the seeds: categories, methods, subject kinds; a general item ≥ 5 %."""
    category, ratio = fields["category"], fields["ratio"]
    if category not in CATEGORIES:
        raise InvalidItem(f"category must be one of {CATEGORIES}, not {category!r}")
    if not 0 < ratio <= 1:
        raise InvalidItem(f"ratio must be a fraction in (0, 1], not {ratio}")
    if category == "general" and ratio < MIN_GENERAL_RATIO:
        raise InvalidItem(
            f"a general item (一般检查事项) needs a ratio of at least 5 %, not {ratio:.2%}"
        )
    for name, allowed in (("methods", METHODS), ("subject_kinds", SUBJECT_KINDS)):
        values = fields[name]
        if not values:
            raise InvalidItem(f"{name} must not be empty")
        unknown = set(values) - set(allowed)
        if unknown:
            raise InvalidItem(f"unknown {name} {sorted(unknown)}; known: {list(allowed)}")
    if fields["frequency_per_year"] < 1:
        raise InvalidItem("frequency_per_year must be at least 1")


class InspectionItem(Aggregate):
    """抽查事项 — one item of a department's random-inspection list."""

    @staticmethod
    def create_id(code: str, **_: Any) -> Any:
        return item_id(code)

    @event("ItemRegistered")
    def __init__(
        self,
        code: str,
        department: str,
        name: str,
        sub_items: list[dict[str, str]],
        legal_basis: str,
        subject_kinds: list[str],
        content: str,
        methods: list[str],
        category: str,
        ratio: float,
        frequency_per_year: int,
        inspector_requirements: str,
        internet_plus_code: str,
        check_form: list[dict[str, str]],
    ) -> None:
        self.code = code
        self.department = department
        self.name = name
        self.sub_items = sub_items
        self.legal_basis = legal_basis
        self.subject_kinds = subject_kinds
        self.content = content
        self.methods = methods
        self.category = category
        self.ratio = ratio
        self.frequency_per_year = frequency_per_year
        self.inspector_requirements = inspector_requirements
        self.internet_plus_code = internet_plus_code
        self.check_form = check_form
        self.published = False

    @classmethod
    def register(cls, **fields: Any) -> InspectionItem:
        """Validate, then record ``ItemRegistered``."""
        check_item(fields)
        return cls(**fields)

    def fields(self) -> dict[str, Any]:
        """The changeable fields as they stand."""
        return {name: getattr(self, name) for name in CHANGEABLE}

    def change(self, **proposed: Any) -> dict[str, Any]:
        """Record ``ItemChanged`` with only the fields that differ; return them."""
        unknown = set(proposed) - set(CHANGEABLE)
        if unknown:
            raise InvalidItem(f"fields {sorted(unknown)} cannot be changed")
        changes = {k: v for k, v in proposed.items() if getattr(self, k) != v}
        if changes:
            check_item({**self.fields(), **changes})
            self._changed(changes=changes)
        return changes

    @event("ItemChanged")
    def _changed(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def publish(self) -> None:
        """Make the item usable by plans (only published items may be planned)."""
        if self.published:
            raise ItemStateError(f"item {self.code} is already published")
        self._published()

    @event("ItemPublished")
    def _published(self) -> None:
        self.published = True

    def withdraw(self, reason: str) -> None:
        """Take the item out of use; existing plans keep what they copied."""
        if not self.published:
            raise ItemStateError(f"item {self.code} is not published")
        if not reason.strip():
            raise InvalidItem("withdrawing an item needs a reason")
        self._withdrawn(reason=reason)

    @event("ItemWithdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.published = False


def version_as_of(timestamps: Iterable[tuple[int, datetime]], cutoff: datetime) -> int | None:
    """The last version recorded at or before ``cutoff`` (None if the item did not exist)."""
    versions = [version for version, at in timestamps if at <= cutoff]
    return max(versions) if versions else None
