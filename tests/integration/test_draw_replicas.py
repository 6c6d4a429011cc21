"""Two replicas of the draw service on one database and one stream, and a replica killed
as kill -9 would (a crash point) between storing an execution and answering it: one
announcement per batch, one execution per draw, nothing lost and nothing done twice, the
loser of every race a clean 409 (problem+json), never a 500."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import nats
import psycopg
import pytest

from libs.common.envelope import parse_cloudevent
from libs.common.faults import CRASH_EXIT_CODE
from services.draw.protocol.verify import verify
from tests.builders import (
    ONSITE_SOURCE,
    inspector_payload,
    item_payload,
    make_uscc,
    register_departments,
    register_entropy_source,
    subject_payload,
    wait_for_entropy,
)
from tests.integration.test_draw_service import LEAD, PART, RUN, Stack
from tests.support import Infra, ServiceProcess, service_stack, token, wait_until

ENTROPY = "2 7 1 8 2 8 1 8"


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[Stack]:
    procs = {
        n: p.start(wait=False)
        for n, p in service_stack(infra, ("registry", "planner", "draw")).items()
    }
    try:
        for proc in procs.values():
            proc.wait_ready()
        office = token(infra, "office", "OFFICE", "office")
        register_departments(procs["registry"].url, office, [LEAD, PART])
        register_entropy_source(procs["draw"].url, office, ONSITE_SOURCE)
        yield Stack(infra, procs)
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
def replica(infra: Infra, stack: Stack) -> Iterator[ServiceProcess]:
    """A second draw process beside the stack's: same database, same stream."""
    proc = ServiceProcess(infra, "draw").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def items(stack: Stack) -> list[str]:
    """Published items, subjects in 420281 (大冶市) and inspectors of both departments
    covering it: apart from test_draw_service's region 4203, whose draws share these
    departments (the session's database is one)."""
    rng = random.Random(f"replicas{RUN}")
    general, key = f"RG-{RUN}", f"RK-{RUN}"
    stack.call("POST", "registry", "/v1/items", stack.ops[LEAD], json=item_payload(general, LEAD))
    stack.call(
        "POST",
        "registry",
        "/v1/items",
        stack.ops[PART],
        json=item_payload(key, PART, category="key", ratio=0.2),
    )
    for code, dept in ((general, LEAD), (key, PART)):
        stack.call("POST", "registry", f"/v1/items/{code}/publish", stack.ops[dept])
    for _ in range(8):
        body = subject_payload(rng, "A", region_code="420281", departments=[LEAD])
        body["identifier"] = make_uscc(rng, "420281")
        stack.call("POST", "registry", "/v1/subjects", stack.ops[LEAD], json=body)
    for dept in (LEAD, PART):
        for n in range(3):
            body = inspector_payload(
                dept, n, region_code="420200", certificate_no=f"R-{dept}-{RUN}-{n}"
            )
            stack.call("POST", "registry", "/v1/inspectors", stack.ops[dept], json=body)
    stack.settle()
    return [general, key]


def _batch(stack: Stack, items: list[str]) -> str:
    return stack.plan(items, pool={"region_prefixes": ["420281"]}, complaint_referral=True)


