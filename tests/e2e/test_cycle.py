"""The whole cycle across five service processes, with real PostgreSQL, NATS and traces."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator
from datetime import date
from fractions import Fraction
from typing import Any

import pytest

from libs.common.settings import SERVICE_PORTS
from services.draw.protocol.canonical import canonical_json
from tests.builders import entropy_choice
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e.scenario import Endpoints, Scenario
from tests.support import Infra, ServiceProcess, service_stack, wait_until

pytestmark = pytest.mark.e2e
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5
# The library instrumentations whose spans are SQL statements.
STATEMENT_SCOPES = (
    "opentelemetry.instrumentation.asyncpg",
    "opentelemetry.instrumentation.psycopg",
)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def services(infra: Infra, receiver: OtlpReceiver) -> Iterator[dict[str, ServiceProcess]]:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    procs = {n: p.start(wait=False) for n, p in service_stack(infra, SERVICE_PORTS, **env).items()}
    try:
        for proc in procs.values():
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
def cycle(infra: Infra, services: dict[str, ServiceProcess]) -> dict[str, Any]:
    endpoints = Endpoints({name: proc.url for name, proc in services.items()})
    return Scenario(endpoints, infra.settings(), out=io.StringIO()).run_cycle()


def test_every_recorded_result_is_disclosed(cycle: dict[str, Any]) -> None:
    assert cycle["recorded"], "the draw selected nobody"
    assert cycle["missing"] == []
    assert {r["subject_identifier"] for r in cycle["public"]} == set(cycle["recorded"])


def test_draw_selects_every_risk_class_at_its_ratio(cycle: dict[str, Any]) -> None:
    strata = cycle["draw"]["executed"]["strata"]
    # The pool is every operating subject of 4202 in the database, the scenario's 200 at
    # least (a module before this one may have added some): each class at its ratio.
    assert {k for k, v in strata.items() if v["pool"]} == {"A", "B", "C", "D"}
    for risk_class, rule in cycle["draw"]["strata"].items():  # as announced
        drawn = strata[risk_class]
        assert drawn["count"] == math.ceil(drawn["pool"] * Fraction(rule["ratio"])), risk_class
    assert len(cycle["draw"]["subjects"]) == sum(v["count"] for v in strata.values())


def test_disclosure_hides_inspector_contacts_and_ids(
    cycle: dict[str, Any], services: dict[str, ServiceProcess]
) -> None:
    import httpx

    draw_id = cycle["draw"]["id"]
    public = httpx.get(f"{services['disclosure'].url}/v1/public/draws/{draw_id}").json()
    assert public["status"] == "executed"
    inspectors = [i for s in public["subjects"] for i in s["inspectors"]]
    assert inspectors and all(
        set(i) == {"inspector_id", "name", "department", "role"} for i in inspectors
    )
    assert public["seed"] == cycle["draw"]["executed"]["seed"]
    assert public["commitment"] == cycle["draw"]["commitment"]
    assert public["selection"] == cycle["draw"]["selection"] == "sha256"


def test_one_trace_from_the_draw_request_spans_three_services_through_nats(
    cycle: dict[str, Any], receiver: OtlpReceiver
) -> None:
    # One server span per request, named after its route; the probes have none.
    (request_span,) = wait_until(
        lambda: receiver.find("ssj-draw", "POST /v1/draws/{draw_id}/execute")
    )
    assert not [s for s in receiver.spans if s.name.endswith("/readyz")]

    def services_in_trace() -> set[str] | None:
        spans = receiver.trace(request_span.trace_id)
        found = {s.service for s in spans}
        return found if {"ssj-draw", "ssj-results", "ssj-disclosure"} <= found else None

    wait_until(services_in_trace, timeout=30)
    spans = receiver.trace(request_span.trace_id)
    by_id = {s.span_id: s for s in spans}
    consumers = [s for s in spans if s.kind == SPAN_KIND_CONSUMER]
    assert {s.service for s in consumers} >= {"ssj-results", "ssj-disclosure"}
    for consumer in consumers:
        parent = by_id[consumer.parent_span_id]
        assert parent.kind == SPAN_KIND_PRODUCER and parent.service == "ssj-draw"

    def ancestors(span: ReceivedSpan) -> list[ReceivedSpan]:
        found = []
        while span.parent_span_id in by_id:
            span = by_id[span.parent_span_id]
            found.append(span)
        return found

    # Statements have spans inside the request; a save is one span; the relay's and the
    # consumers' statements have none (their own spans say what they did).
    statements = [s for s in spans if s.scope.startswith(STATEMENT_SCOPES)]
    assert any(request_span in ancestors(s) for s in statements)
    saves = [s for s in spans if s.name == "save draw events" and s.scope == "ssj.eventstore"]
    assert saves and all(request_span in ancestors(save) for save in saves)
    assert not [s for s in statements if set(saves) & set(ancestors(s))]
    assert not [
        s
        for s in statements
        if any(a.kind in (SPAN_KIND_CONSUMER, SPAN_KIND_PRODUCER) for a in ancestors(s))
    ]


def _auth(infra: Infra, sub: str, dept: str, *roles: str) -> dict[str, str]:
    from tests.support import token

    return {"Authorization": f"Bearer {token(infra, sub, dept, *roles)}"}


def test_a_batch_cannot_be_drawn_twice(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra
) -> None:
    import httpx

    operator = _auth(infra, "op-samr", "SAMR", "operator")
    draw = services["draw"].url
    again = httpx.post(
        f"{draw}/v1/draws",
        json={"batch_id": cycle["draw"]["batch_id"], "entropy": entropy_choice()},
        headers=operator,
    )
    assert again.status_code == 409
    assert again.json()["title"] == "Already announced"
    rerun = httpx.post(
        f"{draw}/v1/draws/{cycle['draw']['id']}/execute",
        json={"entropy": "1 2 3 4 5 6 7 8"},
        headers=operator,
    )
    assert rerun.status_code == 409
    assert rerun.json()["title"] == "Already executed"


def test_results_are_recorded_once_by_the_group_and_corrections_are_disclosed(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra
) -> None:
    import httpx

    from tests.integration.task_flow import report

    draw = cycle["draw"]
    subject = next(
        s
        for s in draw["subjects"]
        if cycle["recorded"].get(s["identifier"], ("", ""))[1] == "no_problem"
    )
    leader = subject["inspectors"][0]
    task_id, _ = cycle["recorded"][subject["identifier"]]
    results = services["results"].url
    as_leader = _auth(infra, leader["inspector_id"], leader["department"], "inspector")
    task = httpx.get(f"{results}/v1/tasks/{task_id}", headers=as_leader).json()
    body = {"report": report(task)}
    stranger = _auth(infra, "someone-else", leader["department"], "inspector")
    path = f"{results}/v1/tasks/{task_id}"
    assert httpx.post(f"{path}/submission", json=body, headers=stranger).status_code == 403
    second = httpx.post(f"{path}/submission", json=body, headers=as_leader)
    assert second.status_code == 409  # published already

    corrected_report = report(
        task, category="problem_pending", pending_kind="case_filed", failing=1
    )
    correction = httpx.post(
        f"{path}/corrections",
        json={"report": corrected_report, "reason": "复核发现问题"},
        headers=as_leader,
    )
    assert correction.status_code == 200, correction.text
    reviewer = _auth(infra, "cycle-reviewer", leader["department"], "reviewer")
    approved = httpx.post(f"{path}/review", json={"decision": "approve"}, headers=reviewer)
    assert approved.status_code == 200 and approved.json()["state"] == "reviewed"
    filed = httpx.post(
        f"{path}/follow-up/closure",
        json={"outcome": "case_filed", "decided_on": corrected_report["inspected_to"]},
        headers=as_leader,
    )
    assert filed.status_code == 200 and filed.json()["published"]["edition"] == 2

    def corrected() -> dict[str, Any] | None:
        public = httpx.get(
            f"{services['disclosure'].url}/v1/public/results",
            params={"identifier": subject["identifier"]},
        ).json()["items"]
        return public[0] if public and public[0]["corrections"] == 1 else None

    row = wait_until(corrected)
    assert row["outcome_text"] == "发现问题待后续处理"
    record = httpx.get(path, headers=as_leader).json()
    assert record["corrections"][0]["from"] == "no_problem"
    assert record["corrections"][0]["to"] == "problem_pending"


def test_draw_stream_hash_chain_is_intact(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra
) -> None:
    import httpx

    verdict = httpx.get(
        f"{services['draw'].url}/v1/draws/{cycle['draw']['id']}/chain",
        headers=_auth(infra, "auditor-1", "AUDIT", "auditor"),
    ).json()
    assert verdict["intact"] is True and verdict["problems"] == []


def _verify_offline(proof: dict[str, Any], tmp_path: Any, name: str) -> tuple[int, str]:
    """Run the standalone verifier with site-packages disabled (-S): standard library only."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / name
    path.write_bytes(canonical_json(proof))  # as the service serves a proof
    done = subprocess.run(
        [sys.executable, "-S", "-m", "services.draw.protocol.proof", "verify", str(path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_the_public_proof_verifies_offline_and_names_a_forgery(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra, tmp_path: Any
) -> None:
    import copy

    import httpx

    response = httpx.get(f"{services['draw'].url}/v1/draws/{cycle['draw']['id']}/proof")
    assert response.status_code == 200  # public: no token
    proof = response.json()
    sizes = [r["size"] for r in proof["announcement"]["pool_roots"].values()]
    assert sum(sizes) == proof["announcement"]["pool_size"] == cycle["draw"]["pool_size"]
    assert "pool" not in proof  # the pool's classes and units are not public
    code, out = _verify_offline(proof, tmp_path, "proof.json")
    assert code == 0, out
    # First what a reader compares with the notice they saw, then the verdict.
    assert out.startswith(f"announcement {proof['announcement_hash']}")
    assert out.splitlines()[-1].startswith("OK")

    forged = copy.deepcopy(proof)
    forged["result"]["groups"][0]["inspectors"][0]["inspector_id"] = "someone-else"
    code, out = _verify_offline(forged, tmp_path, "forged.json")
    assert code == 1 and "MISMATCH groups[0]" in out

    other_entropy = copy.deepcopy(proof)
    first, _, rest = proof["entropy"].partition(" ")
    other_entropy["entropy"] = f"{(int(first) + 1) % 10} {rest}"  # other numbers, same form
    code, out = _verify_offline(other_entropy, tmp_path, "entropy.json")
    # Other numbers draw other positions, whose leaves the proof does not open.
    assert code == 1 and "which the proof does not open" in out

    moved = copy.deepcopy(proof)
    stratum, rows = next((s, r) for s, r in moved["opened"].items() if r)
    fields = rows[0]["line"].split("\t")
    rows[0]["line"] = "\t".join([*fields[:2], "420281", *fields[3:]])  # another region
    code, out = _verify_offline(moved, tmp_path, "moved.json")
    assert code == 1 and f"is not in the announced tree of stratum {stratum}" in out

    # The office's full proof: the whole pool, from which the public announcement follows.
    office = _auth(infra, "office", "OFFICE", "office")
    url = f"{services['draw'].url}/v1/draws/{cycle['draw']['id']}/proof/full"
    full = httpx.get(url, headers=office).json()
    code, out = _verify_offline(full, tmp_path, "full.json")
    assert code == 0, out
    lines = full["pool"].split("\n")
    full["pool"] = "\n".join(lines[1:])
    code, out = _verify_offline(full, tmp_path, "full-forged.json")
    assert code == 1 and "MISMATCH pool_hash" in out


def test_replacements_take_the_next_alternate_on_a_registry_fact_and_stay_verifiable(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra, tmp_path: Any
) -> None:
    import httpx

    from services.draw.protocol.proof import verify

    draw_url = f"{services['draw'].url}/v1/draws/{cycle['draw']['id']}"
    operator = _auth(infra, "op-samr", "SAMR", "operator")
    # Replacements are approved by a person holding the approver role (审批人).
    approver = _auth(infra, "局长王五", "SAMR", "approver")
    before = httpx.get(draw_url, headers=operator).json()
    # A subject whose inspection is on record keeps its subject and its group.
    inspected = before["subjects"][0]
    assert inspected["identifier"] in cycle["recorded"]
    for body in (
        {"kind": "subject", "identifier": inspected["identifier"]},
        {
            "kind": "inspector",
            "identifier": inspected["identifier"],
            "inspector_id": inspected["inspectors"][1]["inspector_id"],
        },
    ):
        refused = httpx.post(
            f"{draw_url}/replacements",
            json={
                **body,
                "reason_code": "other",
                "reason": "检查后才申请回避",
            },
            headers=approver,
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["title"] == "Result already recorded"
    target = before["subjects"][-1]
    assert target["identifier"] not in cycle["recorded"]
    leaving = target["inspectors"][1]
    recusal = {
        "kind": "inspector",
        "identifier": target["identifier"],
        "inspector_id": leaving["inspector_id"],
        "reason_code": "recusal",
        "reason": "回避：近亲属在该企业任职",
    }
    # No conflict on record in the registry yet: no ground (ssj-draw-3).
    by_operator = httpx.post(f"{draw_url}/replacements", json=recusal, headers=operator)
    assert by_operator.status_code == 403  # an operator files nothing without approval
    unfounded = httpx.post(f"{draw_url}/replacements", json=recusal, headers=approver)
    assert unfounded.status_code == 422 and "record it there first" in unfounded.json()["detail"]
    registry = services["registry"].url
    their_operator = _auth(infra, "op-x", leaving["department"], "operator")
    declared = httpx.post(
        f"{registry}/v1/conflicts",
        json={
            "inspector_id": leaving["inspector_id"],
            "subject_identifier": target["identifier"],
            "reason": "relative",
            "declared_on": date.today().isoformat(),
        },
        headers=their_operator,
    )
    assert declared.status_code == 201, declared.text
    gone = before["subjects"][-2]
    status = httpx.post(
        f"{registry}/v1/subjects/{gone['identifier']}/status",
        json={"status": "deregistered", "reason": "检查前已注销"},
        headers=operator,
    )
    assert status.status_code == 200, status.text
    endpoints = Endpoints({n: p.url for n, p in services.items()})
    Scenario(endpoints, infra.settings(), out=io.StringIO()).settle()
    replaced = httpx.post(
        f"{draw_url}/replacements",
        json={
            "kind": "inspector",
            "identifier": target["identifier"],
            "inspector_id": leaving["inspector_id"],
            "reason_code": "recusal",
            "reason": "回避：近亲属在该企业任职",
        },
        headers=approver,
    )
    assert replaced.status_code == 201, replaced.text
    newcomer = replaced.json()["replacement"]
    assert newcomer["inspector_id"] != leaving["inspector_id"]
    assert newcomer["department"] == leaving["department"]

    swapped = httpx.post(
        f"{draw_url}/replacements",
        json={
            "kind": "subject",
            "identifier": gone["identifier"],
            "reason_code": "deregistered",
            "reason": "检查前已注销",
        },
        headers=approver,
    )
    assert swapped.status_code == 201, swapped.text
    outcome = swapped.json()
    assert outcome["stratum"] == gone["stratum"]
    assert outcome["replacement"] not in {s["identifier"] for s in before["subjects"]}

    after = httpx.get(draw_url, headers=operator).json()
    identifiers = [s["identifier"] for s in after["subjects"]]
    assert gone["identifier"] not in identifiers and outcome["replacement"] in identifiers
    assert newcomer in [
        {k: m[k] for k in ("inspector_id", "department", "role")}
        for m in after["subjects"][-1]["inspectors"]
    ]
    assert [r["sequence"] for r in after["replacements"]] == [1, 2]

    proof = httpx.get(f"{draw_url}/proof").json()
    assert [r["kind"] for r in proof["replacements"]] == ["inspector", "subject"]
    assert [r["reason_code"] for r in proof["replacements"]] == ["recusal", "deregistered"]
    # Each names the registry event that grounds it (an outsider can look it up).
    assert [r["evidence"]["fact"] for r in proof["replacements"]] == ["conflict", "deregistered"]
    assert all(r["evidence"]["event"].startswith("registry:") for r in proof["replacements"])
    assert "王五" not in json.dumps(proof, ensure_ascii=False)  # staff text stays internal
    # The approver is the person whose token filed it, never typed (for internal readers).
    assert after["replacements"][0]["approver"] == "局长王五 (SAMR)"
    assert verify(proof) == []
    code, out = _verify_offline(proof, tmp_path, "replaced.json")
    assert code == 0, out

    missing = httpx.post(
        f"{draw_url}/replacements",
        json={
            "kind": "subject",
            "identifier": "not-drawn",
            "reason_code": "other",
            "reason": "x y",
        },
        headers=approver,
    )
    assert missing.status_code == 422


def test_a_second_run_reactivates_a_department_someone_deactivated(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra
) -> None:
    """``make demo`` after a fuzz run as the office: its departments are usable again."""
    import httpx

    endpoints = Endpoints({name: proc.url for name, proc in services.items()})
    scenario = Scenario(endpoints, infra.settings(), out=io.StringIO())
    office = scenario.auth("office-1", "OFFICE", "office")
    url = f"{services['registry'].url}/v1/departments/EPB"
    etag = httpx.get(url, headers=office).headers["etag"]
    off = httpx.patch(url, json={"active": False}, headers={**office, "If-Match": etag})
    assert off.status_code == 200 and off.json()["active"] is False
    scenario.ensure_department(office, "EPB")
    assert httpx.get(url, headers=office).json()["active"] is True


def _cli_mismatches(proof: dict[str, Any], tmp_path: Any, name: str) -> list[str]:
    """What ``ssj draw verify`` names (its MISMATCH lines), for the browser to match."""
    code, out = _verify_offline(proof, tmp_path, name)
    assert code in (0, 1), out
    return [line[len("MISMATCH ") :] for line in out.splitlines() if line.startswith("MISMATCH ")]


def test_the_portal_shows_the_cycle_and_verifies_its_draw_in_the_browser(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], tmp_path: Any
) -> None:
    """After the demo: the portal's home shows the plan, the draw and every result; the
    draw's page verifies it in a real chromium; a company's page shows its history; and each
    forged proof is rejected in the browser naming what ``ssj draw verify`` names."""
    import copy

    import httpx

    from tests.browser.chromium import chromium, verdict_of, verify_file

    portal, draw_id = services["disclosure"].url, cycle["draw"]["id"]
    linked = httpx.get(f"{portal}/v1/public/draws/{draw_id}").json()["proof_url"]
    assert linked == f"{services['draw'].url}/v1/draws/{draw_id}/proof"  # the proof's link
    proof = httpx.get(linked).json()
    forgeries: dict[str, dict[str, Any]] = {}
    forgeries["swapped inspector"] = copy.deepcopy(proof)
    forgeries["swapped inspector"]["result"]["groups"][0]["inspectors"][0]["inspector_id"] = "x"
    forgeries["changed entropy"] = copy.deepcopy(proof)
    first, _, rest = proof["entropy"].partition(" ")
    forgeries["changed entropy"]["entropy"] = f"{(int(first) + 1) % 10} {rest}"
    forgeries["changed pool line"] = copy.deepcopy(proof)
    _, rows = next((s, r) for s, r in forgeries["changed pool line"]["opened"].items() if r)
    fields = rows[0]["line"].split("\t")
    rows[0]["line"] = "\t".join([*fields[:2], "420281", *fields[3:]])
    forgeries["changed selection"] = copy.deepcopy(proof)
    chosen = forgeries["changed selection"]["result"]["selection"]
    chosen[0], chosen[-1] = chosen[-1], chosen[0]
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{portal}/")
        home = page.content()
        assert cycle["plan"]["title"] in home
        page.goto(f"{portal}/draws/{draw_id}")
        page.click("#verify-button")
        verdict, problems, checks = verdict_of(page)
        assert (verdict, problems) == ("valid", []), problems
        assert checks and all(checks.values()), checks
        shot = os.environ.get("SSJ_PORTAL_SCREENSHOT")  # README's picture: docs/portal.png
        if shot:
            page.set_viewport_size({"width": 1100, "height": 900})
            page.screenshot(path=shot, full_page=False)
        for identifier in cycle["recorded"]:
            page.goto(f"{portal}/results?q={identifier}")
            assert identifier in page.content()
        identifier = next(iter(cycle["recorded"]))
        page.goto(f"{portal}/companies/{identifier}")
        assert "历次抽查结果" in page.content() and cycle["draw"]["id"] in page.content()
        for name, forged in forgeries.items():
            expected = _cli_mismatches(forged, tmp_path, f"{name}.json")
            assert expected, f"the CLI took the {name}"
            text = canonical_json(forged).decode("utf-8")
            verdict, problems = verify_file(page, portal, text, tmp_path / f"b-{name}.json")
            assert (verdict, problems) == ("invalid", expected), name


def test_ssj_audit_verify_finds_every_service_record_intact(
    cycle: dict[str, Any], services: dict[str, ServiceProcess], infra: Infra
) -> None:
    """After the whole cycle every events table matches its chains, its versions and its
    JetStream stream (no false alarm on real services' events)."""
    from libs.common.audit import verify

    settings = infra.settings("audit")
    reports = {r.table.split(".")[0]: r for name in SERVICE_PORTS for r in verify(settings, name)}
    assert set(reports) == set(SERVICE_PORTS)
    assert {name for name, r in reports.items() if r.chained} == {"draw", "results"}
    for name, report in reports.items():
        assert report.breaks == [], name
        if name != "disclosure":  # which records only the exports (none in the cycle)
            assert report.events > 0 and report.messages_compared > 0, name
        assert report.messages_compared + report.not_yet_published == report.events, name
