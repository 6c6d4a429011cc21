"""抽查事项清单 — the random-inspection item list."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidItem, ItemStateError
from services.registry.domain.ids import item_id

CATEGORIES = ("general", "key")  # 一般检查事项 / 重点检查事项
METHODS = ("on_site", "documentary", "online", "sampling", "expert", "other_department")
MIN_GENERAL_RATIO = 0.05


def check_item(category: str, ratio: float, methods: list[str]) -> None:
    """Rules of the seeds: a general item is checked at ≥ 5 %; ratios are fractions."""
    if category not in CATEGORIES:
        raise InvalidItem(f"category must be one of {CATEGORIES}, not {category!r}")
    if not 0 < ratio <= 1:
        raise InvalidItem(f"ratio must be a fraction in (0, 1], not {ratio}")
    if category == "general" and ratio < MIN_GENERAL_RATIO:
        raise InvalidItem(
            f"a general item (一般检查事项) needs a ratio of at least 5 %, not {ratio:.2%}"
        )
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise InvalidItem(f"unknown methods {sorted(unknown)}; known: {list(METHODS)}")


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
        category: str,
        ratio: float,
        methods: list[str],
        legal_basis: str,
        subject_kinds: list[str],
    ) -> None:
        self.code = code
        self.department = department
        self.name = name
        self.category = category
        self.ratio = ratio
        self.methods = list(methods)
        self.legal_basis = legal_basis
        self.subject_kinds = list(subject_kinds)
        self.published = False

    @classmethod
    def register(cls, **fields: Any) -> InspectionItem:
        """Validate, then record ``ItemRegistered``."""
        check_item(fields["category"], fields["ratio"], fields["methods"])
        return cls(**fields)

    def publish(self) -> None:
        """Make the item usable by plans (only published items may be planned)."""
        if self.published:
            raise ItemStateError(f"item {self.code} is already published")
        self._published()

    @event("ItemPublished")
    def _published(self) -> None:
        self.published = True
