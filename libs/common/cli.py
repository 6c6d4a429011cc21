"""The ``ssj`` command: ``ssj run`` (what ``make run`` calls), ``ssj token``, ``ssj
positions`` and ``ssj rebuild`` (read models), and the services' own commands (``ssj
import``, ``ssj draw``, ``ssj calendar``)."""

from __future__ import annotations

import argparse
import sys

from libs.common.auth import ROLES, issue_token
from libs.common.settings import SERVICE_PORTS, CommonSettings


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and dispatch to a subcommand."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["positions"]:
        # Its own parser: argparse's REMAINDER does not pass options that come first.
        from libs.common.positions_cli import main as positions_main

        return positions_main(argv[1:])
    if argv[:1] == ["rebuild"]:
        from libs.common.rebuild_cli import main as rebuild_main

        return rebuild_main(argv[1:])
    parser = argparse.ArgumentParser(prog="ssj", description="双随机、一公开 supervision backend")
    sub = parser.add_subparsers(dest="command", required=True)

    run_p = sub.add_parser("run", help="start embedded NATS/PostgreSQL (if unset) and services")
    run_p.add_argument("services", nargs="*", metavar="SERVICE", help="default: all five")

    tok = sub.add_parser("token", help="print a signed JWT for local use (SSJ_JWT_SECRET)")
    tok.add_argument("--sub", required=True)
    tok.add_argument("--dept", default="", help="department code (the office's: OFFICE)")
    tok.add_argument("--roles", required=True, help=f"comma-separated: {', '.join(sorted(ROLES))}")
    tok.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")

    streams_p = sub.add_parser(
        "streams", help="development: delete a namespace's JetStream streams and consumers"
    )
    streams_p.add_argument("action", choices=["reset"])
    streams_p.add_argument("--namespace", help="default: SSJ_NAMESPACE")
    streams_p.add_argument("--yes", action="store_true", help="really delete them")

    positions_p = sub.add_parser(
        "positions",
        help="show or reset a consumer's position (after stream_went_backwards)",
        description="ssj positions --schema S --consumer C --source SRC [--to SEQ --yes]",
    )
    positions_p.add_argument("rest", nargs=argparse.REMAINDER)

    for action, text in (
        ("backup", "write the database and the JetStream streams to a new directory "
                   "(services stopped; docs/operations.md)"),
        ("restore", "restore a backup into an empty database and NATS"),
    ):  # fmt: skip
        backup_p = sub.add_parser(action, help=text)
        backup_p.add_argument("directory")

    rebuild_p = sub.add_parser(
        "rebuild",
        help="rebuild a read model from its events, or compare it with a rebuild",
        description="ssj rebuild --list | ssj rebuild NAME [--check] [--to-end] | "
        "ssj rebuild --check --all",
    )
    rebuild_p.add_argument("rest", nargs=argparse.REMAINDER)

    audit_p = sub.add_parser(
        "audit",
        help="tamper evidence: check every events table's chains and versions against "
        "the JetStream streams",
    )
    audit_p.add_argument("action", choices=["verify"])
    audit_p.add_argument("--schema", help="one service's schema (default: every events table)")

    # Service commands register themselves; libs/common knows only how to dispatch.
    from services.registry import cli as registry_cli

    registry_cli.add_parser(sub)
    from services.results import cli as results_cli

    results_cli.add_parser(sub)
    from services.disclosure import cli as disclosure_cli

    disclosure_cli.add_parser(sub)
    draw_p = sub.add_parser(
        "draw",
        help="verify, replay or RFC 3797-select draws offline (no service needed)",
        description="ssj draw verify PROOF.json | ssj draw verify-line LINE.json | "
        "ssj draw replay INPUT.json | ssj draw rfc3797 --pool-size N --count K SOURCE...",
    )
    draw_p.add_argument("action", choices=["verify", "verify-line", "replay", "rfc3797"])
    draw_p.add_argument("rest", nargs=argparse.REMAINDER)

    args = parser.parse_args(argv)
    if args.command == "draw":
        # The protocol is standard-library only; these are its own command lines.
        if args.action == "rfc3797":
            from services.draw.protocol import rfc3797

            return rfc3797.main(args.rest)
        from services.draw.protocol import verify as proof

        return proof.main([args.action, *args.rest])
    if args.command in ("backup", "restore"):
        from libs.common.backup import main as backup_main

        return backup_main(args.command, args.directory)
    if args.command == "audit":
        from libs.common.audit import main as audit_main

        return audit_main(args.schema)
    if args.command == "streams":
        from libs.common.streams_cli import reset

        return reset(args.namespace, confirmed=args.yes)
    if args.command == "import":
        return registry_cli.run(args)
    if args.command == "calendar":
        return results_cli.run(args)
    if args.command == "results":
        return results_cli.run_results(args)
    if args.command == "disclosure":
        return disclosure_cli.run(args)
    if args.command == "run":
        from libs.common.devstack import run

        unknown = set(args.services) - set(SERVICE_PORTS)
        if unknown:
            parser.error(f"unknown services: {sorted(unknown)}; known: {list(SERVICE_PORTS)}")
        return run(args.services or None)
    if args.command == "token":
        roles = [r.strip() for r in args.roles.split(",") if r.strip()]
        problem = registry_cli.token_department_problem(args.dept, roles)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        try:
            signed = issue_token(
                CommonSettings(), sub=args.sub, dept=args.dept, roles=roles, ttl_seconds=args.ttl
            )
        except ValueError as exc:  # unknown role, no department, ttl above SSJ_TOKEN_MAX_TTL
            print(exc, file=sys.stderr)
            return 1
        print(signed)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
