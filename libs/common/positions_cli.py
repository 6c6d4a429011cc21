"""``ssj positions``: show or reset a consumer's position.

For an operator after a consumer raised ``stream_went_backwards`` (or to step over an event
that can never be applied, ``poison_event``): first restore or rebuild the read model, then
set the position to the last stream sequence the read model holds. The running leader picks
the new position up at its next retry. Without ``--to`` it only shows where the consumer
stands and what the stream holds. Settings (``DATABASE_URL``, ``NATS_URL``,
``SSJ_NAMESPACE``) come from the environment as for the services.

    ssj positions --schema registry --consumer views --source registry
    ssj positions --schema registry --consumer views --source registry \\
        --to 368 --yes
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg
import nats

from libs.common import positions
from libs.common.nats_cluster import servers
from libs.common.settings import CommonSettings


async def _run(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    durable = f"{args.schema}-{args.consumer}"  # as Consumer names its durable consumer
    stream = settings.stream_name(args.source)
    nc = await nats.connect(servers(settings.nats_url))
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        js = nc.jetstream()
        position, event_id = await positions.committed(pool, args.schema, durable, stream)
        info = await js.stream_info(stream)
        print(
            f"consumer {durable}: position {position} (event {event_id}); stream {stream}: "
            f"sequences {info.state.first_seq}-{info.state.last_seq}"
        )
        if args.to is None:
            return 0
        if not args.yes:
            print(
                f"This sets {durable}'s position to {args.to}: events after it are applied "
                "next, events up to it are taken as already in the read model. Run again "
                "with --yes to do it.",
                file=sys.stderr,
            )
            return 2
        previous = await positions.reset_position(
            pool, js, args.schema, durable, stream, args.to, args.source
        )
        print(f"consumer {durable}: position reset from {previous} to {args.to}")
        return 0
    finally:
        await pool.close()
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and show or reset the position."""
    parser = argparse.ArgumentParser(prog="ssj positions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", required=True, help="the consuming service's schema")
    parser.add_argument("--consumer", required=True, help="the consumer's name in its service")
    parser.add_argument("--source", required=True, help="the source service (its stream)")
    parser.add_argument("--to", type=int, help="the new position (a stream sequence, 0 or more)")
    parser.add_argument("--yes", action="store_true", help="really reset it")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
