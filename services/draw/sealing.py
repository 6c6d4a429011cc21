"""Each draw's secret: random, sealed until execution (protocol ``ssj-draw-3``).

``ssj-draw-2`` derived the secret as HMAC(server key, draw id): whoever held the key knew
every future draw's secret, and could compute results offline for any entropy. From v3
the secret is 32 random bytes from the operating system's CSPRNG, drawn when the draw is
announced; ``DrawAnnounced`` carries it sealed (AES-256-GCM under a key derived from
``SSJ_DRAW_KEY``, bound to the draw id and its commitment), and execution unseals it and
checks it against the published commitment before using it. The commitment is published
before the entropy exists, so knowing the secret early gives nobody a choice: the outcome
still waits for the public numbers.

AES-GCM comes from ``cryptography`` (the Python Cryptographic Authority's library) rather
than anything written here.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"ssj-draw-3 sealed secret"
_NONCE = 12


class SealBroken(Exception):
    """A sealed secret that does not open under this key (another key, or altered)."""


def new_secret() -> bytes:
    """32 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(32)


class Sealer:
    """Seals and opens draw secrets under one server key."""

    def __init__(self, key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            key.encode("utf-8")
        )
        self._aead = AESGCM(derived)

    @staticmethod
    def _context(draw_id: str, commitment: str) -> bytes:
        return f"ssj-draw-3\x00{draw_id}\x00{commitment}".encode()

    def seal(self, secret: bytes, draw_id: str, commitment: str) -> str:
        """The secret sealed for this draw and commitment (base64 of nonce ‖ ciphertext)."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, secret, self._context(draw_id, commitment))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, draw_id: str, commitment: str) -> bytes:
        """The secret; raises :class:`SealBroken` when it does not open."""
        try:
            raw = base64.b64decode(sealed, validate=True)
            return self._aead.decrypt(
                raw[:_NONCE], raw[_NONCE:], self._context(draw_id, commitment)
            )
        except (InvalidTag, ValueError) as exc:
            raise SealBroken(
                f"the sealed secret of draw {draw_id} does not open with this SSJ_DRAW_KEY "
                "(the key was changed since the announcement, or the record was altered)"
            ) from exc
