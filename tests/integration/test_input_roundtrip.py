"""Projections accept every stored event: hostile but valid Unicode (every plane in use,
combining marks, RTL, ZWJ emoji, CJK Extension B, the longest allowed strings) goes through
the registry's commands, its relay and the read models of the registry, the planner and
the disclosure service, and reads back equal (in NFC). A NUL is refused at the door
(issue 10, section 1: it used to be stored and stop every read model behind it)."""

from __future__ import annotations

import itertools
import random
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from libs.common.commands import MAX_COMMAND_BYTES, wire_size
from tests.builders import inspector_payload, item_payload, subject_payload
from tests.integration.door import office, register_departments, send, stored_events
from tests.support import Infra, service_stack, wait_until

RUN = uuid.uuid4().hex[:6].upper()
PIECES = [
    "黄石市市场监督管理局",  # CJK (BMP)
    "Jose\u0301 Ame\u0301lie",  # combining acute: NFC composes
    "\u1112\u1161\u11ab\u1100\u116e\u11a8",  # Hangul jamo: NFC makes 한국
    "שָׁלוֹם",  # Hebrew with points (RTL, combining marks)
    "\u200fمَرْحَبًا\u200e",  # Arabic with harakat between RTL / LTR marks
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\U0001f1e8\U0001f1f3",  # ZWJ family, flag
    "\U00020000\U0002a6d6\U0002b740\U0002ceb0",  # CJK Extension B..F (plane 2)
    "\U00030000\U0003134a",  # CJK Extension G (plane 3)
    "\U0001d518\U0001d52b\U0001d526",  # mathematical fraktur (plane 1)
    "葛\U000e0100",  # ideographic variation sequence (plane 14)
    "\U000f0000\U0010fffd",  # private use, planes 15 and 16
    "\u0915\u093c",  # what NFC makes of U+0958 (a composition exclusion)
    "ﬁ\ufeff\u200b",  # ligature, BOM and zero-width space (format characters are kept)
    "'\";--\\/<b>%s{0}$1",  # quoting in SQL, JSON, HTML, format strings
]


def hostile(length: int, seed: int, multiline: bool = False) -> tuple[str, str]:
    """(what the client sends, what must read back): ``length`` characters after NFC,
    sent decomposed (NFD) and, when multi-line, with CR LF line ends."""
    rng = random.Random(seed)
    pieces = PIECES[:]
    rng.shuffle(pieces)
    glue = ["\n", "\t", " "] if multiline else [" "]
    # Whole pieces only, padded with 字 (a starter nothing composes with): NFC stays NFC.
    folded = "\u00e9"  # é: sent decomposed, whatever the length
    for piece in itertools.cycle(pieces):
        longer = unicodedata.normalize("NFC", folded + piece + rng.choice(glue))
        if len(longer) >= length:
            break
        folded = longer
    folded += "字" * (length - len(folded))
    assert unicodedata.normalize("NFC", folded) == folded and len(folded) == length
    sent = unicodedata.normalize("NFD", folded)
    assert sent != folded
    return (sent.replace("\n", "\r\n") if multiline else sent), folded


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[dict[str, httpx.Client]]:
    procs = list(service_stack(infra, ("registry", "planner", "disclosure")).values())
    for proc in procs:
        proc.start(wait=False)
    for proc in procs:
        proc.wait_ready()
    register_departments(procs[0].url, infra, ["SAMR"])
    clients = {proc.name: office(proc.url, infra) for proc in procs}
    yield clients
    for client in clients.values():
        client.close()
    for proc in procs:
        proc.stop()


