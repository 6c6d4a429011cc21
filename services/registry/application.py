"""RegistryApplication — the only way into the registry's write side."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from libs.common.eventstore import EventStoreApp
from services.registry.domain.errors import StaleVersion
from services.registry.domain.ids import item_id
from services.registry.domain.inspectors import Inspector
from services.registry.domain.items import InspectionItem, version_as_of
from services.registry.domain.subjects import Subject


class RegistryApplication(EventStoreApp):
    """Commands and queries of the item list and both directories."""

    service = "registry"

    def register_item(self, **fields: Any) -> InspectionItem:
        """Add an item to a department's list (not yet usable by plans)."""
        item = InspectionItem.register(**fields)
        self.save(item)
        return item

    def publish_item(self, code: str) -> InspectionItem:
        """Publish an item so that plans may use it."""
        item: InspectionItem = self.repository.get(item_id(code))
        item.publish()
        self.save(item)
        return item

    def change_item(self, code: str, expected_version: int, **fields: Any) -> InspectionItem:
        """Record the changed fields; 409 if someone changed the item since ``expected_version``."""
        item: InspectionItem = self.repository.get(item_id(code))
        if item.version != expected_version:
            raise StaleVersion(f"item {code} is at version {item.version}, not {expected_version}")
        item.change(**fields)
        self.save(item)
        return item

    def withdraw_item(self, code: str, reason: str) -> InspectionItem:
        """Withdraw a published item."""
        item: InspectionItem = self.repository.get(item_id(code))
        item.withdraw(reason)
        self.save(item)
        return item

    def get_item(self, code: str, as_of: datetime | None = None) -> InspectionItem:
        """The item as it stands now, or as it stood at ``as_of``."""
        aggregate_id = item_id(code)
        if as_of is None:
            return self.repository.get(aggregate_id)
        stamps = [
            (e.originator_version, vars(e)["timestamp"]) for e in self.events.get(aggregate_id)
        ]
        version = version_as_of(stamps, as_of)
        if version is None:
            raise AggregateNotFoundError(f"item {code} did not exist at {as_of.isoformat()}")
        return self.repository.get(aggregate_id, version=version)

    def register_subject(self, **fields: Any) -> Subject:
        """Add a subject to the directory (its identifier must be new)."""
        subject = Subject.register(**fields)
        self.save(subject)
        return subject

    def register_inspector(self, **fields: Any) -> Inspector:
        """Add an inspector to the directory."""
        inspector = Inspector.register(**fields)
        self.save(inspector)
        return inspector

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every stored event of one aggregate, oldest first."""
        return [
            {
                "version": e.originator_version,
                "type": type(e).__qualname__.rpartition(".")[2],
                "timestamp": vars(e)["timestamp"],
                "meta": getattr(e, "meta", {}),
                "data": {
                    k: v
                    for k, v in vars(e).items()
                    if k
                    not in {
                        "originator_id",
                        "originator_version",
                        "timestamp",
                        "meta",
                        "originator_topic",
                    }
                },
            }
            for e in self.events.get(aggregate_id)
        ]
