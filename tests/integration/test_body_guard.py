"""Bodies are judged before they are read (libs/common/bodyguard.py), on a real service
process: a body without an accepted token is answered 401 before a byte of it is sent, and
JSON nested past the limit is a 422, not a parse."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from libs.common.auth import issue_token
from libs.common.bodyguard import MAX_JSON_DEPTH
from tests.support import Infra, ServiceProcess


@pytest.fixture(scope="module")
def registry(infra: Infra) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(infra, "registry").start()
    yield proc
    proc.stop()


def head_only(proc: ServiceProcess, path: str, length: int, authorization: str = "") -> bytes:
    """Send a request's head announcing ``length`` bytes of body and none of them; return
    what the service answers within 10 s (it must answer without waiting for the body)."""
    with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: ssj\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n{authorization}\r\n"
        )
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.mark.parametrize(
    ("path", "authorization", "reason"),
    [
        ("/v1/items", "", b"a bearer token is required"),
        ("/v1/imports/subjects?filename=a.csv", "", b"a bearer token is required"),
        ("/v1/items", "Authorization: Bearer forged.token.here\r\n", b'"status":401'),
        ("/v1/items", "Authorization: Basic b2ZmaWNlOm9mZmljZQ==\r\n", b"bearer token"),
    ],
    ids=["anonymous", "anonymous-upload", "forged", "basic"],
)
def test_a_body_without_an_accepted_token_is_refused_before_it_is_sent(
    registry: ServiceProcess, path: str, authorization: str, reason: bytes
) -> None:
    started = time.monotonic()
    answer = head_only(registry, path, 1_500_000, authorization)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]
    assert reason in answer and b"application/problem+json" in answer
    assert time.monotonic() - started < 10  # not the server's body timeout


def test_json_nested_past_the_limit_is_422_and_a_valid_body_still_passes(
    registry: ServiceProcess, infra: Infra
) -> None:
    token = issue_token(infra.settings(), sub="office-1", dept="OFFICE", roles=["office"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deep = b'{"code":"D1","name":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = httpx.post(f"{registry.url}/v1/departments", content=deep, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        f"the JSON body nests 100001 levels deep; at most {MAX_JSON_DEPTH}"
    )
    shallow = b'{"code":"D1","name":' + b"[" * 5 + b"]" * 5 + b', "level": "city"}'
    answer = httpx.post(f"{registry.url}/v1/departments", content=shallow, headers=headers)
    assert answer.status_code == 422 and "name" in answer.text  # the model's own check
    # The idempotency middleware behind the guard still sees the body it replays.
    body = {"code": "GUARD1", "name": "守门局", "level": "city", "region_code": "420200"}
    again = {**headers, "Idempotency-Key": "guard-1"}
    first = httpx.post(f"{registry.url}/v1/departments", json=body, headers=again)
    second = httpx.post(f"{registry.url}/v1/departments", json=body, headers=again)
    assert first.status_code == 201, first.text
    assert (second.status_code, second.json()) == (201, first.json())
