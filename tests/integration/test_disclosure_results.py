"""Results as the public reads them (一公开), through real results and disclosure processes:
the national system's fields joined from the plan, the task and the register, look-ups by
USCC, name fragment, region, department, outcome and period, what was published late and
what is overdue now, the follow-up and non-cooperation — and nothing of a result before it
is reviewed.

The registry, planner and draw services are not started: their events are published as
their relays would (tests/integration/draw_events.py, register_events.py).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from python_calamine import CalamineWorkbook

from libs.common.bus import ensure_stream
from services.disclosure.domain.export import HEADERS
from services.results.application import today_in_china
from tests.integration.draw_events import LEADER, draw_event, publish
from tests.integration.register_events import (
    publish_departments,
    publish_items,
    wait_for_departments,
)
from tests.integration.task_flow import report, tasks_of, until_state
from tests.support import Infra, ServiceProcess, token, wait_until

pytestmark = pytest.mark.own_infra
FORM_ITEM = {
    "code": "SAMR-R1",
    "department": "SAMR",
    "name": "食品经营许可检查",
    "methods": ["on_site", "documentary", "online", "other_department"],
    "sub_items": [{"code": "R1A", "name": "许可证在有效期内"}],
}
PLAN_ID, BATCH_ID = str(uuid.uuid4()), str(uuid.uuid4())
PLAN_NUMBER, TASK_NUMBER = "420200-2026-007", "420200-2026-007-01"
FORMULA_NAME = '=HYPERLINK("http://evil.example","点击")商贸有限公司'


def _plan_event(name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"planner:test-{uuid.uuid4()}",
        "source": "/ssj/planner",
        "type": f"ssj.planner.{name}.v1",
        "subject": PLAN_ID,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "aggregate": "Plan",
        "aggregateversion": version,
        "actorsub": "office-1",
        "actordept": "OFFICE",
        "actorroles": "office",
        "correlationid": str(uuid.uuid4()),
        "data": data,
    }


def publish_plan(infra: Infra) -> None:
    """A published plan with one batch (任务), as the planner's relay would put it."""
    created = _plan_event(
        "PlanCreated",
        1,
        {
            "year": today_in_china().year,
            "title": "黄石市2026年食品经营双随机联合抽查计划",
            "mode": "comprehensive",
            "initiating_department": "SAMR",
            "participating_departments": ["TAX"],
            "items": [],
            "batches": [
                {
                    "batch_id": BATCH_ID,
                    "task_number": TASK_NUMBER,
                    "name": "食品经营者联合检查",
                    "directed": False,
                }
            ],
            "number": PLAN_NUMBER,
        },
    )
    published = _plan_event("PlanPublished", 2, {})
    settings = infra.settings()

    async def send() -> None:
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, settings, "planner")
            for event in (created, published):
                name = event["type"].split(".")[2]
                await js.publish(
                    f"{settings.subject_prefix('planner')}.plan.{name}",
                    json.dumps(event).encode(),
                    stream=settings.stream_name("planner"),
                    headers={"Nats-Msg-Id": event["id"]},
                )
        finally:
            await nc.close()

    asyncio.run(send())


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    procs = {
        "results": ServiceProcess(
            infra, "results", SSJ_DISPATCH_SECONDS="0.2", SSJ_DEADLINE_WATCH_SECONDS="0.3"
        ).start(),
        "disclosure": ServiceProcess(infra, "disclosure").start(),
    }
    publish_departments(infra, ["SAMR", "TAX"])
    publish_items(infra, [FORM_ITEM])
    publish_plan(infra)
    for schema in ("results", "disclosure"):
        wait_for_departments(infra, schema, ["SAMR", "TAX"])
    yield procs
    for proc in procs.values():
        proc.stop()


@pytest.fixture(scope="module")
def public(stack: dict[str, ServiceProcess]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack["disclosure"].url, timeout=20) as client:
        yield client


def _client(proc: ServiceProcess, infra: Infra, sub: str, dept: str, role: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, role)}"}
    return httpx.Client(base_url=proc.url, headers=auth, timeout=20)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def _ago(days: int) -> str:
    return (today_in_china() - timedelta(days=days)).isoformat()


