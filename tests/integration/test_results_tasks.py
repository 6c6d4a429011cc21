"""Inspection tasks (检查任务) through the real results process on real PostgreSQL and NATS:
dispatch, the visit, review, publication, corrections, follow-up, files, the case file and
credit events — each path of issue 14.

The draw and registry services are not started: the test publishes their events itself
(tests/integration/draw_events.py, register_events.py), as their relays would.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from services.results.application import today_in_china
from tests.integration.draw_events import LEADER, publish_draw
from tests.integration.register_events import (
    publish_departments,
    publish_items,
    wait_for_departments,
)
from tests.integration.task_flow import PDF, PNG, report, tasks_of, until_state
from tests.support import Infra, ServiceProcess, token, wait_until

pytestmark = pytest.mark.own_infra
FORM_ITEM = {
    "code": "SAMR-R1",
    "department": "SAMR",
    "name": "食品经营许可检查",
    "methods": ["on_site", "documentary", "online", "other_department"],
    "sub_items": [{"code": "R1A", "name": "许可证在有效期内"}],
    "check_form": [{"code": "P1", "text": "经营场所与许可一致"}],
}


@pytest.fixture(scope="module")
def results(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(
        infra, "results", SSJ_DISPATCH_SECONDS="0.2", SSJ_DEADLINE_WATCH_SECONDS="0.3"
    ).start()
    publish_departments(infra, ["SAMR", "TAX"])
    publish_items(infra, [FORM_ITEM])
    wait_for_departments(infra, "results", ["SAMR", "TAX"])
    yield proc
    proc.stop()


def _client(proc: ServiceProcess, infra: Infra, sub: str, dept: str, *roles: str) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}
    return httpx.Client(base_url=proc.url, headers=auth, timeout=20)


@pytest.fixture(scope="module")
def leader(results: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(results, infra, LEADER, "SAMR", "inspector") as client:
        yield client


@pytest.fixture(scope="module")
def reviewer(results: ServiceProcess, infra: Infra) -> Iterator[httpx.Client]:
    with _client(results, infra, "rev-samr", "SAMR", "reviewer") as client:
        yield client


@pytest.fixture(scope="module")
def tasks(infra: Infra, leader: httpx.Client, results: ServiceProcess) -> list[dict[str, Any]]:
    """Ten drawn subjects, dispatched: the paths below take one each."""
    # The item list's forms must be known before the draw is dispatched.
    wait_until(lambda: _item_known(infra), timeout=30)
    event = publish_draw(infra, (date.today() - timedelta(days=3)).isoformat(), subjects=10)
    return tasks_of(leader, event["subject"], 10)


def _item_known(infra: Infra) -> bool:
    import psycopg

    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM results.items WHERE code = 'SAMR-R1'").fetchone()
            is not None
        )


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def _approve(reviewer: httpx.Client, task_id: str) -> dict[str, Any]:
    return _ok(reviewer.post(f"/v1/tasks/{task_id}/review", json={"decision": "approve"}))


def test_each_drawn_subject_is_dispatched_to_the_leaders_department_with_its_forms(
    tasks: list[dict[str, Any]],
) -> None:
    task = tasks[0]
    assert task["state"] == "dispatched" and task["implementing_department"] == "SAMR"
    forms = {f["item_code"]: f for f in task["forms"]}
    assert [p["point"] for p in forms["SAMR-R1"]["points"]] == ["base:R1A", "form:P1"]
    assert forms["SAMR-R1"]["methods"] == FORM_ITEM["methods"]
    # An item the results service does not know: its base form, any method.
    assert [p["point"] for p in forms["TAX-R1"]["points"]] == ["base:TAX-R1"]


def test_clean_result_is_recorded_submitted_reviewed_and_published(
    tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    task = tasks[0]
    recorded = _ok(leader.post(f"/v1/tasks/{task['id']}/inspection", json=report(task)))
    assert recorded["state"] == "inspected"
    submitted = _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={}))
    assert submitted["state"] == "submitted" and submitted["late"] is False
    published = _approve(reviewer, task["id"])
    assert published["state"] == "published"
    assert published["published"]["category"] == "no_problem"
    assert published["published"]["late"] is False
    assert published["published"]["edition"] == 1
    until_state(leader, task["id"], state="published")


def test_incomplete_forms_and_contradictions_are_refused(
    tasks: list[dict[str, Any]], leader: httpx.Client
) -> None:
    task = tasks[1]
    body = report(task)
    body["items"][0]["points"].pop()
    missing = leader.post(f"/v1/tasks/{task['id']}/inspection", json=body)
    assert missing.status_code == 422 and "every check point" in missing.text
    contradiction = report(task, failing=1)  # a failed point in a "no problem" result
    assert leader.post(f"/v1/tasks/{task['id']}/inspection", json=contradiction).status_code == 422
    no_notice = report(task, notice=None)
    assert leader.post(f"/v1/tasks/{task['id']}/inspection", json=no_notice).status_code == 422
    outside = report(task)
    outside["items"][0]["methods"] = ["sampling"]  # not a method of SAMR-R1
    outside["items"][0]["points"] = [
        {**p, "method": "sampling"} for p in outside["items"][0]["points"]
    ]
    assert leader.post(f"/v1/tasks/{task['id']}/inspection", json=outside).status_code == 422
    reuse = report(task)
    reuse["items"][0]["methods"] = ["other_department"]
    reuse["items"][0]["points"] = [
        {**p, "method": "other_department"} for p in reuse["items"][0]["points"]
    ]
    assert leader.post(f"/v1/tasks/{task['id']}/inspection", json=reuse).status_code == 422
    reuse["items"][0]["reuse"] = {
        "issuer_kind": "professional_body",
        "issuer": "湖北某会计师事务所",
        "document_no": "鄂审字〔2026〕18号",
        "issued_on": date.today().isoformat(),
    }
    assert (
        _ok(leader.post(f"/v1/tasks/{task['id']}/inspection", json=reuse))["report"]["items"][0][
            "reuse"
        ]["document_no"]
        == "鄂审字〔2026〕18号"
    )


def test_reviewers_are_of_the_department_and_not_of_the_group(
    tasks: list[dict[str, Any]], leader: httpx.Client, results: ServiceProcess, infra: Infra
) -> None:
    task = tasks[2]
    _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)}))
    with _client(results, infra, LEADER, "SAMR", "reviewer", "inspector") as own:
        refused = own.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"})
        assert refused.status_code == 403 and "inspection group" in refused.text
    with _client(results, infra, "rev-tax", "TAX", "reviewer") as other:
        assert (
            other.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}).status_code
            == 403
        )
    assert (
        leader.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}).status_code
        == 403
    )


def test_a_returned_result_goes_back_to_the_group_and_is_resubmitted(
    tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    task = tasks[2]  # submitted by the test above
    no_reason = reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "return"})
    assert no_reason.status_code == 422
    returned = _ok(
        reviewer.post(
            f"/v1/tasks/{task['id']}/review",
            json={"decision": "return", "reason": "现场照片缺失，请补充"},
        )
    )
    assert (
        returned["state"] == "returned"
        and returned["returns"][0]["reason"] == "现场照片缺失，请补充"
    )
    assert (
        reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}).status_code
        == 409
    )
    photo = leader.post(
        "/v1/evidence",
        params={"task": task["id"], "name": "现场照片.png"},
        content=PNG,
        headers={"Content-Type": "image/png"},
    )
    sha = _ok(photo, 201)["sha256"]
    again = _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/submission", json={"report": report(task, evidence=[sha])}
        )
    )
    assert again["state"] == "submitted"
    assert _approve(reviewer, task["id"])["state"] == "published"


def test_files_are_checked_stored_by_hash_and_read_by_the_tasks_readers_only(
    tasks: list[dict[str, Any]],
    leader: httpx.Client,
    reviewer: httpx.Client,
    results: ServiceProcess,
    infra: Infra,
) -> None:
    task = tasks[3]
    url = f"/v1/evidence?task={task['id']}&name=a.pdf"
    lying = leader.post(url, content=PNG, headers={"Content-Type": "application/pdf"})
    assert lying.status_code == 422 and "not application/pdf" in lying.text
    exe = leader.post(
        url, content=b"MZ\x90\x00", headers={"Content-Type": "application/x-msdownload"}
    )
    assert exe.status_code == 422
    stored = _ok(leader.post(url, content=PDF, headers={"Content-Type": "application/pdf"}), 201)
    twice = _ok(leader.post(url, content=PDF, headers={"Content-Type": "application/pdf"}), 201)
    assert stored["sha256"] == twice["sha256"] and twice["added"] is False
    path = f"/v1/tasks/{task['id']}/files/{stored['sha256']}"
    got = reviewer.get(path)
    assert got.status_code == 200 and got.content == PDF
    with _client(results, infra, "insp-other", "TAX", "inspector") as stranger:
        assert stranger.get(path).status_code == 403
        assert (
            stranger.post(url, content=PDF, headers={"Content-Type": "application/pdf"}).status_code
            == 403
        )
    assert reviewer.get(f"/v1/tasks/{task['id']}/files/{'0' * 64}").status_code == 404


def test_problem_ordered_to_correct_reinspected_corrected_and_closed(
    tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    task, today = tasks[4], date.today()
    body = report(task, category="problem_corrected", failing=1)
    _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))
    reviewed = _approve(reviewer, task["id"])
    # Final for disclosure on its handling decision: reviewed, not yet published.
    assert reviewed["state"] == "reviewed" and reviewed["published"] is None
    order = {
        "decided_on": today.isoformat(),
        "deadline": (today + timedelta(days=15)).isoformat(),
        "decision_no": "黄市监责改〔2026〕1号",
    }
    ordered = _ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/order", json=order))
    assert (
        ordered["state"] == "published" and ordered["published"]["decided_on"] == today.isoformat()
    )
    assert ordered["follow_up"]["state"] == "ordered"
    early = leader.post(
        f"/v1/tasks/{task['id']}/follow-up/closure",
        json={"outcome": "corrected", "decided_on": today.isoformat()},
    )
    assert early.status_code == 409  # the re-inspection comes first
    _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/reinspection",
            json={"reinspected_on": today.isoformat(), "corrected": True},
        )
    )
    closed = _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/closure",
            json={"outcome": "corrected", "decided_on": today.isoformat()},
        )
    )
    assert (
        closed["follow_up"]["state"] == "closed" and closed["follow_up"]["outcome"] == "corrected"
    )


def test_problem_not_corrected_is_referred_to_the_judiciary(
    tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    task, today = tasks[5], date.today()
    body = report(task, category="problem_pending", failing=2, pending_kind="correction_ordered")
    _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))
    deadline = (today + timedelta(days=1)).isoformat()
    early = {"decided_on": today.isoformat(), "deadline": deadline}
    # Follow-up stands on a reviewed result (the group may still change it before).
    assert leader.post(f"/v1/tasks/{task['id']}/follow-up/order", json=early).status_code == 409
    assert _approve(reviewer, task["id"])["state"] == "reviewed"
    ordered = _ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/order", json=early))
    assert ordered["state"] == "published"
    not_corrected = {"reinspected_on": today.isoformat(), "corrected": False}
    assert (
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/reinspection", json=not_corrected
        ).status_code
        == 422
    )
    not_corrected["finding"] = "仍未取得许可，继续经营"
    _ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/reinspection", json=not_corrected))
    assert (
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/closure",
            json={"outcome": "corrected", "decided_on": today.isoformat()},
        ).status_code
        == 422
    )
    assert (
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/closure",
            json={"outcome": "transferred", "decided_on": today.isoformat()},
        ).status_code
        == 422
    )  # 移交 names the receiving department
    referred = _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/closure",
            json={
                "outcome": "referred",
                "decided_on": today.isoformat(),
                "decision_no": "移送〔2026〕3号",
            },
        )
    )
    assert referred["follow_up"]["outcome"] == "referred"


@pytest.mark.parametrize(
    ("index", "outcome", "receiving"),
    [(8, "case_filed", ""), (9, "transferred", "黄石市城市管理执法局")],
    ids=["立案查处", "移交"],
)
def test_problem_not_corrected_is_filed_as_a_case_or_transferred(
    tasks: list[dict[str, Any]],
    leader: httpx.Client,
    reviewer: httpx.Client,
    index: int,
    outcome: str,
    receiving: str,
) -> None:
    task, today = tasks[index], date.today().isoformat()
    body = report(task, category="problem_pending", failing=1, pending_kind="correction_ordered")
    _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))
    _approve(reviewer, task["id"])
    order = {"decided_on": today, "deadline": (date.today() + timedelta(days=7)).isoformat()}
    _ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/order", json=order))
    again = {"reinspected_on": today, "corrected": False, "finding": "逾期仍未改正"}
    _ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/reinspection", json=again))
    closure = {"outcome": outcome, "decided_on": today, "receiving_department": receiving}
    closed = _ok(leader.post(f"/v1/tasks/{task['id']}/follow-up/closure", json=closure))
    assert closed["follow_up"]["state"] == "closed"
    assert closed["follow_up"]["outcome"] == outcome
    assert [s["step"] for s in closed["follow_up"]["steps"]] == ["ordered", "reinspected", outcome]


def test_refused_signature_and_non_cooperation(
    tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    task = tasks[6]
    unsigned = report(task, signature={"signed": False, "refusal_reason": "负责人拒绝签字"})
    assert leader.post(f"/v1/tasks/{task['id']}/inspection", json=unsigned).status_code == 422
    unsigned["signature"]["witness"] = "社区网格员赵六"
    assert _ok(leader.post(f"/v1/tasks/{task['id']}/inspection", json=unsigned))["report"][
        "signature"
    ] == {"signed": False, "refusal_reason": "负责人拒绝签字", "witness": "社区网格员赵六"}
    refusal = report(task, category="refused", items=[])
    assert leader.post(f"/v1/tasks/{task['id']}/inspection", json=refusal).status_code == 422
    refusal["non_cooperation"] = {"case": "denied_entry", "description": "拒绝检查人员进入经营场所"}
    _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": refusal}))
    published = _approve(reviewer, task["id"])["published"]
    assert (
        published["category"] == "refused" and published["non_cooperation_case"] == "denied_entry"
    )


def test_a_correction_after_publication_is_reviewed_and_appended(
    tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    task = tasks[0]  # published clean by the test above
    corrected = report(task, category="problem_corrected", failing=1)
    assert (
        leader.post(f"/v1/tasks/{task['id']}/corrections", json={"report": corrected}).status_code
        == 422
    )
    proposed = _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/corrections",
            json={"report": corrected, "reason": "复核现场记录发现漏记问题"},
        )
    )
    assert proposed["pending_correction"] is not None and proposed["published"]["edition"] == 1
    approved = _approve(reviewer, task["id"])
    # A problem result needs its decision: reviewed, the first edition still public.
    assert (
        approved["state"] == "reviewed" and approved["corrections"][0]["to"] == "problem_corrected"
    )
    today = date.today().isoformat()
    done = _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/order",
            json={"decided_on": today, "deadline": (date.today() + timedelta(days=10)).isoformat()},
        )
    )
    assert (
        done["published"]["edition"] == 2 and done["published"]["category"] == "problem_corrected"
    )


def test_credit_events_on_their_own_subject(
    infra: Infra, tasks: list[dict[str, Any]], leader: httpx.Client
) -> None:
    settings = infra.settings()
    subject = f"{settings.subject_prefix('results')}.creditnotice.>"

    async def read() -> list[dict[str, Any]]:
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                subject, stream=settings.stream_name("results"), ordered_consumer=True
            )
            got = []
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    return got
                got.append(json.loads(msg.data))
        finally:
            await nc.close()

    def enough() -> list[dict[str, Any]] | None:
        events = asyncio.run(read())
        kinds = {(e["data"]["kind"], e["data"]["category"]) for e in events}
        wanted = {
            ("result", "no_problem"),
            ("result", "refused"),
            ("non_cooperation", "denied_entry"),
            ("follow_up", "corrected"),
            ("follow_up", "referred"),
            ("follow_up", "case_filed"),
            ("follow_up", "transferred"),
            ("result", "problem_corrected"),
        }
        return events if wanted <= kinds else None

    events = wait_until(enough, timeout=30)
    referred = next(e for e in events if e["data"]["category"] == "referred")
    assert referred["type"] == "ssj.results.CreditRecorded.v1"
    assert referred["data"]["severity"] == "severe" and referred["data"]["subject_identifier"]
    # Who and which trace, as every event carries them (the leader closed the follow-up).
    assert referred["actorsub"] == LEADER and referred["actordept"] == "SAMR"
    assert referred.get("traceparent")


def test_case_file_is_verified_offline_and_a_changed_byte_is_found(
    tasks: list[dict[str, Any]], reviewer: httpx.Client, tmp_path: Path
) -> None:
    task = tasks[2]  # returned, resubmitted with a photo, published
    response = reviewer.get(f"/v1/tasks/{task['id']}/case-file")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    good = tmp_path / "case.zip"
    good.write_bytes(response.content)
    names = zipfile.ZipFile(BytesIO(response.content)).namelist()
    assert any(n.startswith("files/") for n in names) and "events/000001.json" in names
    run = [sys.executable, "-m", "libs.common.cli", "results", "verify-case"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK task ")
    # Forge one event: its bytes change, so the manifest and the chain both say so.
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(forged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "events/000003.json":
                data = (
                    data.replace(b'"submitted"', b'"xubmitted"', 1)
                    if b'"submitted"' in data
                    else data + b" "
                )
            dst.writestr(name, data)
    bad = subprocess.run([*run, str(forged)], capture_output=True, text=True)
    assert bad.returncode == 1 and "FAIL events/000003.json" in bad.stdout


def test_open_follow_up_past_its_deadline_is_listed_as_overdue(
    infra: Infra, tasks: list[dict[str, Any]], leader: httpx.Client, reviewer: httpx.Client
) -> None:
    """A correction deadline in the past cannot be ordered today; the order is dated back
    (decided a fortnight ago, due a week ago), as a late entry of an earlier decision is."""
    task, today = tasks[7], date.today()
    body = report(
        task,
        category="problem_corrected",
        failing=1,
        inspected_from=(today - timedelta(days=20)).isoformat(),
        inspected_to=(today - timedelta(days=20)).isoformat(),
        notice={"given": False, "ground": "《食品安全抽样检验管理办法》规定不宜事先告知"},
    )
    _ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": body}))
    _approve(reviewer, task["id"])
    _ok(
        leader.post(
            f"/v1/tasks/{task['id']}/follow-up/order",
            json={
                "decided_on": (today - timedelta(days=14)).isoformat(),
                "deadline": (today - timedelta(days=7)).isoformat(),
            },
        )
    )

    def overdue() -> list[dict[str, Any]] | None:
        rows = leader.get("/v1/tasks", params={"overdue": "follow_up"}).json()["items"]
        return rows if any(r["id"] == task["id"] for r in rows) else None

    row = next(r for r in wait_until(overdue, timeout=30) if r["id"] == task["id"])
    # The watch notices on China's calendar day (UTC+8), a day ahead of UTC in the evening.
    assert row["follow_up_overdue_on"] == today_in_china().isoformat()


def test_a_2027_deadline_is_provisional_until_the_office_loads_2027(
    infra: Infra, results: ServiceProcess, leader: httpx.Client
) -> None:
    """Results of a batch ending 2026-12-15 are due 20 working days later, in January 2027,
    which the package does not know: counted in weekdays (2027-01-12), provisional. The
    office loads 2027 as published, 元旦 a holiday on Friday 1 January: 2027-01-13, final."""
    event = publish_draw(infra, "2026-12-15", subjects=1)
    (task,) = tasks_of(leader, event["subject"], 1)
    assert task["due_on"] == "2027-01-12"

    def assignment() -> dict[str, Any]:
        rows = leader.get("/v1/assignments", params={"draw_id": event["subject"]}).json()
        return dict(rows["items"][0])

    assert (assignment()["due_on"], assignment()["due_on_provisional"]) == ("2027-01-12", True)
    office = {"Authorization": f"Bearer {token(infra, 'office-1', 'OFFICE', 'office')}"}
    year = {"holidays": ["2027-01-01", "2027-02-08", "2027-02-09"], "workdays": ["2027-02-20"]}
    loaded = httpx.put(f"{results.url}/v1/calendar/2027", json=year, headers=office)
    assert loaded.status_code in (200, 201), loaded.text
    recomputed = wait_until(
        lambda: assignment() if assignment()["due_on_provisional"] is False else None, timeout=30
    )
    assert recomputed["due_on"] == "2027-01-13"
    answer = httpx.get(
        f"{results.url}/v1/calendar/deadline", params={"from": "2026-12-15", "working_days": 20}
    ).json()
    assert answer["due_on"] == "2027-01-13" and answer["provisional"] is False
    # Entered now, long before either date: on time, judged by the deadline as it stands.
    submitted = _ok(
        leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)})
    )
    assert submitted["late"] is False


def test_other_records_are_not_tasks_and_tasks_are_not_records(
    tasks: list[dict[str, Any]], leader: httpx.Client, results: ServiceProcess, infra: Infra
) -> None:
    """Found by an adversarial review: a task id at the legacy record endpoints answered the
    whole task (notes included), another record's id at the task endpoints a 500."""
    from services.results.domain.calendar import calendar_id

    office = _client(results, infra, "office-1", "OFFICE", "office")
    task = tasks[0]
    assert office.get(f"/v1/results/{task['id']}").status_code == 404
    assert office.get(f"/v1/results/{task['id']}/verification").status_code == 404
    other = calendar_id(2027)  # a CalendarYear of this service's store
    for path in ("", "/verification", "/case-file", f"/files/{'0' * 64}"):
        assert office.get(f"/v1/tasks/{other}{path}").status_code == 404, path


