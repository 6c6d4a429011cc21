"""Every field of every public answer is on the documented allow-list (公示字段).

The allow-lists are the disclosure service's (services/disclosure/domain/public.py) and
the table "What the public sees" of docs/api.md, which must name each of them. The public
answers are read after the fixtures planted staff's free text where it is most tempting to
leak: a published task's point finding and report summary naming an informant, a record's
finding note (of before tasks existed) naming them too, a replacement's typed reason and
approver, a conflict's detail. None of it may appear in any public answer, the draw's proof
included.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.disclosure.domain import national, public
from tests.access.conftest import APPROVER_CANARY, NOTE_CANARY, REASON_CANARY, Stack
from tests.support import ROOT

pytestmark = pytest.mark.e2e
CANARIES = (NOTE_CANARY, REASON_CANARY, APPROVER_CANARY)
# The row of the docs table that documents each answer, by a path its first cell names.
ANSWERS = {
    "items": "`GET /v1/public/items`",
    "item_versions": "`GET /v1/public/items/{department}/{code}/versions`",
    "plans": "`GET /v1/public/plans`",
    "plan_versions": "`GET /v1/public/plans/{id}/versions`",
    "draws": "`GET /v1/public/draws`",
    "results": "`GET /v1/public/results`",
    "overdue": "`GET /v1/public/overdue`",
}
MODULE_LISTS = {
    "draws": (
        public.PUBLIC_DRAW_FIELDS
        + public.PUBLIC_SUBJECT_FIELDS
        + public.PUBLIC_MEMBER_FIELDS
        + public.PUBLIC_REPLACEMENT_FIELDS
    ),
    "results": (
        national.NATIONAL_RESULT_FIELDS
        + public.PUBLIC_FINDING_FIELDS
        + national.PUBLIC_FOLLOW_UP_FIELDS
        + national.PUBLIC_EDITION_FIELDS
    ),
    "overdue": national.PUBLIC_OVERDUE_FIELDS,
}


def documented_fields() -> dict[str, set[str]]:
    """Field names per answer, from docs/api.md "What the public sees"."""
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## What the public sees", 1)[1].split("\n## ", 1)[0]
    fields: dict[str, set[str]] = {}
    for answer, marker in ANSWERS.items():
        (row,) = [line for line in section.splitlines() if line.startswith(f"| {marker}")]
        cells = row.split("|")
        names = re.findall(r"`([a-z_]+)(?:\[\])?`", cells[2])
        fields[answer] = set(names)
    return fields


# Maps keyed by data, not by field name: a stratum (risk class A-D, or * for one stratum).
KEYED_BY_STRATUM = ("strata", "strata_rules", "ratios", "pool_roots")


def keys(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (where, key) of a JSON document, recursively (a stratum map's keys are its
    strata, checked to be strata, not field names)."""
    if isinstance(value, dict):
        if where.rsplit(".", 1)[-1] in KEYED_BY_STRATUM:
            assert set(value) <= {"A", "B", "C", "D", "*"}, (where, sorted(value))
            for key, inner in value.items():
                yield from keys(inner, f"{where}.{key}")
            return
        for key, inner in value.items():
            yield where, key
            yield from keys(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner, f"{where}[]")


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)
    elif isinstance(value, str):
        yield value


def public_answers(stack: Stack) -> dict[str, Any]:
    """The anonymous answers, as the public gets them."""
    url = stack.urls["disclosure"]
    draw_id = stack.fx["draw"]["id"]
    get = httpx.Client(timeout=30).get
    items = get(f"{url}/v1/public/items", params={"limit": 1000}).json()
    one = items[0]
    return {
        "items": items,
        "item_versions": get(
            f"{url}/v1/public/items/{one['department']}/{one['code']}/versions"
        ).json(),
        "overdue": get(f"{url}/v1/public/overdue", params={"limit": 1000}).json()["items"],
        "plans": get(f"{url}/v1/public/plans", params={"limit": 1000}).json(),
        "plan_versions": get(f"{url}/v1/public/plans/{stack.fx['plan_id']}/versions").json(),
        "draws": [
            *get(f"{url}/v1/public/draws", params={"limit": 1000}).json(),
            get(f"{url}/v1/public/draws/{draw_id}").json(),
        ],
        "results": [
            *get(f"{url}/v1/public/results", params={"limit": 1000}).json()["items"],
            get(f"{url}/v1/public/results/{stack.fx['noted_task']}").json(),
        ],
    }


