"""The identity provider's signing keys (统一身份认证的公钥集), fetched from its JWKS URL.

PyJWT's :class:`jwt.PyJWKClient` fetches and parses the key set; this module keeps the
keys and decides when to fetch, because the client alone would do harm here:

- it fetches in the calling thread, and a request's verification runs on the event loop;
- it rate-limits refetches from the last *successful* fetch only, so while the provider
  is down every token with an unknown ``kid`` (anyone can invent one) would fetch again,
  and once its cache expires every request would wait for the unreachable provider.

So: keys are looked up by ``kid`` in memory, without I/O. An unknown ``kid`` triggers one
fetch (the provider rotated its keys) but at most one every ``refetch_seconds``, counted
from the last *attempt*, failed or not; a token with an unknown ``kid`` inside that window
is refused at once. The set is also refetched in the background once it is older than
``max_age_seconds``, so a key the provider withdraws stops being accepted. A failed fetch
keeps the keys already held: a provider that is briefly unreachable does not sign
everyone out. Fetches run on one thread of their own, one at a time; callers waiting for
one share it (:func:`asyncio.wrap_future`), so a flood of invented ``kid`` costs neither
the event loop nor the default executor's threads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import jwt

from libs.common.settings import CommonSettings

log = logging.getLogger(__name__)

# What a key must be to verify tokens: (kty, alg) pairs, and for EC the curve ES256 uses
# (P-256, as cryptography names it).
ACCEPTED_KEYS = frozenset({("RSA", "RS256"), ("EC", "ES256")})
EC_CURVE = "secp256r1"
# NIST SP 800-57 / GB/T: RSA keys below 2048 bits are not fit to sign.
MIN_RSA_BITS = 2048


class KeyUnavailable(Exception):
    """No key to verify a token with: its ``kid`` is unknown, or the set cannot be fetched."""


def _usable(key: jwt.PyJWK) -> bool:
    """A signing key of an accepted type; the provider may publish others (encryption
    keys, HMAC ``oct`` keys) that must never verify a token."""
    if not key.key_id or key.public_key_use not in (None, "sig"):
        return False
    if (key.key_type, key.algorithm_name) not in ACCEPTED_KEYS:
        return False
    if key.key_type == "EC":
        return getattr(getattr(key.key, "curve", None), "name", "") == EC_CURVE
    return int(getattr(key.key, "key_size", 0)) >= MIN_RSA_BITS


class KeySet:
    """The keys of one JWKS URL, by ``kid``."""

    def __init__(
        self,
        url: str,
        *,
        refetch_seconds: float = 30.0,
        max_age_seconds: float = 300.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refetch_seconds = refetch_seconds
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        # The client's own caches are off: this class is the cache.
        self._client = jwt.PyJWKClient(
            url, cache_keys=False, cache_jwk_set=False, timeout=timeout_seconds
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")
        # Guards the fields below; held for a few instructions, never across I/O.
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at = -math.inf
        self._inflight: Future[None] | None = None
        # How many fetches were started (the rate limit's witness in tests and logs).
        self.attempts = 0
        # urllib's timeout bounds each socket operation, not the whole fetch: waiting
        # callers give up after this.
        self._wait_seconds = 2 * timeout_seconds + 1

    def cached(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid`` if it is held, without I/O. A background fetch starts when
        it is not held or the set is old, as far as the rate limit allows."""
        key = self._keys.get(kid)
        if key is None or self._stale():
            self._start_fetch()
        return key

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key named ``kid``, fetching the set once if it is unknown (rotation) and the
        last attempt lies ``refetch_seconds`` back; :class:`KeyUnavailable` otherwise."""
        key = self._keys.get(kid)
        if key is not None:
            if self._stale():
                self._start_fetch()
            return key
        inflight = self._start_fetch()
        if inflight is not None:
            try:
                # shield: a caller that goes away must not cancel the fetch others share.
                await asyncio.wait_for(
                    asyncio.shield(asyncio.wrap_future(inflight)), self._wait_seconds
                )
            except TimeoutError as exc:
                raise KeyUnavailable(
                    f"the identity provider's keys did not arrive within {self._wait_seconds:g} s"
                ) from exc
        key = self._keys.get(kid)
        if key is None:
            raise KeyUnavailable(self._missing(kid))
        return key

    def _missing(self, kid: str) -> str:
        # The caller learns that the provider failed, not how: the error (host names,
        # addresses) is in the log, once per attempt.
        if self._fetched_at is None:
            return "the identity provider's keys are unavailable (its JWKS could not be fetched)"
        return (
            f"unknown key id {kid[:64]!r}: not in the identity provider's key set "
            f"(fetched again at most every {self.refetch_seconds:g} s)"
        )

    def _stale(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or self._clock() - fetched >= self.max_age_seconds

    def _start_fetch(self) -> Future[None] | None:
        """The fetch under way, or a new one if the rate limit allows; None otherwise."""
        with self._lock:
            if self._inflight is not None and not self._inflight.done():
                return self._inflight
            now = self._clock()
            if now - self._attempted_at < self.refetch_seconds:
                return None
            self._attempted_at = now
            self.attempts += 1
            self._inflight = self._executor.submit(self._fetch)
            return self._inflight

    def _fetch(self) -> None:
        try:
            fetched = self._client.get_jwk_set(refresh=True)
            keys = {k.key_id: k for k in fetched.keys if k.key_id and _usable(k)}
            if not keys:
                raise jwt.PyJWKSetError("no RS256 or ES256 signing key with a kid")
        # Whatever the failure (network, JSON, a key set PyJWT cannot read), the request
        # waiting for it gets a 401 and the keys held stay in use: never an exception here.
        except Exception as exc:
            with self._lock:
                self._inflight = None
            log.warning("JWKS fetch from %s failed: %s", self.url, exc)
            return
        with self._lock:
            self._keys = keys
            self._fetched_at = self._clock()
            self._inflight = None
        log.info("JWKS fetched from %s: key ids %s", self.url, sorted(keys))


_sets: dict[tuple[str, float, float, float], KeySet] = {}
_sets_lock = threading.Lock()


def key_set_for(settings: CommonSettings) -> KeySet:
    """The process's key set for ``settings.jwks_url`` (one per URL and limits, so the
    rate limit holds across every app and request of the process)."""
    name = (
        settings.jwks_url,
        settings.jwks_refetch_seconds,
        settings.jwks_max_age_seconds,
        settings.jwks_timeout_seconds,
    )
    with _sets_lock:
        found = _sets.get(name)
        if found is None:
            found = _sets[name] = KeySet(
                settings.jwks_url,
                refetch_seconds=settings.jwks_refetch_seconds,
                max_age_seconds=settings.jwks_max_age_seconds,
                timeout_seconds=settings.jwks_timeout_seconds,
            )
        return found
