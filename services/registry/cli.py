"""``ssj import subjects|inspectors FILE``: the operators' bulk import on the command line.

Runs against the registry's event store directly (``DATABASE_URL``); the registry
service's relay publishes the new events as usual. Exit 0 when applied, 1 when rejected.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from tqdm import tqdm

from libs.common.context import Actor, CommandContext, command_context
from libs.common.keys import DevelopmentKeyRefused, check_keys
from libs.common.settings import CommonSettings
from services.registry.settings import DEV_ID_KEY, RegistrySettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ssj import``."""
    p = sub.add_parser("import", help="import subjects or inspectors from a CSV or XLSX file")
    p.add_argument("kind", choices=["subjects", "inspectors"])
    p.add_argument("file", type=Path)
    p.add_argument("--partial", action="store_true", help="apply valid rows, report the rest")
    p.add_argument("--report", type=Path, help="write the JSON report here (.csv for CSV)")
    p.add_argument(
        "--mark-missing",
        choices=["deregistered", "revoked", "moved_out", "cancelled"],
        help="full sync: give operating subjects absent from the file this status",
    )
    p.add_argument(
        "--scope",
        default="",
        help="full sync: the region-code prefix it covers (required with --mark-missing)",
    )
    p.add_argument("--as", dest="sub", default=f"cli:{getpass.getuser()}", help="actor id")
    p.add_argument("--dept", default="", help="actor's department")


def run(args: argparse.Namespace) -> int:
    """Run the import and print the summary; the exit code says applied or rejected."""
    from services.registry.application import RegistryApplication
    from services.registry.imports.importer import Importer
    from services.registry.imports.reader import UnreadableFile

    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    settings = CommonSettings().model_copy(update={"service": "registry"})
    # The import makes ids as the registry does: the same rule on its keys.
    key = RegistrySettings().id_key
    try:
        check_keys(settings, {"SSJ_ID_KEY": key == DEV_ID_KEY}, {"SSJ_ID_KEY": len(key)})
    except DevelopmentKeyRefused as exc:
        print(
            str(exc).replace("registry refuses to start", "ssj import refuses to run"),
            file=sys.stderr,
        )
        return 2
    app = RegistryApplication(settings)
    bar = tqdm(desc=f"validating {args.file.name}", unit=" rows", file=sys.stderr)

    def progress(done: int) -> None:
        bar.update(done - bar.n)

    actor = Actor(sub=args.sub, dept=args.dept, roles=("operator",))
    try:
        with command_context(CommandContext(actor=actor)):
            report = Importer(app).run(
                args.kind,
                args.file.read_bytes(),
                args.file.name,
                partial=args.partial,
                progress=progress,
                mark_missing=args.mark_missing,
                scope=args.scope,
            )
    except (UnreadableFile, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        bar.close()
        app.close()
    if args.report:
        text = (
            report.errors_csv()
            if args.report.suffix == ".csv"
            else json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
        )
        args.report.write_text(text, encoding="utf-8")
    summary = {k: v for k, v in report.as_dict().items() if k != "errors"}
    summary["errors"] = report.errors_total
    print(json.dumps(summary, ensure_ascii=False))
    for error in report.errors[:20]:
        print(f"  row {error.row} {error.column}: {error.message}", file=sys.stderr)
    return 1 if report.rejected else 0


def token_department_problem(dept: str, roles: list[str]) -> str | None:
    """Why ``ssj token`` should not sign a token for ``dept`` (None: sign it).

    Any token but the office's names a department of the register (部门名录); the register
    is read from the registry's event store when the database answers. When it does not
    (no database on this machine), the token is signed with a warning on stderr: the
    services still refuse writes for a department they do not know.
    """
    if not dept or "office" in roles:
        return None
    if set(roles) in ({"subject"}, {"platform"}):  # an enterprise's, a platform's: no department
        return None
    import psycopg

    settings = CommonSettings().model_copy(update={"service": "registry"})
    try:
        with psycopg.connect(settings.database_url, connect_timeout=3) as conn:
            row = conn.execute("SELECT to_regnamespace('registry')").fetchone()
    except psycopg.Error as exc:
        print(
            f"warning: cannot reach the database to check department {dept!r} "
            f"against the register (部门名录): {str(exc).strip()}",
            file=sys.stderr,
        )
        return None
    if row is None or row[0] is None:
        return f"department {dept!r}: the database has no department register (部门名录) yet"
    from services.registry.application import RegistryApplication

    app = RegistryApplication(settings)
    try:
        active = app.departments_active([dept]).get(dept, False)
    finally:
        app.close()
    if not active:
        return (
            f"department {dept!r} is not an active department of the register (部门名录); "
            "the office registers it with POST /v1/departments"
        )
    return None
