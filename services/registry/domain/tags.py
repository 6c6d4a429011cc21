"""标签字库 — the tag dictionary; each department manages its own tags."""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import InvalidRecord
from services.registry.domain.ids import tag_id

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Tag(Aggregate):
    """标签 — a label departments attach to subjects to target draws."""

    @staticmethod
    def create_id(code: str, **_: Any) -> Any:
        return tag_id(code)

    @event("TagDefined")
    def __init__(self, code: str, name: str, department: str, description: str) -> None:
        self.code = code
        self.name = name
        self.department = department
        self.description = description

    @classmethod
    def define(cls, **fields: Any) -> Tag:
        """Validate the code and record ``TagDefined``."""
        if not _CODE.match(fields["code"]):
            raise InvalidRecord("tag code: 1-64 letters, digits, '_', '.' or '-'")
        return cls(**fields)
