"""Settings shared by every service, read from the environment (documented in the README)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Literal, Self
from urllib.parse import urlsplit

from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_PORTS: dict[str, int] = {
    "registry": 8001,
    "planner": 8002,
    "draw": 8003,
    "results": 8004,
    "disclosure": 8005,
}

DEV_JWT_SECRET = "ssj-dev-secret-change-me-in-production-0123456789"


class CommonSettings(BaseSettings):
    """Environment of one service process. Field names map to upper-case variables."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service: str = Field(default="ssj", validation_alias="SSJ_SERVICE")
    # "production" (the default) or "development": only development may run on the
    # development keys (libs.common.keys).
    environment: Literal["production", "development"] = Field(
        default="production", validation_alias="SSJ_ENV"
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres", validation_alias="DATABASE_URL"
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias="NATS_URL")
    # Prefix for stream names and subjects, so test runs sharing one NATS server stay apart.
    namespace: str = Field(default="", validation_alias="SSJ_NAMESPACE")
    host: str = Field(default="127.0.0.1", validation_alias="SSJ_HOST")
    port: int | None = Field(default=None, validation_alias="SSJ_PORT")
    jwt_secret: str = Field(default=DEV_JWT_SECRET, validation_alias="SSJ_JWT_SECRET")
    jwt_issuer: str = Field(default="ssj", validation_alias="SSJ_JWT_ISSUER")
    # An external identity provider (统一身份认证): its JWKS URL. Set, tokens signed RS256 or
    # ES256 by one of its keys are accepted, with SSJ_JWT_AUDIENCE required; HS256 tokens
    # (SSJ_JWT_SECRET) then only in development (libs.common.auth, docs/api.md "Tokens").
    jwks_url: str = Field(default="", validation_alias="SSJ_JWKS_URL")
    # The `aud` every token must carry when set (always set beside SSJ_JWKS_URL): a token
    # the provider issued for another system is no token for ssj.
    jwt_audience: str = Field(default="", validation_alias="SSJ_JWT_AUDIENCE")
    # An unknown `kid` fetches the key set again at most this often (libs.common.jwks).
    jwks_refetch_seconds: float = Field(default=30.0, ge=0, validation_alias="SSJ_JWKS_REFETCH")
    # The key set is refetched once older than this, so withdrawn keys stop verifying.
    jwks_max_age_seconds: float = Field(default=300.0, gt=0, validation_alias="SSJ_JWKS_MAX_AGE")
    jwks_timeout_seconds: float = Field(default=5.0, gt=0, validation_alias="SSJ_JWKS_TIMEOUT")
    # The longest life a token may have (exp - iat): longer ones are refused, so a leaked
    # token cannot stay good for years.
    token_max_ttl_seconds: int = Field(default=12 * 3600, validation_alias="SSJ_TOKEN_MAX_TTL")
    relay_batch: int = Field(default=5000, validation_alias="SSJ_RELAY_BATCH")
    relay_idle_seconds: float = Field(default=0.2, validation_alias="SSJ_RELAY_IDLE_SECONDS")
    consumer_batch: int = Field(default=2000, validation_alias="SSJ_CONSUMER_BATCH")
    # An event a consumer cannot apply is retried after 1 s, doubling to this many seconds;
    # after this many attempts it is reported (alarm poison_event) and retried on.
    consumer_retry_seconds: float = Field(default=1.0, validation_alias="SSJ_CONSUMER_RETRY")
    consumer_retry_max_seconds: float = Field(
        default=60.0, validation_alias="SSJ_CONSUMER_RETRY_MAX"
    )
    consumer_poison_attempts: int = Field(default=5, validation_alias="SSJ_CONSUMER_ATTEMPTS")
    # A relay or consumer leader that vanishes or is cut off loses its lock after this long.
    leader_lease_seconds: float = Field(default=15.0, validation_alias="SSJ_LEADER_LEASE")
    stream_replicas: int = Field(default=1, validation_alias="SSJ_STREAM_REPLICAS")
    # JetStream's sync_interval for the embedded nats-server ("always", or a duration such
    # as "2m"): a setting of the server, so a server of your own needs it in its config.
    stream_sync: str = Field(default="always", validation_alias="SSJ_STREAM_SYNC")
    # JetStream drops a re-published message whose Nats-Msg-Id it saw within this window.
    dedupe_window_seconds: float = Field(default=3600.0, validation_alias="SSJ_DEDUPE_WINDOW")
    # /readyz answers 503 when a relay or consumer is further behind than this.
    ready_max_lag: int = Field(default=10_000, validation_alias="SSJ_READY_MAX_LAG")
    log_level: str = Field(default="info", validation_alias="SSJ_LOG_LEVEL")
    # Request bodies larger than this are refused with 413 before they are read whole.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, validation_alias="SSJ_MAX_BODY_BYTES")
    # How long a request's claim on its Idempotency-Key outlives its process (renewed while
    # it runs): a retry after a crash waits this long for "carried out" or a second run.
    idempotency_claim_seconds: float = Field(
        default=60.0, gt=0, le=3600, validation_alias="SSJ_IDEMPOTENCY_CLAIM_SECONDS"
    )
    # Paths starting with one of these prefixes take file uploads (the registry's bulk
    # import) and may send up to max_upload_bytes instead.
    upload_path_prefixes: tuple[str, ...] = Field(
        default=("/v1/imports/", "/v1/evidence"), validation_alias="SSJ_UPLOAD_PATH_PREFIXES"
    )
    # The registry's import reads a file whole (200 MB holds a province's directory).
    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, validation_alias="SSJ_MAX_UPLOAD_BYTES"
    )

    @model_validator(mode="after")
    def _identity_provider(self) -> Self:
        """Refuse to start on an identity provider set up half: without an audience any
        token the provider signs for any system would do; over plain http (but to this
        machine) anyone on the path could swap the keys."""
        if not self.jwks_url:
            return self
        if not self.jwt_audience:
            raise ValueError(
                "SSJ_JWKS_URL is set: SSJ_JWT_AUDIENCE (the aud ssj accepts) is required"
            )
        url = urlsplit(self.jwks_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"SSJ_JWKS_URL {self.jwks_url!r} is not an http(s) URL")
        if (
            url.scheme == "http"
            and self.environment != "development"
            and not _loopback(url.hostname)
        ):
            raise ValueError("SSJ_JWKS_URL must be https (plain http only to this machine)")
        return self

    @cached_property
    def http_port(self) -> int:
        """The port this service listens on (SSJ_PORT, else the service's default)."""
        return self.port or SERVICE_PORTS.get(self.service, 8000)

    @cached_property
    def postgres(self) -> dict[str, str]:
        """DATABASE_URL split into libpq keywords (host may be a socket directory)."""
        parts = conninfo_to_dict(self.database_url)
        return {k: str(v) for k, v in parts.items() if v is not None}

    def stream_name(self, service: str) -> str:
        """JetStream stream that holds one service's events, e.g. ``SSJ_DRAW``."""
        prefix = f"{self.namespace.upper()}_" if self.namespace else ""
        return f"{prefix}SSJ_{service.upper()}"

    def subject_prefix(self, service: str) -> str:
        """NATS subject prefix of one service's events, e.g. ``ssj.draw``."""
        prefix = f"{self.namespace.lower()}." if self.namespace else ""
        return f"{prefix}ssj.{service}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
