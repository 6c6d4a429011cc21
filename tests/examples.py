"""The worked examples of ssj-draw-3 in docs/examples (docs/draw-protocol.md §11), made
from their inputs here so a unit test keeps the files current:
``python -m tests.examples`` rewrites them after a deliberate change of the protocol.

The inputs are the v2 example's six subjects, roster and secret under ssj-draw-3: 双色球
issue 2026141, drawn 2026-12-08 21:15 Beijing time, announced that morning, and a blinding
key of 0x20…0x3f (an illustration: the service draws a random one per announcement)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.draw.protocol.blinding import Trees
from services.draw.protocol.canonical import canonical_json
from services.draw.protocol.forms import line_proof, proofs

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
KEY = bytes(range(32, 64))
LINE_OF = "91420203MA0000004X"  # a subject's own line proof: one the draw did not select


def inputs() -> dict[str, Any]:
    """The draw's inputs as the service holds them (from the committed inputs file)."""
    return json.loads((EXAMPLES / "draw-inputs-v3.json").read_text(encoding="utf-8"))


def documents() -> dict[str, dict[str, Any]]:
    """File name → document."""
    held = inputs()
    public, full = proofs(held, KEY)
    lines = held["pool"].split("\n")
    trees = Trees(held["announcement"], lines, KEY)
    line = line_proof(public["announcement"], trees, LINE_OF)
    return {
        "draw-proof-v3.json": public,
        "draw-proof-v3-full.json": full,
        "draw-line-v3.json": line,
    }


def text(document: dict[str, Any]) -> str:
    """As the files hold it: as the service serves proofs, canonical JSON (the one
    spelling ``ssj draw verify`` reads, docs/draw-protocol.md §10)."""
    return canonical_json(document).decode("utf-8")


if __name__ == "__main__":
    for name, document in documents().items():
        (EXAMPLES / name).write_text(text(document), encoding="utf-8")
        print(f"wrote docs/examples/{name}")
