"""What readers see (issue 11, points 3 and 4), through the real results and disclosure
services on real PostgreSQL and NATS.

- A finding's note (线索来自举报人…) never reaches the anonymous public results; the
  record with its notes is read only by the inspection group, the departments taking
  part, the office and the auditors.
- A replacement's (递补) reason and approver, as staff typed them, never reach the public
  draw: it shows the reason's code from the fixed list (and 其他 for a request recorded
  before the list existed).

The draw service is not started: the test publishes the draw's CloudEvents itself, as its
relay would (see test_results_service.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.draw_events import LEADER, cloud_event, publish, publish_draw
from tests.integration.register_events import publish_departments, wait_for_departments
from tests.integration.task_flow import report, tasks_of
from tests.support import Infra, ServiceProcess, token, wait_until

# It fakes other services' events on their streams (tests/conftest.py: own_infra).
pytestmark = pytest.mark.own_infra

NOTE = "线索来自举报人王某 13800001234，移交稽查"
REASON, APPROVER = "该员正接受纪检调查", "张局长 13900005678"


@pytest.fixture(scope="module")
def procs(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    started = {n: ServiceProcess(infra, n).start(wait=False) for n in ("results", "disclosure")}
    try:
        for proc in started.values():
            proc.wait_ready()
        # Writers' departments must be in the service's copy of the register (部门名录).
        publish_departments(infra, ["SAMR", "TAX"])
        wait_for_departments(infra, "results", ["SAMR", "TAX"])
        yield started
    finally:
        for proc in started.values():
            proc.stop()


def _client(url: str, infra: Infra, sub: str, dept: str, *roles: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}
    return httpx.Client(base_url=url, headers=auth, timeout=10)


@pytest.fixture(scope="module")
def recorded(procs: dict[str, ServiceProcess], infra: Infra) -> dict[str, Any]:
    """A published result whose finding carries an informant's name and phone number:
    submitted by the group, a case filed at once (the handling decision), approved."""
    event = publish_draw(infra, "2026-09-30", subjects=2)
    url = procs["results"].url
    with _client(url, infra, LEADER, "SAMR", "inspector") as leader:
        task = tasks_of(leader, event["subject"], 2)[0]
        body = report(task, category="problem_pending", pending_kind="case_filed", failing=1)
        body["items"][0]["points"][0]["finding"] = NOTE
        submitted = leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body})
        assert submitted.status_code == 200, submitted.text
        with _client(url, infra, "rev-samr", "SAMR", "reviewer") as reviewer:
            path = f"/v1/tasks/{task['id']}/review"
            approved = reviewer.post(path, json={"decision": "approve"})
            assert approved.status_code == 200 and approved.json()["state"] == "reviewed"
        filed = leader.post(
            f"/v1/tasks/{task['id']}/follow-up/closure",
            json={"outcome": "case_filed", "decided_on": body["inspected_to"]},
        )
        assert filed.status_code == 200 and filed.json()["state"] == "published", filed.text
    return {"event": event, "record": filed.json()}


def test_a_findings_note_never_reaches_the_public_results(
    procs: dict[str, ServiceProcess], recorded: dict[str, Any]
) -> None:
    draw_id = recorded["event"]["subject"]

    def disclosed() -> httpx.Response | None:
        answer = httpx.get(
            f"{procs['disclosure'].url}/v1/public/results", params={"draw_id": draw_id}
        )
        return answer if answer.json()["items"] else None

    public = wait_until(disclosed)
    assert "13800001234" not in public.text and "举报人" not in public.text
    (row,) = public.json()["items"]
    assert row["outcome"] == "problem_pending" and row["outcome_text"] == "发现问题待后续处理"
    assert row["findings"][0] == {
        "item_code": "SAMR-R1",
        "outcome": "problem",
        "outcome_text": "发现问题",
    }


@pytest.mark.parametrize(
    ("sub", "dept", "roles"),
    [
        (LEADER, "SAMR", ("inspector",)),  # the group
        ("insp-tax-member", "TAX", ("inspector",)),  # the group, other department
        ("op-samr", "SAMR", ("operator",)),  # the initiating department
        ("rev-samr", "SAMR", ("reviewer",)),  # the implementing department's reviewers
        ("office", "OFFICE", ("office",)),
        ("audit", "AUDIT", ("auditor",)),
    ],
)
def test_the_inspection_concerned_the_office_and_auditors_read_the_note(
    procs: dict[str, ServiceProcess],
    recorded: dict[str, Any],
    infra: Infra,
    sub: str,
    dept: str,
    roles: tuple[str, ...],
) -> None:
    record_id = recorded["record"]["id"]
    with _client(procs["results"].url, infra, sub, dept, *roles) as reader:
        one = reader.get(f"/v1/tasks/{record_id}")
        assert one.status_code == 200, one.text
        assert one.json()["report"]["items"][0]["points"][0]["finding"] == NOTE
        listed = reader.get("/v1/tasks", params={"draw_id": recorded["event"]["subject"]})
        assert record_id in [r["id"] for r in listed.json()["items"]]


@pytest.mark.parametrize(
    ("sub", "dept", "roles"),
    [
        ("insp-tax-unassigned", "TAX", ("inspector",)),
        ("op-mem", "MEM", ("operator",)),
        ("rev-tax", "TAX", ("reviewer",)),
    ],
)
def test_a_reader_outside_the_inspection_gets_no_record_and_no_note(
    procs: dict[str, ServiceProcess],
    recorded: dict[str, Any],
    infra: Infra,
    sub: str,
    dept: str,
    roles: tuple[str, ...],
) -> None:
    record_id = recorded["record"]["id"]
    with _client(procs["results"].url, infra, sub, dept, *roles) as reader:
        one = reader.get(f"/v1/tasks/{record_id}")
        assert one.status_code == 403, one.text
        assert "13800001234" not in one.text
        listed = reader.get("/v1/tasks", params={"draw_id": recorded["event"]["subject"]})
        assert listed.status_code == 200
        assert listed.json()["items"] == [] and "13800001234" not in listed.text


def test_replacement_reasons_and_approvers_never_reach_the_public_draw(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    drawn = publish_draw(infra, "2026-09-30", subjects=2)  # SubjectsDrawn, for its subjects
    draw_id, second = str(uuid.uuid4()), str(uuid.uuid4())
    d = drawn["data"]
    context = {k: d[k] for k in ("batch_id", "plan_id", "year", "initiating_department")}
    context |= {k: d[k] for k in ("participating_departments", "items", "ends_on")}
    subject = d["subjects"][0]
    leaving = subject["inspectors"][1]
    newcomer = {**leaving, "inspector_id": "insp-tax-other", "name": "王五"}
    announced = {
        **{k: d[k] for k in ("batch_id", "plan_id", "items", "initiating_department")},
        "batch_name": "第一批次",
        "announcement_hash": "a" * 64,
        "summary": {
            "announced_at": datetime.now(UTC).isoformat(),
            "protocol": "ssj-draw-2",
            "pool_hash": "b" * 64,
            "pool_size": 2,
            "strata": {},
            "commitment": "c" * 64,
            "entropy_source": "现场摇号",
            "entropy_not_before": "",
        },
    }

    def replaced(sequence: int, code: str | None, replaced: str, by: dict[str, Any]) -> Any:
        request = {
            "sequence": sequence,
            "kind": "inspector",
            "identifier": subject["identifier"],
            "inspector_id": replaced,
            "reason": REASON,
            "approver": APPROVER,
            **({"reason_code": code} if code else {}),  # a request from before the codes
        }
        data = {
            **context,
            "request": request,
            "subject_id": subject["subject_id"],
            "replaced": replaced,
            "replacement": by,
        }
        return cloud_event("InspectorReplaced", draw_id, 2 + sequence, data)

    publish(
        infra,
        [
            cloud_event("DrawAnnounced", draw_id, 1, announced),
            cloud_event(
                "SubjectsDrawn",
                draw_id,
                2,
                {**context, **{"part": 1, "parts": 1}, "subjects": d["subjects"]},
            ),
            replaced(1, None, leaving["inspector_id"], newcomer),
            replaced(2, "recusal", newcomer["inspector_id"], leaving),
            cloud_event("DrawAnnounced", second, 1, announced),  # for a second page
        ],
    )
    url = f"{procs['disclosure'].url}/v1/public/draws/{draw_id}"

    def disclosed() -> httpx.Response | None:
        answer = httpx.get(url)
        return (
            answer
            if answer.status_code == 200 and len(answer.json()["replacements"]) == 2
            else None
        )

    public = wait_until(disclosed)
    assert REASON not in public.text and "13900005678" not in public.text
    assert "张局长" not in public.text
    assert [(r["reason_code"], r["reason_text"]) for r in public.json()["replacements"]] == [
        ("other", "其他"),
        ("recusal", "回避"),
    ]
    listed = httpx.get(f"{procs['disclosure'].url}/v1/public/draws", params={"limit": 1000})
    assert REASON not in listed.text and "13900005678" not in listed.text
    assert listed.headers["cache-control"] == "public, max-age=60"  # the same for everyone
    assert listed.headers["x-content-type-options"] == "nosniff"

    # Public lists are paged: limit (at most 1000), offset, and a Link to the next page.
    everyone = [d["draw_id"] for d in wait_until(lambda: _two_or_more(procs))]
    first = httpx.get(f"{procs['disclosure'].url}/v1/public/draws", params={"limit": 1})
    assert [d["draw_id"] for d in first.json()] == everyone[:1]
    following = httpx.get(procs["disclosure"].url + first.links["next"]["url"])
    assert [d["draw_id"] for d in following.json()] == everyone[1:2]
    too_many = httpx.get(f"{procs['disclosure'].url}/v1/public/draws", params={"limit": 1001})
    assert too_many.status_code == 422


def _two_or_more(procs: dict[str, ServiceProcess]) -> list[dict[str, Any]]:
    rows = httpx.get(f"{procs['disclosure'].url}/v1/public/draws", params={"limit": 1000}).json()
    return rows if len(rows) >= 2 else []


def test_a_voided_draw_is_public_with_its_reason_code_never_staffs_words(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    draw_id = str(uuid.uuid4())
    announced = {
        "batch_id": f"b-void-{draw_id[:8]}",
        "plan_id": str(uuid.uuid4()),
        "items": [],
        "initiating_department": "SAMR",
        "batch_name": "第二批次",
        "announcement_hash": "d" * 64,
        "summary": {
            "announced_at": datetime.now(UTC).isoformat(),
            "protocol": "ssj-draw-3",
            "pool_hash": "e" * 64,
            "pool_size": 2,
            "strata": {},
            "commitment": "f" * 64,
            "entropy": {
                "source": "cwl-ssq",
                "name": "中国福利彩票双色球",
                "issue": "2026141",
                "scheduled_at": "2026-12-08T13:15:00+00:00",
                "format": {"groups": []},
            },
            "entropy_not_before": "2026-12-08T13:15:00+00:00",
        },
    }
    voided = {
        "reason_code": "pool_error",
        "reason": REASON,
        "voided_at": "2026-12-08T10:00:00+00:00",
    }
    publish(
        infra,
        [
            cloud_event("DrawAnnounced", draw_id, 1, announced),
            cloud_event("DrawVoided", draw_id, 2, voided),
        ],
    )
    url = f"{procs['disclosure'].url}/v1/public/draws/{draw_id}"

    def disclosed() -> dict[str, Any] | None:
        answer = httpx.get(url)
        return answer.json() if answer.status_code == 200 and answer.json()["voided_at"] else None

    public = wait_until(disclosed)
    assert public["status"] == "voided"
    assert (public["void_reason_code"], public["void_reason_text"]) == (
        "pool_error",
        "抽查对象库有误",
    )
    assert public["entropy_source"] == "中国福利彩票双色球 第2026141期"
    assert REASON not in json.dumps(public, ensure_ascii=False)


def test_the_public_lists_draws_by_state_overdue_included(
    procs: dict[str, ServiceProcess], infra: Infra
) -> None:
    """An announced draw neither executed nor voided a day after its entropy was due is
    public as overdue (逾期未抽取), and the public can list those."""
    late, fresh = str(uuid.uuid4()), str(uuid.uuid4())

    def announced(due: datetime) -> dict[str, Any]:
        return {
            "batch_id": f"b-late-{uuid.uuid4().hex[:8]}",
            "plan_id": str(uuid.uuid4()),
            "items": [],
            "initiating_department": "SAMR",
            "batch_name": "第三批次",
            "announcement_hash": "1" * 64,
            "summary": {
                "announced_at": (due - timedelta(days=1)).isoformat(),
                "protocol": "ssj-draw-3",
                "pool_hash": "2" * 64,
                "pool_size": 2,
                "strata": {},
                "commitment": "3" * 64,
                "entropy_not_before": due.isoformat(),
            },
        }

    now = datetime.now(UTC)
    publish(
        infra,
        [
            cloud_event("DrawAnnounced", late, 1, announced(now - timedelta(days=2))),
            cloud_event("DrawAnnounced", fresh, 1, announced(now + timedelta(hours=3))),
        ],
    )
    url = f"{procs['disclosure'].url}/v1/public/draws"

    def listed(status: str) -> set[str]:
        answer = httpx.get(url, params={"status": status, "limit": 1000})
        assert answer.status_code == 200, answer.text
        assert all(d["status"] == status for d in answer.json())
        return {d["draw_id"] for d in answer.json()}

    wait_until(lambda: late in listed("overdue"))
    assert fresh in listed("announced") and fresh not in listed("overdue")
    assert late not in listed("announced")
    assert httpx.get(url, params={"status": "lost"}).status_code == 422
