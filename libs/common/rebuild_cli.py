"""``ssj rebuild``: rebuild a read model from its events, or compare it with a rebuild.

    ssj rebuild --list                   # the read models, their streams and tables
    ssj rebuild disclosure.results       # empty its tables, replay its stream, commit
    ssj rebuild disclosure.results --check   # compare only (exit 1 when it differs)
    ssj rebuild --check --all            # every read model, compared
    ssj rebuild registry.views --to-end  # after stream_went_backwards: replay the
                                         # whole stream and move the position to its end

The running service need not stop: its consumer waits while the rebuild holds its position
(libs/common/rebuild.py). Settings (``DATABASE_URL``, ``NATS_URL``, ``SSJ_NAMESPACE``) come
from the environment as for the services. Exit status: 0 done (or equal), 1 refused or
different, 2 a usage error or an unknown name.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import asyncpg
from nats.errors import Error as NatsError

from libs.common.read_models import UnknownReadModel, read_models, unit_of, units
from libs.common.rebuild import Progress, RebuildRefused, Report, compare_all, rebuild
from libs.common.settings import CommonSettings

USAGE_ERROR = 2


def list_read_models() -> list[str]:
    """One line per read model: its name, source stream, tables, and its unit's others."""
    models = read_models()
    lines = []
    width = max(len(name) for name in models)
    for unit in units(models):
        for model in unit:
            others = [m.name for m in unit if m is not model]
            together = f"  (rebuilt with {', '.join(others)})" if others else ""
            lines.append(
                f"{model.name:<{width}}  from {model.consumer.source:<10}  "
                f"{', '.join(model.tables)}{together}"
            )
    return lines


def _progress() -> Progress:
    """Progress on stderr, at most once a second and at the end of each read model."""
    shown = {"at": 0.0}

    def show(name: str, reached: int, upto: int) -> None:
        now = time.monotonic()
        if reached < upto and now - shown["at"] < 1.0:
            return
        shown["at"] = now
        share = f" ({reached * 100 // upto}%)" if upto else ""
        print(f"{name}: stream sequence {reached} of {upto}{share}", file=sys.stderr)

    return show


def _print(report: Report) -> None:
    if report.refused is not None:
        print(f"{', '.join(report.names)}: not compared: {report.refused}")
        return
    action = "rebuilt" if report.committed else "compared"
    print(f"{', '.join(report.names)}: {action}")
    for name in report.names:
        before, after = report.stream_positions.get(name, (0, 0))
        moved = "unchanged" if before == after else f"moved from {before}"
        print(f"  {name}: {report.applied.get(name, 0)} events applied; position {after} ({moved})")
    for table in report.tables:
        print(f"  {table.describe()}")
        for row in table.samples_live:
            print(f"    held, not rebuilt: {row}")
        for row in table.samples_rebuilt:
            print(f"    rebuilt, not held: {row}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


async def _run(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    progress = None if args.quiet else _progress()
    if args.all:
        reports = await compare_all(settings, progress=progress)
    else:
        commit = not args.check
        reports = [
            await rebuild(settings, args.name, commit=commit, to_end=args.to_end, progress=progress)
        ]
    for report in reports:
        _print(report)
    if args.check or args.all:
        return 0 if all(r.matches for r in reports) else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments; list, rebuild or compare."""
    parser = argparse.ArgumentParser(prog="ssj rebuild", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help="<service>.<consumer> (see --list)")
    parser.add_argument("--list", action="store_true", help="list the read models")
    parser.add_argument("--check", action="store_true", help="compare only, change nothing")
    parser.add_argument("--all", action="store_true", help="with --check: every read model")
    parser.add_argument(
        "--to-end",
        action="store_true",
        help="replay the whole stream and set the position to its last message (default: "
        "up to the position the consumer recorded)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(list_read_models()))
        return 0
    if args.all and (args.name or not args.check or args.to_end):
        parser.print_usage(sys.stderr)
        print("ssj rebuild: --all goes with --check alone", file=sys.stderr)
        return USAGE_ERROR
    if not args.all and not args.name:
        parser.print_usage(sys.stderr)
        print("ssj rebuild: name a read model (ssj rebuild --list shows them)", file=sys.stderr)
        return USAGE_ERROR
    if args.name:
        try:
            unit_of(args.name, read_models())
        except UnknownReadModel as exc:
            print(f"ssj rebuild: {exc}", file=sys.stderr)
            return USAGE_ERROR
    try:
        return asyncio.run(_run(args))
    except RebuildRefused as exc:
        print(f"ssj rebuild: refused, nothing changed: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, NatsError) as exc:
        print(f"ssj rebuild: failed, nothing changed: {exc!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
