"""The published event catalogue matches the code."""

from __future__ import annotations

import json
from pathlib import Path

from libs.common.catalogue import BEGIN, END, asyncapi, catalogue, markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_service_event_is_catalogued_with_a_versioned_type() -> None:
    entries = catalogue()
    types = {e.type for e in entries}
    assert "ssj.draw.DrawExecuted.v1" in types
    assert "ssj.registry.SubjectRegistered.v1" in types
    assert all(t.startswith("ssj.") and t.rsplit(".", 1)[1].startswith("v") for t in types)


def test_docs_events_md_is_up_to_date() -> None:
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    generated = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert generated == markdown(catalogue()), "run: python -m libs.common.catalogue docs"


def test_docs_asyncapi_is_up_to_date() -> None:
    on_disk = json.loads((DOCS / "asyncapi.json").read_text(encoding="utf-8"))
    assert on_disk == asyncapi(catalogue()), "run: python -m libs.common.catalogue docs"
