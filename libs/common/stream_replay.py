"""A source stream read from its first message, in batches, for a rebuild of a read model
(:mod:`libs.common.rebuild`): by an ephemeral consumer of its own (no acks, removed at the
end or by the server once idle), so the live consumer's durable consumer is left alone."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError, ServiceUnavailableError

from libs.common.delivery import Delivery

log = logging.getLogger(__name__)

# A fetch that brings nothing for this long, short of the end wanted, is a failure.
FETCH_TIMEOUT = 10.0


class StreamUnreadable(Exception):
    """The stream is missing, or stopped delivering before the sequence wanted."""


@dataclass(frozen=True)
class Bounds:
    """What a stream holds now: its first and last sequences, and how many messages."""

    first: int
    last: int
    messages: int


async def bounds(js: JetStreamContext, stream: str) -> Bounds:
    """The stream's :class:`Bounds`; :class:`StreamUnreadable` when there is no stream."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        raise StreamUnreadable(f"no stream {stream}: nothing to rebuild from") from None
    state = info.state
    return Bounds(int(state.first_seq or 0), int(state.last_seq or 0), int(state.messages or 0))


async def batches(
    js: JetStreamContext, stream: str, subjects: str, upto: int, size: int
) -> AsyncIterator[list[Delivery]]:
    """The stream's messages on ``subjects`` from its first up to sequence ``upto``, in
    batches of at most ``size``, as the live consumer receives them (:class:`Delivery`)."""
    if upto <= 0:
        return
    name = f"ssj-rebuild-{uuid.uuid4().hex[:12]}"
    await js.add_consumer(
        stream,
        ConsumerConfig(
            name=name,
            filter_subject=subjects,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=300.0,  # the server removes it should we vanish
            # Read once and dropped: one replica in memory, so an R3 stream's cluster does
            # not first elect a leader for it (fetches meanwhile answer 503).
            num_replicas=1,
            mem_storage=True,
        ),
    )
    sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
    try:
        reached, unavailable_since = 0, 0.0
        while reached < upto:
            try:
                msgs = await sub.fetch(size, timeout=FETCH_TIMEOUT)
            except (NatsTimeout, TimeoutError):
                raise StreamUnreadable(
                    f"stream {stream} delivered nothing after sequence {reached} for "
                    f"{FETCH_TIMEOUT:.0f} s, short of {upto}"
                ) from None
            except ServiceUnavailableError:
                # A cluster moving the stream's leader answers 503 for a moment.
                now = time.monotonic()
                unavailable_since = unavailable_since or now
                if now - unavailable_since > FETCH_TIMEOUT:
                    raise StreamUnreadable(
                        f"stream {stream} unavailable for {FETCH_TIMEOUT:.0f} s after "
                        f"sequence {reached}"
                    ) from None
                await asyncio.sleep(0.5)
                continue
            unavailable_since = 0.0
            batch = []
            for msg in msgs:
                seq = int(msg.metadata.sequence.stream)
                if seq > upto:
                    break
                batch.append(Delivery(seq, msg.data or b"", stream, msg.headers))
                reached = seq
            if batch:
                yield batch
            if len(batch) < len(msgs):
                break
    finally:
        await sub.unsubscribe()
        try:
            await js.delete_consumer(stream, name)
        except Exception as exc:  # the server drops it itself once idle
            log.warning("could not delete the rebuild's consumer %s: %r", name, exc)
