"""公示 — what a published result says, and when it is due (003: 20 working days).

The published event carries what the public record and the credit platforms need, so they
read it without asking: who was inspected, by whom, the category, per item whether a
problem was found, a refusal's case, the handling decision's date, and the publication
deadline with whether it was met. Notes, findings' wording, signatures and evidence stay in
the task's other events, which only the group, reviewers and auditors read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.results.domain.categories import CATEGORIES, CATEGORY_SEVERITY

PUBLICATION_WORKING_DAYS = 20


def item_result(points: list[Mapping[str, Any]]) -> str:
    """One item's result: ``problem`` if a point failed, ``no_problem`` if one conformed,
    else ``not_applicable`` (also for an item with no point recorded)."""
    states = {p["state"] for p in points}
    if "not_conforming" in states:
        return "problem"
    return "no_problem" if "conforming" in states else "not_applicable"


def public_items(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report's publishable part (no wording typed by staff)."""
    refusal = report.get("non_cooperation")
    return {
        "category": report["category"],
        "category_text": CATEGORIES[report["category"]],
        "severity": CATEGORY_SEVERITY[report["category"]],
        "pending_kind": report.get("pending_kind"),
        "non_cooperation_case": refusal["case"] if refusal else None,
        "inspected_from": report["inspected_from"],
        "inspected_to": report["inspected_to"],
        "items": [
            {
                "item_code": i["item_code"],
                "methods": i["methods"],
                "result": item_result(i["points"]),
            }
            for i in report["items"]
        ],
    }
