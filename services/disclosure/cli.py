"""``ssj disclosure export --from DATE --to DATE --format xlsx|csv [--out FILE]``: a period's
results as one file for the national system (报送), its SHA-256 recorded as an event as
``POST /v1/exports`` does, with progress on the terminal."""

from __future__ import annotations

import argparse
import getpass
import shutil
import sys
from datetime import date
from pathlib import Path

from libs.common.context import Actor, CommandContext, command_context
from libs.common.settings import CommonSettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ssj disclosure``."""
    p = sub.add_parser(
        "disclosure",
        help="export a period's results for the national system (office)",
        description="ssj disclosure export --from YYYY-MM-DD --to YYYY-MM-DD "
        "[--format xlsx|csv] [--out FILE]",
    )
    p.add_argument("action", choices=["export"])
    p.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    p.add_argument("--format", dest="fmt", choices=["xlsx", "csv"], default="xlsx")
    p.add_argument("--out", type=Path, help="file to write (default: its name, here)")
    p.add_argument("--as", dest="sub", default=f"cli:{getpass.getuser()}", help="actor id")


def run(args: argparse.Namespace) -> int:
    """Write the file, record its hash, print the record. Exit 2 for a period refused."""
    from services.disclosure.application import DisclosureApplication
    from services.disclosure.domain.export import InvalidExport

    settings = CommonSettings().model_copy(update={"service": "disclosure"})
    app = DisclosureApplication(settings)
    actor = Actor(sub=args.sub, dept="OFFICE", roles=("office",))

    def progress(rows: int) -> None:
        print(f"  {rows:,} rows written", file=sys.stderr, flush=True)

    try:
        with command_context(CommandContext(actor=actor)):
            record, path = app.export_results(
                args.start, args.end, args.fmt, directory=None, progress=progress
            )
    except InvalidExport as exc:
        print(f"not exported: {exc}", file=sys.stderr)
        return 2
    finally:
        app.close()
    out = args.out or Path(record.file_name)
    shutil.move(path, out)
    print(f"{out}: {record.rows} results, {record.size} bytes, sha256 {record.sha256}")
    print(f"recorded as export {record.id} (ExportRecorded)")
    return 0
