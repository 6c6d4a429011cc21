"""RegistryApplication — the only way into the registry's write side."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from libs.common.eventstore import EventStoreApp
from services.registry.domain.ids import item_id
from services.registry.domain.inspectors import Inspector
from services.registry.domain.items import InspectionItem
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

    def get_item(self, code: str) -> InspectionItem:
        """The item as it stands now."""
        return self.repository.get(item_id(code))

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
