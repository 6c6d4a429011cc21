"""检查表 — the check form of each item: a base form and the item's own check points.

The base form is the item itself, or its sub-items (子项) when the item list gives them;
the item-specific form is the item's ``check_form`` in the item list. Both are copied into
the task when it is dispatched, so the form an inspection answers is the one defined before
it started, whatever the item list says later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def form_for(item: Mapping[str, Any]) -> dict[str, Any]:
    """The check form of one item (as the registry's item list gives it); an item the
    results service does not know (only code and name) gets a one-point base form and any
    method."""
    code, name = str(item["code"]), str(item.get("name") or item["code"])
    subs = [s for s in item.get("sub_items") or [] if s.get("code")]
    base = [
        {"point": f"base:{s['code']}", "text": str(s.get("name") or s["code"]), "kind": "base"}
        for s in subs
    ] or [{"point": f"base:{code}", "text": name, "kind": "base"}]
    specific = [
        {"point": f"form:{p['code']}", "text": str(p.get("text") or p["code"]), "kind": "item"}
        for p in item.get("check_form") or []
        if p.get("code")
    ]
    return {
        "item_code": code,
        "item_name": name,
        "methods": [str(m) for m in item.get("methods") or []],
        "points": base + specific,
    }


def point_codes(form: Mapping[str, Any]) -> list[str]:
    """The points of one item's form, in order."""
    return [str(p["point"]) for p in form["points"]]