def _at_once(*calls: Any) -> list[httpx.Response]:
    """Send the requests together, each from its own thread."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _events(infra: Infra, draw_id: str, name: str) -> int:
    """How many events of this name the draw's stream holds in the event store."""
    with psycopg.connect(infra.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM draw.drawapplication_events "
            "WHERE originator_id = %s AND topic LIKE %s",
            (draw_id, f"%{name}"),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _published(infra: Infra, draw_id: str, name: str) -> int:
    """How many events of this name for the draw JetStream holds (what consumers get)."""

    async def count() -> int:
        nc = await nats.connect(infra.nats_url)
        js = nc.jetstream()
        stream = infra.settings("draw").stream_name("draw")
        info = await js.stream_info(stream)
        found = 0
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            event = parse_cloudevent((await js.get_msg(stream, seq)).data)
            found += event.subject == draw_id and event.type.split(".")[2] == name
        await nc.close()
        return found

    return asyncio.run(count())


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_two_replicas_announce_a_batch_once(
    stack: Stack, replica: ServiceProcess, items: list[str]
) -> None:
    batch = _batch(stack, items)
    body = {"batch_id": batch, "entropy": None}

    def announce(url: str) -> Any:
        from tests.builders import entropy_choice

        return lambda: httpx.post(
            f"{url}/v1/draws",
            json={**body, "entropy": entropy_choice()},
            headers=stack.ops[LEAD],
            timeout=60,
        )

    answers = _at_once(announce(stack.procs["draw"].url), announce(replica.url))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    _problem(next(a for a in answers if a.status_code == 409), 409)
    won = next(a for a in answers if a.status_code == 201).json()
    assert _events(stack.infra, won["id"], "DrawAnnounced") == 1


def test_two_replicas_execute_a_draw_once(
    stack: Stack, replica: ServiceProcess, items: list[str]
) -> None:
    announced = stack.announce(_batch(stack, items))
    assert announced.status_code == 201, announced.text
    draw = announced.json()
    wait_for_entropy(draw)

    def execute(url: str) -> Any:
        return lambda: httpx.post(
            f"{url}/v1/draws/{draw['id']}/execute",
            json={"entropy": ENTROPY},
            headers=stack.ops[LEAD],
            timeout=60,
        )

    answers = _at_once(execute(stack.procs["draw"].url), execute(replica.url))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    _problem(next(a for a in answers if a.status_code == 409), 409)
    assert _events(stack.infra, draw["id"], "DrawExecuted") == 1
    # Both replicas read the one execution; its proof verifies.
    for url in (stack.procs["draw"].url, replica.url):
        seen = httpx.get(f"{url}/v1/draws/{draw['id']}", headers=stack.ops[LEAD]).json()
        assert seen["executed"]["entropy"] == ENTROPY
    proof = httpx.get(f"{replica.url}/v1/draws/{draw['id']}/proof").json()
    assert verify(proof) == []


def test_a_replica_killed_after_storing_an_execution_loses_nothing_and_repeats_nothing(
    infra: Infra, stack: Stack, items: list[str]
) -> None:
    """The replica dies (as kill -9 would) after the execution is stored, before it
    answers: the client sees the connection drop; the other replica shows the draw
    executed once, answers a retry with the same Idempotency-Key by a clean 409, and the
    execution reaches the stream exactly once."""
    doomed = ServiceProcess(infra, "draw", SSJ_CRASH_AT="draw.after_execute").start()
    try:
        announced = stack.announce(_batch(stack, items))
        assert announced.status_code == 201, announced.text
        draw = announced.json()
        wait_for_entropy(draw)
        headers = {**stack.ops[LEAD], "Idempotency-Key": f"exec-{draw['id']}"}
        with pytest.raises(httpx.HTTPError):
            httpx.post(
                f"{doomed.url}/v1/draws/{draw['id']}/execute",
                json={"entropy": ENTROPY},
                headers=headers,
                timeout=60,
            )
        assert doomed.proc is not None and doomed.proc.wait(30) == CRASH_EXIT_CODE
    finally:
        doomed.stop()
    survivor = stack.procs["draw"].url

    def retry(with_headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{survivor}/v1/draws/{draw['id']}/execute",
            json={"entropy": ENTROPY},
            headers=with_headers,
            timeout=60,
        )

    # The dead request's claim is free as soon as PostgreSQL has seen its process's
    # session end (libs/common/liveness.py), not after its 60 s lease; its execution was
    # stored, so the retry with the same key is told so rather than run again.
    started = time.monotonic()
    while True:
        same_key = retry(headers)
        _problem(same_key, 409)
        if same_key.json()["title"] != "Request in progress":
            break
        assert time.monotonic() - started < 10, "the dead request's claim was not freed"
        time.sleep(0.2)
    assert same_key.json()["title"] == "Request already carried out", same_key.text
    again = retry(stack.ops[LEAD])  # without the key: the draw stands executed
    _problem(again, 409)
    assert again.json()["title"] == "Already executed", again.text
    assert _events(infra, draw["id"], "DrawExecuted") == 1
    assert wait_until(lambda: _published(infra, draw["id"], "DrawExecuted"), timeout=30) == 1
    seen = httpx.get(f"{survivor}/v1/draws/{draw['id']}", headers=stack.ops[LEAD]).json()
    assert seen["status"] == "executed" and seen["executed"]["entropy"] == ENTROPY
    assert verify(httpx.get(f"{survivor}/v1/draws/{draw['id']}/proof").json()) == []


def test_two_replicas_void_a_draw_once(
    stack: Stack, replica: ServiceProcess, items: list[str]
) -> None:
    from tests.builders import entropy_choice

    batch = _batch(stack, items)
    announced = stack.announce(batch, entropy=entropy_choice(lead_seconds=3600))
    assert announced.status_code == 201, announced.text
    draw = announced.json()

    def void(url: str) -> Any:
        return lambda: httpx.post(
            f"{url}/v1/draws/{draw['id']}/void",
            json={"reason_code": "other", "reason": "两个副本同时作废"},
            headers=stack.ops[LEAD],
            timeout=60,
        )

    answers = _at_once(void(stack.procs["draw"].url), void(replica.url))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    _problem(next(a for a in answers if a.status_code == 409), 409)
    assert _events(stack.infra, draw["id"], "DrawVoided") == 1
    # The batch's next attempt may be announced, on either replica.
    again = httpx.post(
        f"{replica.url}/v1/draws",
        json={"batch_id": batch, "entropy": entropy_choice()},
        headers=stack.ops[LEAD],
        timeout=60,
    )
    assert again.status_code == 201 and again.json()["attempt"] == 2, again.text


def test_two_replicas_file_one_replacement_once(
    stack: Stack, replica: ServiceProcess, items: list[str]
) -> None:
    """The same replacement filed on both replicas at once: one is made, the other is a
    clean 409 (the draw moved on under it), and the stream holds one replacement."""
    executed = stack.draw(_batch(stack, items), entropy=ENTROPY)
    gone = executed["subjects"][0]["identifier"]
    stack.call(
        "POST",
        "registry",
        f"/v1/subjects/{gone}/status",
        stack.ops[LEAD],
        json={"status": "deregistered", "reason": "注销登记"},
    )
    stack.settle()
    approver = stack.auth(f"approver-{RUN}", LEAD, "approver")
    body = {"kind": "subject", "identifier": gone, "reason_code": "deregistered", "reason": "注销"}

    def replace(url: str) -> Any:
        return lambda: httpx.post(
            f"{url}/v1/draws/{executed['id']}/replacements", json=body, headers=approver, timeout=60
        )

    answers = _at_once(replace(stack.procs["draw"].url), replace(replica.url))
    codes = sorted(a.status_code for a in answers)
    assert codes in ([201, 409], [201, 422]), [a.text for a in answers]
    loser = next(a for a in answers if a.status_code != 201)
    assert loser.headers["content-type"].startswith("application/problem+json")
    assert _events(stack.infra, executed["id"], "SubjectReplaced") == 1
    proof = httpx.get(f"{replica.url}/v1/draws/{executed['id']}/proof").json()
    assert verify(proof) == [] and len(proof["replacements"]) == 1