def test_the_docs_name_every_field_of_the_disclosure_allow_lists() -> None:
    documented = documented_fields()
    for answer, fields in MODULE_LISTS.items():
        assert set(fields) - documented[answer] == set(), answer


def test_every_field_of_every_public_answer_is_documented(stack: Stack) -> None:
    documented = documented_fields()
    answers = public_answers(stack)
    # Nothing is overdue in this stack: an overdue row is held key for key by
    # tests/integration/test_disclosure_results.py (its answer is checked there).
    assert all(v for k, v in answers.items() if k != "overdue"), {
        k: len(v) for k, v in answers.items()
    }
    undocumented = {
        f"{answer}{where}.{key}"
        for answer, body in answers.items()
        for where, key in keys(body)
        if key not in documented[answer]
    }
    assert sorted(undocumented) == [], "\n".join(sorted(undocumented))


def _staff_read(stack: Stack, path: str) -> str:
    office = {"Authorization": f"Bearer {stack.token('office-canary', 'OFFICE', 'office')}"}
    answer = httpx.get(stack.urls["results"] + path, headers=office, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_no_staff_text_reaches_a_public_answer_or_the_proof(stack: Stack) -> None:
    answers = public_answers(stack)
    draw_id = stack.fx["draw"]["id"]
    answers["proof"] = httpx.get(f"{stack.urls['draw']}/v1/draws/{draw_id}/proof").json()
    # The portal's pages and feed read the same rows: none of the plants there either.
    portal = stack.urls["disclosure"]
    noted = httpx.get(f"{portal}/v1/public/results/{stack.fx['noted_task']}").json()
    paths = [
        "/",
        "/feed.atom",
        "/overdue",
        "/non-cooperation",
        f"/draws/{draw_id}",
        f"/results/{stack.fx['noted_task']}",
        f"/results/{stack.fx['record_id']}",
        f"/companies/{noted['subject_identifier']}",
    ]
    pages = {path: httpx.get(portal + path, timeout=30) for path in paths}
    assert {p: r.status_code for p, r in pages.items()} == dict.fromkeys(paths, 200)
    answers["portal"] = [html.unescape(r.text) for r in pages.values()]
    # The plants are where staff can read them, in results the public sees (so the test
    # can fail): the noted task's finding and summary, the record's finding note.
    noted = json.loads(_staff_read(stack, f"/v1/tasks/{stack.fx['noted_task']}"))
    assert noted["report"]["summary"] == NOTE_CANARY
    assert NOTE_CANARY in {p["finding"] for i in noted["report"]["items"] for p in i["points"]}
    assert NOTE_CANARY in _staff_read(stack, f"/v1/results/{stack.fx['record_id']}")
    public = {r["record_id"] for r in answers["results"]}
    assert {stack.fx["noted_task"], stack.fx["record_id"]} <= public
    leaked = {
        (answer, canary)
        for answer, body in answers.items()
        for text in strings(body)
        for canary in CANARIES
        if canary in text
    }
    assert leaked == set()
    proof_keys = {key for _, key in keys(answers["proof"])}
    assert proof_keys & {"approver", "note", "detail", "contact"} == set()


def test_readyz_shows_the_public_its_status_and_nothing_else(stack: Stack) -> None:
    operator = {"Authorization": f"Bearer {stack.token('op-readyz', 'SAMR', 'operator')}"}
    auditor = {"Authorization": f"Bearer {stack.token('auditor-readyz', 'OFFICE', 'auditor')}"}
    for url in stack.urls.values():
        for who in ({}, operator):
            assert set(httpx.get(f"{url}/readyz", headers=who).json()) == {"status"}, url
        assert "checks" in httpx.get(f"{url}/readyz", headers=auditor).json()
