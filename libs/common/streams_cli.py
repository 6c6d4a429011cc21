"""``ssj streams reset``: delete a namespace's streams and their consumers (development).

After a development database was dropped or restored, its streams still hold the old
events and the relays refuse to publish (``stream_database_mismatch``). Deleting the
streams lets each service's relay create its stream again and publish its database's
events from the first; consumers start over with their read models (docs/operations.md).
It refuses to run without ``--yes``: the deleted events are gone from NATS for good.
"""

from __future__ import annotations

import asyncio
import sys

import nats

from libs.common.bus import namespace_prefix, reset_streams
from libs.common.nats_cluster import servers
from libs.common.settings import CommonSettings


def reset(namespace: str | None, *, confirmed: bool) -> int:
    """Delete the streams of ``namespace`` (default ``SSJ_NAMESPACE``) on ``NATS_URL``."""
    settings = CommonSettings()
    namespace = settings.namespace if namespace is None else namespace
    prefix = namespace_prefix(namespace)
    if not confirmed:
        print(
            f"This deletes every stream named {prefix}* on {settings.nats_url}, with its "
            "consumers and the events it holds. Only for development: in production restore "
            "the database and the streams together. Run again with --yes to do it.",
            file=sys.stderr,
        )
        return 2

    async def run() -> list[str]:
        nc = await nats.connect(servers(settings.nats_url))
        try:
            return await reset_streams(nc.jetstream(), namespace)
        finally:
            await nc.close()

    deleted = asyncio.run(run())
    for name in deleted:
        print(f"deleted stream {name}")
    if not deleted:
        print(f"no stream named {prefix}* on {settings.nats_url}")
    print("Restart the services: each relay creates its stream again and publishes its events.")
    return 0
