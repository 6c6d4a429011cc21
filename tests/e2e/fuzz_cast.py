"""Who fuzzes and what they know: a token of every role and the records of a demo cycle,
for tests/e2e/fuzz.py.

The cycle (tests/e2e/scenario.py) leaves a plan, a draw, its tasks and published results.
schemathesis dictionaries give half the path and query parameters and the body fields that
name such records one that exists, so the operations' own rules answer (409, 200, 201),
not only a 404 or a 422 for an unknown id.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from tests.support import Infra, token

OFFICE = "office"
# The roles of libs.common.auth.ROLES but the office's: one run shares its cases among them.
OTHER_ROLES = ("operator", "inspector", "auditor", "approver", "reviewer", "subject", "platform")


def cast(infra: Infra, cycle: dict[str, Any]) -> dict[str, str]:
    """A token of every role, each naming what a demo ``cycle`` made: the operator and the
    approver of the initiating department, an inspector leading a drawn group and a
    reviewer of that inspector's department (the task's implementing department), a drawn
    subject (its USCC), an auditor, a platform account, and the office."""
    draw = cycle["draw"]
    drawn = draw["subjects"][0]
    leader = drawn["inspectors"][0]
    initiating = cycle["plan"]["initiating_department"]
    return {
        OFFICE: token(infra, "fuzz-office", "OFFICE", "office"),
        "operator": token(infra, "fuzz-operator", initiating, "operator"),
        "inspector": token(infra, leader["inspector_id"], leader["department"], "inspector"),
        "auditor": token(infra, "fuzz-auditor", "OFFICE", "auditor"),
        "approver": token(infra, "fuzz-approver", initiating, "approver"),
        "reviewer": token(infra, "fuzz-reviewer", leader["department"], "reviewer"),
        "subject": token(infra, drawn["identifier"], "SUBJECT", "subject"),
        "platform": token(infra, "fuzz-platform", "PLATFORM", "platform"),
    }


# Body fields (schemathesis binding keys) that name a record, a department, a region or a
# day, and the dictionary each draws from: with them a generated body passes the domain's
# checks (a USCC's check digit, a registered department, a date not in the future) often
# enough for the operations' later rules to answer.
BODY_FIELDS = {
    "body.batch_id": "batch_id",
    "body.identifier": "identifier",
    "body.subject_identifier": "identifier",
    "body.inspector_id": "inspector_id",
    "body.department": "department",
    "body.initiating_department": "department",
    "body.receiving_department": "department",
    "body.departments[*]": "department",
    "body.participating_departments[*]": "department",
    "body.item_code": "item_code",
    "body.item_codes[*]": "item_code",
    "body.add_item_codes[*]": "item_code",
    "body.proposal_ids[*]": "proposal_id",
    "body.region_code": "region_code",
    "body.year": "year",
    "body.decided_on": "day",
    "body.declared_on": "day",
    "body.issued_on": "day",
    "body.reinspected_on": "day",
    "body.starts_on": "day",
    "body.ends_on": "day",
}


def known_records(cycle: dict[str, Any]) -> str:
    """schemathesis configuration: the records a demo ``cycle`` made, as dictionaries that
    parameters and body fields of these names draw from half the time (else a generated
    value), and positive cases in the stateful phase (a chain of calls starts from an
    accepted one)."""
    draw, plan = cycle["draw"], cycle["plan"]
    drawn = draw["subjects"][:5]
    items = [item["code"] for item in plan["items"]]
    path_and_query: dict[str, list[str]] = {
        "draw_id": [draw["id"]],
        "batch_id": [draw["batch_id"]],
        "plan_id": [plan["id"]],
        "proposal_id": list(plan["proposals"]),
        "identifier": [s["identifier"] for s in drawn],
        "inspector_id": [s["inspectors"][0]["inspector_id"] for s in drawn],
        "task": [task for task, _ in list(cycle["recorded"].values())[:5]],
        "record_id": [row["record_id"] for row in cycle["public"][:5]],
        "department": sorted({item["department"] for item in plan["items"]}),
        "code": [*items, draw["entropy_source"]],
        "region": [plan["region"]],
        "year": [str(plan["year"])],
    }
    values = {
        **path_and_query,
        "item_code": items,
        "region_code": sorted({s["region_code"] for s in drawn}),
        "day": [date.today().isoformat()],
    }
    lines = []
    for name, entries in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(entries)}", ""]
    lines.append("[parameters]")
    bindings = {**{name: name for name in path_and_query}, **BODY_FIELDS}
    for key, name in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    lines += ["", "[phases.stateful.generation]", 'mode = "positive"', ""]
    return "\n".join(lines)
