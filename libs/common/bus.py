"""NATS JetStream connection and the per-service streams (``SSJ_<SERVICE>``)."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from libs.common.settings import CommonSettings

log = logging.getLogger(__name__)


async def connect(settings: CommonSettings, name: str) -> NATS:
    """Connect with endless reconnects: a NATS restart must not kill a service."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    return await nats.connect(
        settings.nats_url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
    )


def stream_config(settings: CommonSettings, service: str) -> StreamConfig:
    """The one stream that holds every event a service publishes."""
    return StreamConfig(
        name=settings.stream_name(service),
        subjects=[f"{settings.subject_prefix(service)}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.dedupe_window_seconds,
    )


async def ensure_stream(js: JetStreamContext, settings: CommonSettings, service: str) -> None:
    """Create the stream, or bring an existing one to the current configuration.

    Producer and consumers both call this, so whoever starts first creates it.
    """
    config = stream_config(settings, service)
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)
