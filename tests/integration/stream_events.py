"""CloudEvents put on a service's JetStream stream as its relay would (subject
``<prefix>.<aggregate>.<EventName>``, ``Nats-Msg-Id`` the event id), for tests that start a
service without the services whose events it consumes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

import nats

from libs.common.bus import ensure_stream
from tests.support import Infra


def publish_events(infra: Infra, service: str, events: Iterable[Mapping[str, Any]]) -> None:
    """Put these events on ``service``'s stream, in order."""
    settings = infra.settings()

    async def send() -> None:
        nc = await nats.connect(infra.nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, settings, service)
            for event in events:
                aggregate, name = str(event["aggregate"]).lower(), str(event["type"]).split(".")[2]
                await js.publish(
                    f"{settings.subject_prefix(service)}.{aggregate}.{name}",
                    json.dumps(event).encode(),
                    stream=settings.stream_name(service),
                    headers={"Nats-Msg-Id": str(event["id"])},
                )
        finally:
            await nc.close()

    asyncio.run(send())
