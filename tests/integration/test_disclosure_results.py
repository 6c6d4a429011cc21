"""Results as the public reads them (一公开), through real results and disclosure processes:
the national system's fields joined from the plan, the task and the register, look-ups by
USCC, name fragment, region, department, outcome and period, what was published late and
what is overdue now, the follow-up and non-cooperation — and nothing of a result before it
is reviewed.

The registry, planner and draw services are not started: their events are published as
their relays would (tests/integration/draw_events.py, register_events.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from python_calamine import CalamineWorkbook

from services.disclosure.domain.export import COLUMNS, HEADERS, neutralise
from services.results.application import today_in_china
from tests.integration.disclosure_flows import (
    BATCH_ID,
    FORMULA_NAME,
    PLAN_ID,
    PLAN_NUMBER,
    TASK_NUMBER,
    _client,
    ago,
    all_shown,
    make_flows,
    ok,
    public_client,
    results_of,
    run_stack,
)
from tests.integration.draw_events import LEADER, draw_event, publish
from tests.integration.task_flow import report, tasks_of
from tests.support import Infra, ServiceProcess, token, wait_until

pytestmark = pytest.mark.own_infra


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    yield from run_stack(infra)


@pytest.fixture(scope="module")
def public(stack: dict[str, ServiceProcess]) -> Iterator[httpx.Client]:
    yield from public_client(stack)


@pytest.fixture(scope="module")
def flows(infra: Infra, stack: dict[str, ServiceProcess]) -> dict[str, dict[str, Any]]:
    return make_flows(infra, stack)


def test_results_carry_the_national_systems_fields(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    rows = all_shown(public, flows)
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
    rows = all_shown(public, flows)
    problem = rows["problem"]
    assert [s["step"] for s in problem["follow_up"]] == ["ordered", "reinspected", "transferred"]
    assert problem["follow_up"][-1]["receiving_department"] == "黄石市税务局"
    assert problem["pending_kind"] == "correction_ordered"
    assert "后续处置：移交有管辖权的部门（黄石市税务局）" in problem["remark"]
    assert problem["decided_on"] == today_in_china().isoformat()
    refused = rows["refused"]
    assert refused["non_cooperation_case"] == "denied_entry"
    assert refused["non_cooperation_text"].startswith("拒绝、阻扰、妨碍检查人员")
    assert [r["record_id"] for r in results_of(public, outcome="refused")] == [
        flows["refused"]["id"]
    ]
    one = ok(public.get(f"/v1/public/results/{flows['problem']['id']}"))
    assert one == problem


def test_look_ups_by_uscc_name_fragment_region_department_and_period(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    all_shown(public, flows)
    late = flows["late"]
    ids = {flows[k]["id"] for k in ("clean", "late", "problem", "refused")}
    by_uscc = results_of(public, identifier=late["subject_identifier"])
    assert [r["record_id"] for r in by_uscc] == [late["id"]]
    fragment = late["subject_name"][3:9]  # six digits of 黄石市NNNNNN商贸有限公司
    assert [r["record_id"] for r in results_of(public, name=fragment)] == [late["id"]]
    assert {r["record_id"] for r in results_of(public, name="商贸")} == ids
    assert results_of(public, name="贸商") == []
    assert {r["record_id"] for r in results_of(public, region="420000")} == ids
    assert results_of(public, region="110000") == []
    assert {r["record_id"] for r in results_of(public, department="SAMR")} == ids
    assert results_of(public, department="TAX") == []
    assert [r["record_id"] for r in results_of(public, late=True)] == [late["id"]]
    today = today_in_china()
    assert {r["record_id"] for r in results_of(public, published_from=today.isoformat())} == ids
    assert results_of(public, published_to=(today - timedelta(days=1)).isoformat()) == []
    first = ok(public.get("/v1/public/results", params={"limit": 2}))
    second = ok(public.get("/v1/public/results", params={"limit": 2, "after": first["next"]}))
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
        # Two characters that normalise to one (a space, then a mark NFKC composes): once
        # a 500, when the key was normalised a second time to look up its pairs.
        {"name": "a \u0308"},
        {"name": "ㄱ ㅏ"},
    ):
        answer = public.get("/v1/public/results", params=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_an_unreviewed_result_is_not_shown_but_its_missed_deadline_is(
    public: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    all_shown(public, flows)
    waiting = flows["waiting"]
    assert results_of(public, identifier=waiting["subject_identifier"]) == []
    assert public.get(f"/v1/public/results/{waiting['id']}").status_code == 404

    def listed() -> list[dict[str, Any]] | None:
        rows = ok(public.get("/v1/public/overdue"))["items"]
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
    assert ok(public.get("/v1/public/overdue", params={"kind": "follow_up"}))["items"] == []
    # The late result was published: it is listed as late, not as overdue.
    assert flows["late"]["id"] not in {r["task_id"] for r in [overdue]}


def _published_ids(flows: dict[str, dict[str, Any]]) -> set[str]:
    return {flows[k]["subject_identifier"] for k in ("clean", "late", "problem", "refused")}


def test_a_periods_export_is_recorded_by_its_hash_before_it_is_sent(
    infra: Infra, stack: dict[str, ServiceProcess], public: httpx.Client, flows: dict[str, Any]
) -> None:
    all_shown(public, flows)
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
    # Every row holds what the public API says of that result, neutralised.
    for uscc, row in by_uscc.items():
        (api,) = results_of(public, identifier=uscc)
        assert row == {header: neutralise(api[field]) for header, field in COLUMNS}, uscc
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
        {"period_from": "0001-01-01", "period_to": "0001-12-31"},
        {"period_from": "9999-12-01", "period_to": "9999-12-31"},
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
    all_shown(public, flows)
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


def test_public_lists_are_paged_by_keyset_and_a_forged_cursor_is_422(
    public: httpx.Client, flows: dict[str, Any]
) -> None:
    all_shown(public, flows)
    plans = public.get("/v1/public/plans", params={"limit": 1})
    assert plans.status_code == 200 and len(plans.json()) == 1
    assert "next" not in plans.links  # one plan: no next page
    for path in ("/v1/public/items", "/v1/public/plans", "/v1/public/draws"):
        for forged in ("eyJhIjoxfQ", "WyIyMDI2LTEzLTAxIiwieCJd", "%00", "a" * 600):
            answer = public.get(path, params={"after": forged})
            assert answer.status_code == 422, (path, forged, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_follow_up_re_inspected_on_time_but_entered_late_is_overdue_no_more(
    infra: Infra, stack: dict[str, ServiceProcess], public: httpx.Client
) -> None:
    """Found by an adversarial review: only a step dated on or after the missed deadline
    took a task off "overdue now", so a re-inspection made on time and entered late left it
    there for good. (Last in this module: the earlier tests count the overdue list.)"""
    leader = _client(stack["results"], infra, LEADER, "SAMR", "inspector")
    reviewer = _client(stack["results"], infra, "rev-samr", "SAMR", "reviewer")
    event = draw_event(str(uuid.uuid4()), ago(3), subjects=1)
    event["data"].update(plan_id=PLAN_ID, batch_id=BATCH_ID)
    publish(infra, [event])
    (task,) = tasks_of(leader, event["subject"], 1)
    visit = {
        "inspected_from": ago(60),
        "inspected_to": ago(59),
        "notice": {"given": True, "way": "phone", "on": ago(61)},
    }
    body = report(
        task, category="problem_pending", failing=1, pending_kind="correction_ordered", **visit
    )
    ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))
    ok(reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}))
    order = {"decided_on": ago(30), "deadline": ago(20)}  # entered today: overdue at once
    ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/order", json=order))

    def listed() -> bool:
        rows = ok(public.get("/v1/public/overdue", params={"kind": "follow_up"}))["items"]
        return any(r["task_id"] == task["id"] for r in rows)

    wait_until(listed, timeout=30)
    again = {"reinspected_on": ago(25), "corrected": True, "finding": "已改正"}  # on time
    ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/reinspection", json=again))
    wait_until(lambda: not listed(), timeout=30)


def test_a_correction_is_in_the_export_of_the_period_it_was_published_in(
    infra: Infra, stack: dict[str, ServiceProcess], public: httpx.Client, flows: Any
) -> None:
    """Found by an adversarial review: a period's file held the results first published in
    it, so a correction published later reached no later file. (The first edition's day is
    moved back 40 days in the read model, as if the correction came that much later.)"""
    import psycopg

    clean = flows["clean"]
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE disclosure.results SET published_on = %s WHERE record_id = %s",
            (ago(40), clean["id"]),
        )
    leader = _client(stack["results"], infra, LEADER, "SAMR", "inspector")
    reviewer = _client(stack["results"], infra, "rev-samr", "SAMR", "reviewer")
    task = ok(leader.get(f"/v1/tasks/{clean['id']}"))
    corrected = report(task, category="no_activity")
    fix = {"report": corrected, "reason": "经营活动认定有误"}
    ok(leader.post(f"/v1/tasks/{clean['id']}/corrections", json=fix))
    ok(reviewer.post(f"/v1/tasks/{clean['id']}/review", json={"decision": "approve"}))
    identifier = clean["subject_identifier"]
    wait_until(lambda: results_of(public, identifier=identifier)[0]["corrections"] == 1)
    office = {"Authorization": f"Bearer {token(infra, 'office-1', 'OFFICE', 'office')}"}

    def rows_of(start: str, end: str) -> list[list[str]]:
        sent = httpx.post(
            f"{stack['disclosure'].url}/v1/exports",
            json={"period_from": start, "period_to": end, "format": "csv"},
            headers=office,
            timeout=60,
        )
        assert sent.status_code == 200, sent.text
        rows = list(csv.reader(io.StringIO(sent.content.decode("utf-8-sig"))))
        return [r for r in rows[1:] if r[HEADERS.index("统一社会信用代码")] == identifier]

    today = today_in_china().isoformat()
    day = HEADERS.index("公示日期")
    outcome = HEADERS.index("检查结果")
    (now,) = rows_of(today, today)  # the correction's period: dated by the correction
    assert now[day] == today and now[outcome] == "未发现开展本次抽查涉及的经营活动"
    (then,) = rows_of(ago(41), ago(39))  # the first publication's period, as it stands
    assert then[day] == ago(40) and then[outcome] == now[outcome]
