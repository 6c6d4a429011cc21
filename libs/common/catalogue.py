"""The event catalogue, generated from the aggregates themselves so it cannot drift:
JSON Schema of every event's ``data`` and an AsyncAPI 3.0 document of the streams.

``python -m libs.common.catalogue docs`` rewrites ``docs/asyncapi.json`` and the generated
part of ``docs/events.md``; a test fails when they are out of date.
"""

from __future__ import annotations

import importlib
import json
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate
from pydantic import create_model

from libs.common.envelope import event_type
from libs.common.settings import SERVICE_PORTS

_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
BEGIN = "<!-- BEGIN GENERATED: python -m libs.common.catalogue docs -->"
END = "<!-- END GENERATED -->"


@dataclass(frozen=True)
class EventEntry:
    """One published event type."""

    service: str
    aggregate: str
    name: str
    version: int
    fields: dict[str, Any]

    @property
    def type(self) -> str:
        """CloudEvents type."""
        return event_type(self.service, self.name, self.version)

    @property
    def subject(self) -> str:
        """NATS subject (without namespace)."""
        return f"ssj.{self.service}.{self.aggregate.lower()}.{self.name}"

    def schema(self) -> dict[str, Any]:
        """JSON Schema of the CloudEvent's ``data``."""
        model = create_model(self.name, **{k: (v, ...) for k, v in self.fields.items()})  # type: ignore[call-overload]
        schema = model.model_json_schema()
        schema["title"] = self.type
        return schema


def _events_of(service: str, aggregate: type[Aggregate]) -> list[EventEntry]:
    entries = []
    for name, value in sorted(vars(aggregate).items()):
        if not (isinstance(value, type) and issubclass(value, aggregate.Event)):
            continue
        if name in ("Event", "Created"):
            continue
        hints = typing.get_type_hints(value)
        fields = {
            k: v
            for k, v in hints.items()
            if k not in _BASE_FIELDS and typing.get_origin(v) is not typing.ClassVar
        }
        version = int(getattr(value, "class_version", 1))
        entries.append(EventEntry(service, aggregate.__name__, name, version, fields))
    return entries


def catalogue() -> list[EventEntry]:
    """Every event type of every service, from each service's ``SPEC.aggregates``."""
    entries: list[EventEntry] = []
    for service in SERVICE_PORTS:
        spec = importlib.import_module(f"services.{service}.main").SPEC
        for aggregate in spec.aggregates:
            entries += _events_of(service, aggregate)
    return entries


def asyncapi(entries: list[EventEntry]) -> dict[str, Any]:
    """AsyncAPI 3.0 document: one channel per event subject, CloudEvents messages."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for e in entries:
        key = f"{e.service}.{e.name}"
        messages[key] = {
            "name": e.type,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string"},
                    "Ssj-Content-Sha256": {
                        "type": "string",
                        "description": "SHA-256 (hex) of the stored event (originator id, "
                        "version, topic, state); the relay checks the stream's last message "
                        "against the database with it before publishing",
                    },
                    "traceparent": {"type": "string"},
                },
            },
            "payload": {
                "type": "object",
                "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
                "properties": {
                    "specversion": {"const": "1.0"},
                    "id": {"type": "string", "description": "<service>:<notification id>"},
                    "source": {"const": f"/ssj/{e.service}"},
                    "type": {"const": e.type},
                    "subject": {"type": "string", "description": "aggregate id"},
                    "time": {"type": "string", "format": "date-time"},
                    "actorsub": {"type": "string"},
                    "actordept": {"type": "string"},
                    "actorroles": {"type": "string"},
                    "correlationid": {"type": "string"},
                    "causationid": {"type": "string"},
                    "traceparent": {"type": "string"},
                    "aggregate": {"const": e.aggregate},
                    "aggregateversion": {"type": "integer"},
                    "prevhash": {"type": "string", "description": "hash-chained streams only"},
                    "data": e.schema(),
                },
            },
        }
        channels[key] = {
            "address": e.subject,
            "messages": {e.name: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"receive.{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ssj events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 (structured JSON) on NATS JetStream streams "
            "SSJ_<SERVICE>; deduplicate on the id attribute.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    return text or str(annotation).replace("typing.", "")


def markdown(entries: list[EventEntry]) -> str:
    """The generated tables of docs/events.md."""
    lines = [BEGIN, ""]
    for service in SERVICE_PORTS:
        mine = [e for e in entries if e.service == service]
        lines += [f"### {service}", ""]
        if not mine:
            lines += ["No events yet.", ""]
            continue
        for e in mine:
            fields = ", ".join(f"`{k}`: {_type_name(v)}" for k, v in e.fields.items()) or "—"
            lines += [f"- **`{e.type}`** on `{e.subject}` — {fields}"]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_docs(docs: Path) -> None:
    """Regenerate docs/asyncapi.json and the generated section of docs/events.md."""
    entries = catalogue()
    (docs / "asyncapi.json").write_text(
        json.dumps(asyncapi(entries), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    events_md = docs / "events.md"
    text = events_md.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    events_md.write_text(head + markdown(entries) + tail, encoding="utf-8")


if __name__ == "__main__":
    write_docs(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