@pytest.fixture(scope="module")
def flows(infra: Infra, stack: dict[str, ServiceProcess]) -> dict[str, dict[str, Any]]:
    """Five drawn subjects through the results service: on time, late, a problem followed
    to its end, a refusal, and one submitted but never reviewed, long past its deadline."""
    results = stack["results"]
    leader = _client(results, infra, LEADER, "SAMR", "inspector")
    reviewer = _client(results, infra, "rev-samr", "SAMR", "reviewer")
    event = draw_event(str(uuid.uuid4()), _ago(3), subjects=5)
    event["data"].update(plan_id=PLAN_ID, batch_id=BATCH_ID)
    # A name a spreadsheet would run as a formula (whoever registers a company types it).
    event["data"]["subjects"][0]["name"] = FORMULA_NAME
    time_to_know_the_item(infra)
    publish(infra, [event])
    clean, late, problem, refused, waiting = tasks_of(leader, event["subject"], 5)
    today = today_in_china()

    def submit(task: dict[str, Any], body: dict[str, Any]) -> None:
        _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))

    def approve(task: dict[str, Any]) -> dict[str, Any]:
        return _ok(reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}))

    submit(clean, report(clean))
    approve(clean)
    long_ago = {
        "inspected_from": _ago(60),
        "inspected_to": _ago(59),
        "notice": {"given": True, "way": "phone", "on": _ago(61)},
    }
    submit(late, report(late, **long_ago))
    assert approve(late)["published"]["late"] is True
    submit(
        problem,
        report(problem, category="problem_pending", failing=1, pending_kind="correction_ordered"),
    )
    approve(problem)
    order = {"decided_on": today.isoformat(), "deadline": (today + timedelta(days=10)).isoformat()}
    _ok(leader.post(f"/v1/tasks/{problem['id']}/follow-up/order", json=order))
    again = {"reinspected_on": today.isoformat(), "corrected": False, "finding": "仍未改正"}
    _ok(leader.post(f"/v1/tasks/{problem['id']}/follow-up/reinspection", json=again))
    closure = {
        "outcome": "transferred",
        "decided_on": today.isoformat(),
        "receiving_department": "黄石市税务局",
    }
    _ok(leader.post(f"/v1/tasks/{problem['id']}/follow-up/closure", json=closure))
    refusal = report(refused, category="refused", items=[])
    refusal["non_cooperation"] = {"case": "denied_entry", "description": "拒绝检查人员进入"}
    submit(refused, refusal)
    approve(refused)
    submit(waiting, report(waiting, **long_ago))  # never reviewed
    for task in (clean, late, problem, refused):
        until_state(leader, task["id"], state="published")
    leader.close()
    reviewer.close()
    return {
        "clean": clean,
        "late": late,
        "problem": problem,
        "refused": refused,
        "waiting": waiting,
    }


def time_to_know_the_item(infra: Infra) -> None:
    """The results service copies the item's forms at dispatch: it must know the item."""
    import psycopg

    def known() -> bool:
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM results.items WHERE code = 'SAMR-R1'")
            return found.fetchone() is not None

    wait_until(known, timeout=30)