def test_an_upload_by_someone_outside_the_task_is_refused_before_the_file_is_read(
    tasks: list[dict[str, Any]], results: ServiceProcess, infra: Infra
) -> None:
    with _client(results, infra, "insp-other", "TAX", "inspector") as stranger:
        refused = stranger.post(
            "/v1/evidence",
            params={"task": tasks[3]["id"], "name": "x.txt"},
            content=b"not a photo",
            headers={"Content-Type": "text/plain"},
        )
    assert refused.status_code == 403, refused.text


def test_a_subject_replaced_before_its_result_withdraws_its_task_and_dispatches_the_next(
    infra: Infra, leader: httpx.Client
) -> None:
    from tests.integration.draw_events import cloud_event, publish

    drawn = publish_draw(infra, (date.today() - timedelta(days=3)).isoformat(), subjects=2)
    first, second = tasks_of(leader, drawn["subject"], 2)
    d = drawn["data"]
    gone = next(s for s in d["subjects"] if s["subject_id"] == first["subject_id"])
    replacement = {**gone, "subject_id": str(uuid.uuid4()), "identifier": "91420200MA4KXXXX0Y"}
    replacement["name"] = "黄石市递补商贸有限公司"
    context = {
        k: d[k]
        for k in (
            "batch_id",
            "plan_id",
            "year",
            "initiating_department",
            "participating_departments",
            "items",
            "ends_on",
        )
    }
    publish(
        infra,
        [
            cloud_event(
                "SubjectReplaced",
                drawn["subject"],
                2,
                {
                    **context,
                    "request": {"kind": "subject", "identifier": gone["identifier"]},
                    "replaced": {
                        "subject_id": gone["subject_id"],
                        "identifier": gone["identifier"],
                    },
                    "replacement": replacement,
                },
            )
        ],
    )

    def settled() -> list[dict[str, Any]] | None:
        rows = leader.get("/v1/tasks", params={"draw_id": drawn["subject"]}).json()["items"]
        states = {r["subject_id"]: r["state"] for r in rows}
        done = states.get(gone["subject_id"]) == "withdrawn"
        return rows if done and replacement["subject_id"] in states else None

    rows = wait_until(settled, timeout=30)
    assert {r["subject_id"]: r["state"] for r in rows}[second["subject_id"]] == "dispatched"
    refused = leader.post(f"/v1/tasks/{first['id']}/inspection", json=report(first))
    assert refused.status_code == 409 and "replaced" in refused.text


def test_nobody_approves_a_result_they_entered_whatever_their_roles(
    infra: Infra, results: ServiceProcess
) -> None:
    """Found by an adversarial review: a token holding operator and reviewer entered a
    result and approved it."""
    event = publish_draw(infra, (date.today() - timedelta(days=3)).isoformat(), subjects=1)
    with _client(results, infra, "op-rev-samr", "SAMR", "operator", "reviewer") as both:
        (task,) = tasks_of(both, event["subject"], 1)
        _ok(both.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)}))
        refused = both.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"})
        assert refused.status_code == 403 and "entered this result" in refused.text
    with _client(results, infra, "rev-samr-2", "SAMR", "reviewer") as other:
        assert _approve(other, task["id"])["state"] == "published"
