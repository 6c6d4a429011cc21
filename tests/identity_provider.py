"""A stand-in identity provider for tests: real RSA and EC keys (cryptography) and their
JWKS served over HTTP from a thread, as a provider's endpoint serves it."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ROTATED_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(private: Any, kid: str, **extra: str) -> dict[str, Any]:
    """The public half of ``private`` as a JWK (PyJWT writes it)."""
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **extra}


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 whose document a test changes, counting its fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.hits = 0
        self.stopped = False
        self.path = f"/{uuid.uuid4()}/jwks.json"  # one URL per server: one key set per URL
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                body = json.dumps(server.document).encode()
                self.send_response(200 if self.path == server.path else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}{self.path}"
        # A short poll so that stopping (every test's teardown) takes no half second.
        threading.Thread(target=self.http.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.http.shutdown()
            self.http.server_close()


def serving() -> JwksServer:
    """A provider listing ``rsa-1`` (RSA_KEY) and ``ec-1`` (EC_KEY)."""
    server = JwksServer()
    server.document = {"keys": [jwk_of(RSA_KEY, "rsa-1"), jwk_of(EC_KEY, "ec-1")]}
    return server