def _item(code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    fields: dict[str, tuple[str, str]] = {
        "name": hostile(200, 1),
        "legal_basis": hostile(4_000, 2, multiline=True),
        "content": hostile(4_000, 3, multiline=True),
        "inspector_requirements": hostile(2_000, 4, multiline=True),
    }
    subs = [(f"S{n}", hostile(200, 10 + n)) for n in range(10)]
    form = [(f"C{n}", hostile(500, 30 + n, multiline=True)) for n in range(5)]
    body = item_payload(code, "SAMR", **{k: sent for k, (sent, _) in fields.items()})
    body["sub_items"] = [{"code": c, "name": sent} for c, (sent, _) in subs]
    body["check_form"] = [{"code": c, "text": sent} for c, (sent, _) in form]
    expected: dict[str, Any] = {k: folded for k, (_, folded) in fields.items()}
    expected["sub_items"] = [{"code": c, "name": folded} for c, (_, folded) in subs]
    expected["check_form"] = [{"code": c, "text": folded} for c, (_, folded) in form]
    assert wire_size({**body, **expected}) < MAX_COMMAND_BYTES  # the item itself is valid
    return body, expected


def _subject() -> tuple[dict[str, Any], dict[str, Any]]:
    limits = {
        "name": 200,
        "address": 500,
        "legal_form": 64,
        "legal_representative": 64,
    }  # (units are codes of the department register, not free text)
    fields = {k: hostile(n, 50 + i) for i, (k, n) in enumerate(limits.items())}
    body = subject_payload(random.Random(RUN), "C", region_code="420205")
    body.update({k: sent for k, (sent, _) in fields.items()})
    return body, {k: folded for k, (_, folded) in fields.items()}


def _inspector() -> tuple[dict[str, Any], dict[str, Any]]:
    limits = {"name": 64, "certificate_no": 64}
    fields = {k: hostile(n, 70 + i) for i, (k, n) in enumerate(limits.items())}
    specialties = [hostile(64, 80 + n) for n in range(20)]
    body = inspector_payload("SAMR", 1, **{k: sent for k, (sent, _) in fields.items()})
    body["specialties"] = [sent for sent, _ in specialties]
    expected: dict[str, Any] = {k: folded for k, (_, folded) in fields.items()}
    expected["specialties"] = [folded for _, folded in specialties]
    return body, expected


def _find(client: httpx.Client, path: str, key: str, value: str, **params: Any) -> Any:
    rows = client.get(path, params=params).json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    return next((r for r in rows if r[key] == value), None)


def test_a_nul_is_refused_at_the_door_and_stored_nowhere(
    stack: dict[str, httpx.Client], infra: Infra
) -> None:
    before = stored_events(infra, "registry")
    body = item_payload(f"NUL-{RUN}", "SAMR", name="黄石\x00商贸")
    response = send(stack["registry"], "POST", "/v1/items", body)
    assert response.status_code == 422, response.text
    assert stored_events(infra, "registry") == before


def test_hostile_unicode_reads_back_equal_from_every_read_model(
    stack: dict[str, httpx.Client],
) -> None:
    registry, planner, disclosure = stack["registry"], stack["planner"], stack["disclosure"]
    code = f"RT-{RUN}"
    item, item_expected = _item(code)
    subject, subject_expected = _subject()
    inspector, inspector_expected = _inspector()
    for path, body in (
        ("/v1/items", item),
        ("/v1/subjects", subject),
        ("/v1/inspectors", inspector),
    ):
        created = send(registry, "POST", path, body)
        assert created.status_code == 201, created.text
    assert registry.post(f"/v1/items/{code}/publish").status_code == 200

    row = wait_until(
        lambda: (r := _find(registry, "/v1/items", "code", code)) and r["published"] and r
    )
    assert {k: row[k] for k in item_expected} == item_expected
    row = wait_until(
        lambda: _find(
            registry, "/v1/subjects", "identifier", subject["identifier"], region_prefix="420205"
        )
    )
    assert {k: row[k] for k in subject_expected} == subject_expected
    certificate = inspector_expected["certificate_no"]
    row = wait_until(
        lambda: _find(registry, "/v1/inspectors", "certificate_no", certificate, department="SAMR")
    )
    assert {k: row[k] for k in inspector_expected} == inspector_expected

    copied = {k: item_expected[k] for k in ("name", "legal_basis")}
    row = wait_until(
        lambda: (r := _find(planner, "/v1/items", "code", code)) and r["published"] and r
    )
    assert {k: row[k] for k in copied} == copied
    row = wait_until(lambda: _find(disclosure, "/v1/public/items", "code", code))
    assert {k: row[k] for k in copied} == copied

    title, title_folded = hostile(200, 90)
    batch_name, batch_folded = hostile(100, 91)
    plan = {
        "year": 2026,
        "title": title,
        "mode": "comprehensive",
        "initiating_department": "SAMR",
        "item_codes": [code],
        "batches": [{"name": batch_name, "starts_on": "2026-04-01", "ends_on": "2026-06-30"}],
    }
    created = wait_until(
        lambda: (r := send(planner, "POST", "/v1/plans", plan)).status_code == 201 and r
    )
    plan_id = created.json()["id"]
    overrides = [{"item_code": code, "reason": "回填测试：样本不足"}]
    published = planner.post(f"/v1/plans/{plan_id}/publish", json={"floor_overrides": overrides})
    assert published.status_code == 200, published.text
    row = wait_until(lambda: _find(disclosure, "/v1/public/plans", "plan_id", plan_id))
    assert row["title"] == title_folded
    assert [b["name"] for b in row["batches"]] == [batch_folded]
