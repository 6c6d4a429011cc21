"""NATS JetStream connection and the per-service streams (``SSJ_<SERVICE>``).

Only the owning service (its relay) creates or updates its stream's configuration
(:func:`ensure_stream`); a consuming service that starts first only creates a missing one
(:func:`ensure_stream_exists`) and never rewrites an existing one with its own settings
(say, another duplicate window, or fewer replicas).

Durability: JetStream acknowledges a message before it is synced to disk, and syncs every
``sync_interval`` (2 min by default). That is a setting of the server, not of a stream
(``jetstream { sync_interval: always }`` in its configuration file; the embedded server of
:mod:`libs.common.infra` is started with ``SSJ_STREAM_SYNC``, ``always`` by default). A
single-replica stream on a server without it can lose acknowledged messages in a crash of
the host; see docs/operations.md.
"""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from libs.common.nats_cluster import servers
from libs.common.settings import CommonSettings

log = logging.getLogger(__name__)


async def connect(settings: CommonSettings, name: str) -> NATS:
    """Connect with endless reconnects: a NATS restart must not kill a service."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    return await nats.connect(
        servers(settings.nats_url),  # a cluster: every node, so any one may die
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
    """Create the stream, or bring an existing one to the current configuration: for the
    owning service (its relay) only."""
    config = stream_config(settings, service)
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


async def ensure_stream_exists(
    js: JetStreamContext, settings: CommonSettings, service: str
) -> None:
    """Create the stream if it is missing (its owner not up yet), leaving an existing one
    as its owner configured it: for consuming services."""
    try:
        await js.stream_info(settings.stream_name(service))
        return
    except NotFoundError:
        pass
    try:
        await js.add_stream(stream_config(settings, service))
    except BadRequestError:  # created meanwhile, by the owner or another consumer
        await js.stream_info(settings.stream_name(service))


def namespace_prefix(namespace: str) -> str:
    """What the names of a namespace's streams start with (``SSJ_`` for no namespace)."""
    return CommonSettings.model_validate({"SSJ_NAMESPACE": namespace}).stream_name("")


async def reset_streams(js: JetStreamContext, namespace: str) -> list[str]:
    """Delete every stream of ``namespace`` (and so its consumers); return their names.

    For development only: the events they held are gone from NATS for good.
    """
    prefix = namespace_prefix(namespace)
    names: list[str] = []
    while page := await js.streams_info(offset=len(names)):  # the server answers in pages
        names.extend(info.config.name or "" for info in page)
    deleted = sorted(name for name in names if name.startswith(prefix))
    for name in deleted:
        await js.delete_stream(name)
    return deleted