def _results(public: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return _ok(public.get("/v1/public/results", params={"limit": 1000, **params}))["items"]


def _all_shown(public: httpx.Client, flows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = {flows[k]["id"]: k for k in ("clean", "late", "problem", "refused")}

    def shown() -> dict[str, dict[str, Any]] | None:
        rows = {ids[r["record_id"]]: r for r in _results(public) if r["record_id"] in ids}
        done = (
            len(rows) == 4
            and rows["problem"]["follow_up"][-1:]
            and rows["problem"]["follow_up"][-1]["step"] == "transferred"
        )
        return rows if done else None

    return wait_until(shown, timeout=30)


def test_results_carry_the_national_systems_fields(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    rows = _all_shown(public, flows)
    clean = rows["clean"]
    assert clean["plan_number"] == PLAN_NUMBER
    assert clean["plan_name"] == "黄石市2026年食品经营双随机联合抽查计划"
    assert clean["task_number"] == TASK_NUMBER and clean["task_name"] == "食品经营者联合检查"
    assert clean["inspection_type"] == "不定向抽查"
    assert clean["inspecting_authority"] == "黄石市SAMR局" and clean["region_code"] == "420200"
    assert clean["inspected_on"] == date.today().isoformat()  # as report() dates the visit
    assert clean["outcome_text"] == "未发现问题" and clean["remark"] == ""
    assert clean["published_on"] == today_in_china().isoformat() and clean["late"] is False
    assert clean["publication_due"] > clean["published_on"]
    assert clean["editions"] == [
        {
            "edition": 1,
            "published_on": clean["published_on"],
            "outcome": "no_problem",
            "outcome_text": "未发现问题",
        }
    ]
    assert rows["late"]["late"] is True and rows["late"]["remark"] == "逾期公示"
    assert rows["late"]["publication_due"] < rows["late"]["published_on"]


def test_follow_up_and_non_cooperation_are_shown_with_the_result(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    rows = _all_shown(public, flows)
    problem = rows["problem"]
    assert [s["step"] for s in problem["follow_up"]] == ["ordered", "reinspected", "transferred"]
    assert problem["follow_up"][-1]["receiving_department"] == "黄石市税务局"
    assert problem["pending_kind"] == "correction_ordered"
    assert "后续处置：移交有管辖权的部门（黄石市税务局）" in problem["remark"]
    assert problem["decided_on"] == today_in_china().isoformat()
    refused = rows["refused"]
    assert refused["non_cooperation_case"] == "denied_entry"
    assert refused["non_cooperation_text"].startswith("拒绝、阻扰、妨碍检查人员")
    assert [r["record_id"] for r in _results(public, outcome="refused")] == [flows["refused"]["id"]]
    one = _ok(public.get(f"/v1/public/results/{flows['problem']['id']}"))
    assert one == problem


def test_look_ups_by_uscc_name_fragment_region_department_and_period(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    _all_shown(public, flows)
    late = flows["late"]
    ids = {flows[k]["id"] for k in ("clean", "late", "problem", "refused")}
    by_uscc = _results(public, identifier=late["subject_identifier"])
    assert [r["record_id"] for r in by_uscc] == [late["id"]]
    fragment = late["subject_name"][3:9]  # six digits of 黄石市NNNNNN商贸有限公司
    assert [r["record_id"] for r in _results(public, name=fragment)] == [late["id"]]
    assert {r["record_id"] for r in _results(public, name="商贸")} == ids
    assert _results(public, name="贸商") == []
    assert {r["record_id"] for r in _results(public, region="420000")} == ids
    assert _results(public, region="110000") == []
    assert {r["record_id"] for r in _results(public, department="SAMR")} == ids
    assert _results(public, department="TAX") == []
    assert [r["record_id"] for r in _results(public, late=True)] == [late["id"]]
    today = today_in_china()
    assert {r["record_id"] for r in _results(public, published_from=today.isoformat())} == ids
    assert _results(public, published_to=(today - timedelta(days=1)).isoformat()) == []
    first = _ok(public.get("/v1/public/results", params={"limit": 2}))
    second = _ok(public.get("/v1/public/results", params={"limit": 2, "after": first["next"]}))
    paged = [r["record_id"] for r in first["items"] + second["items"]]
    assert len(paged) == 4 and set(paged) == ids and paged == sorted(paged)
    for bad in (
        {"name": "商"},
        {"name": " 商 "},
        {"region": "42"},
        {
            "published_from": today.isoformat(),
            "published_to": (today - timedelta(days=1)).isoformat(),
        },
        {"name": "商\x00贸"},
    ):
        answer = public.get("/v1/public/results", params=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_an_unreviewed_result_is_not_shown_but_its_missed_deadline_is(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    _all_shown(public, flows)
    waiting = flows["waiting"]
    assert _results(public, identifier=waiting["subject_identifier"]) == []
    assert public.get(f"/v1/public/results/{waiting['id']}").status_code == 404

    def listed() -> list[dict[str, Any]] | None:
        rows = _ok(public.get("/v1/public/overdue"))["items"]
        return rows or None

    (overdue,) = wait_until(listed, timeout=30)
    assert overdue == {
        "task_id": waiting["id"],
        "kind": "publication",
        "kind_text": "逾期未公示",
        "due_on": overdue["due_on"],
        "noticed_on": today_in_china().isoformat(),
        "subject_identifier": waiting["subject_identifier"],
        "department": "SAMR",
        "inspecting_authority": "黄石市SAMR局",
    }
    assert overdue["due_on"] < today_in_china().isoformat()
    assert _ok(public.get("/v1/public/overdue", params={"kind": "follow_up"}))["items"] == []
    # The late result was published: it is listed as late, not as overdue.
    assert flows["late"]["id"] not in {r["task_id"] for r in [overdue]}


def _published_ids(flows: dict[str, dict[str, Any]]) -> set[str]:
    return {flows[k]["subject_identifier"] for k in ("clean", "late", "problem", "refused")}


def test_a_periods_export_is_recorded_by_its_hash_before_it_is_sent(
    infra: Infra, stack: dict[str, ServiceProcess], public: httpx.Client, flows: dict[str, Any]
) -> None:
    _all_shown(public, flows)
    url, today = stack["disclosure"].url, today_in_china().isoformat()
    office = {"Authorization": f"Bearer {token(infra, 'office-1', 'OFFICE', 'office')}"}
    period = {"period_from": today, "period_to": today, "format": "csv"}
    sent = httpx.post(f"{url}/v1/exports", json=period, headers=office, timeout=60)
    assert sent.status_code == 200, sent.text
    assert sent.headers["x-content-sha256"] == hashlib.sha256(sent.content).hexdigest()
    assert f"ssj-results-{today}_{today}.csv" in sent.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(sent.content.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    by_uscc = {r[6]: dict(zip(HEADERS, r, strict=True)) for r in rows[1:]}
    assert set(by_uscc) == _published_ids(flows)  # reviewed and published only
    late = by_uscc[flows["late"]["subject_identifier"]]
    assert late["抽查计划编号"] == PLAN_NUMBER and late["任务编号"] == TASK_NUMBER
    assert late["检查机关"] == "黄石市SAMR局" and late["抽查类型"] == "不定向抽查"
    assert late["检查结果"] == "未发现问题" and late["备注"] == "逾期公示"
    assert late["公示日期"] == today
    # No cell starts a formula; the hostile name is kept, neutralised.
    cells = [c for r in rows[1:] for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert f"'{FORMULA_NAME}" in cells

    record_id = sent.headers["x-export-id"]
    record = httpx.get(f"{url}/v1/exports/{record_id}", headers=office, timeout=20).json()
    assert record["sha256"] == sent.headers["x-content-sha256"]
    assert (record["rows"], record["size"], record["format"]) == (4, len(sent.content), "csv")

    auditor = {"Authorization": f"Bearer {token(infra, 'aud-1', 'OFFICE', 'auditor')}"}
    xlsx = httpx.post(
        f"{url}/v1/exports", json={**period, "format": "xlsx"}, headers=auditor, timeout=60
    )
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["x-content-sha256"] == hashlib.sha256(xlsx.content).hexdigest()
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).get_sheet_by_index(0)
    table = [[str(c) for c in r] for r in sheet.to_python()]
    assert table[0] == HEADERS
    assert sorted(table[1:]) == sorted(rows[1:])  # the same cells as the CSV


def test_an_export_is_for_the_office_and_auditors_and_a_sane_period(
    infra: Infra, stack: dict[str, ServiceProcess]
) -> None:
    url, today = stack["disclosure"].url, today_in_china()
    period = {"period_from": today.isoformat(), "period_to": today.isoformat()}
    assert httpx.post(f"{url}/v1/exports", json=period).status_code == 401
    inspector = {"Authorization": f"Bearer {token(infra, LEADER, 'SAMR', 'inspector')}"}
    assert httpx.post(f"{url}/v1/exports", json=period, headers=inspector).status_code == 403
    office = {"Authorization": f"Bearer {token(infra, 'office-1', 'OFFICE', 'office')}"}
    for bad in (
        {"period_from": today.isoformat(), "period_to": (today - timedelta(days=1)).isoformat()},
        {"period_from": "2025-01-01", "period_to": "2026-01-02"},
        {**period, "format": "xls"},
        {**period, "extra": 1},
    ):
        answer = httpx.post(f"{url}/v1/exports", json=bad, headers=office, timeout=20)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    missing = httpx.get(f"{url}/v1/exports/{uuid.uuid4()}", headers=office)
    assert missing.status_code == 404


def test_the_cli_exports_a_period_and_records_it(
    infra: Infra, tmp_path: Any, public: httpx.Client, flows: dict[str, Any]
) -> None:
    _all_shown(public, flows)
    today = today_in_china().isoformat()
    out = tmp_path / "sent.csv"
    args = ["export", "--from", today, "--to", today, "--format", "csv", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "libs.common.cli", "disclosure", *args],
        capture_output=True,
        text=True,
        env=infra.env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert "4 results" in done.stdout and digest in done.stdout
    backwards = subprocess.run(
        [
            sys.executable,
            "-m",
            "libs.common.cli",
            "disclosure",
            "export",
            "--from",
            today,
            "--to",
            "2000-01-01",
        ],
        capture_output=True,
        text=True,
        env=infra.env(),
        timeout=120,
    )
    assert backwards.returncode == 2 and "before it starts" in backwards.stderr
