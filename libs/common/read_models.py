"""Which read models there are, for ``ssj rebuild``: one per consumer, named
``<service>.<consumer>`` (``disclosure.results``), with the tables its
:class:`~libs.common.service.ConsumerSpec` declares.

Consumers of one service that write a common table (the results service's
``assignments`` are created from the draw stream and completed from its own) cannot be
rebuilt apart: emptying the table for one would lose what the other wrote. They form one
*unit*, rebuilt together, in the order the service declares its consumers.

The services' specifications are imported by name (``services.<name>.main.SPEC``), as the
event catalogue does, so this library does not depend on them; tests pass their own.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from libs.common.service import ConsumerSpec, ServiceSpec
from libs.common.settings import SERVICE_PORTS

# Table names are put into SQL: plain lower-case identifiers only.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class ReadModel:
    """One consumer's read model: the consumer, its service, the tables it writes."""

    service: ServiceSpec
    consumer: ConsumerSpec

    @property
    def name(self) -> str:
        """``<service>.<consumer>``, the name ``ssj rebuild`` takes."""
        return f"{self.service.name}.{self.consumer.name}"

    @property
    def schema(self) -> str:
        """The consuming service's schema (its read-model tables and positions)."""
        return self.service.name

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables the consumer declares (``ConsumerSpec.tables``)."""
        return self.consumer.tables


class UnknownReadModel(LookupError):
    """No read model of that name; ``known`` lists those there are."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.known = sorted(known)
        super().__init__(f"unknown read model {name!r}; known: {', '.join(self.known)}")


def service_specs() -> list[ServiceSpec]:
    """The five services' specifications."""
    return [importlib.import_module(f"services.{name}.main").SPEC for name in SERVICE_PORTS]


def read_models(specs: Sequence[ServiceSpec] | None = None) -> dict[str, ReadModel]:
    """Every consumer that declares its tables, by name, in declaration order."""
    models: dict[str, ReadModel] = {}
    for spec in service_specs() if specs is None else specs:
        for consumer in spec.consumers:
            if not consumer.tables:
                continue  # nothing declared: not something a rebuild may empty
            for table in consumer.tables:
                if not _IDENTIFIER.fullmatch(table):
                    raise ValueError(f"{spec.name}.{consumer.name}: bad table name {table!r}")
            model = ReadModel(spec, consumer)
            models[model.name] = model
    return models


def unit_of(name: str, models: dict[str, ReadModel]) -> list[ReadModel]:
    """The read model ``name`` and every one of its service that shares a table with it,
    directly or through another, in declaration order; raises :class:`UnknownReadModel`."""
    if name not in models:
        raise UnknownReadModel(name, models)
    found = {name}
    tables = set(models[name].tables)
    service = models[name].schema
    grew = True
    while grew:
        grew = False
        for other in models.values():
            if other.schema == service and other.name not in found and tables & set(other.tables):
                found.add(other.name)
                tables |= set(other.tables)
                grew = True
    return [m for m in models.values() if m.name in found]


def units(models: dict[str, ReadModel]) -> list[list[ReadModel]]:
    """Every read model once, grouped into the units they are rebuilt in."""
    seen: set[str] = set()
    out: list[list[ReadModel]] = []
    for name in models:
        if name not in seen:
            unit = unit_of(name, models)
            seen.update(m.name for m in unit)
            out.append(unit)
    return out
