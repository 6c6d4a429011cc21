"""``ssj results verify-case FILE.zip`` checks a case file offline.

``ssj calendar load FILE.json``: load a year of the working calendar as published, as
``PUT /v1/calendar/{year}`` does (the file: ``{"year": 2027, "holidays": [...],
"workdays": [...]}``), recorded as an event by the office."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from libs.common.context import Actor, CommandContext, command_context
from libs.common.settings import CommonSettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ssj calendar``."""
    p = sub.add_parser("calendar", help="load a year of the working calendar (office)")
    p.add_argument("action", choices=["load"])
    p.add_argument("file", type=Path, help='JSON: {"year", "holidays": [...], "workdays": [...]}')
    p.add_argument("--as", dest="sub", default=f"cli:{getpass.getuser()}", help="actor id")
    r = sub.add_parser(
        "results",
        help="check a task's case file offline (no service needed)",
        description="ssj results verify-case FILE.zip",
    )
    r.add_argument("action", choices=["verify-case"])
    r.add_argument("rest", nargs=argparse.REMAINDER)


def run_results(args: argparse.Namespace) -> int:
    """``ssj results verify-case FILE.zip`` (services/results/caseverify.py)."""
    from services.results import caseverify

    return caseverify.main(args.rest)


def run(args: argparse.Namespace) -> int:
    """Load the year; print what was recorded. Exit 2 for a file that is not a year."""
    from services.results.application import ResultsApplication
    from services.results.domain.errors import InvalidCalendar

    try:
        data = json.loads(args.file.read_text(encoding="utf-8"))
        year, holidays, workdays = int(data["year"]), data["holidays"], data.get("workdays", [])
        if not (isinstance(holidays, list) and isinstance(workdays, list)):
            raise TypeError("holidays and workdays are lists")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{args.file}: not a calendar year ({exc})", file=sys.stderr)
        return 2
    settings = CommonSettings().model_copy(update={"service": "results"})
    app = ResultsApplication(settings)
    actor = Actor(sub=args.sub, dept="OFFICE", roles=("office",))
    try:
        with command_context(CommandContext(actor=actor)):
            found, changed = app.load_calendar_year(year, holidays, workdays)
    except InvalidCalendar as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    what = "loaded" if changed else "already loaded as given: nothing recorded"
    print(
        f"{year}: {len(found.holidays)} holidays, {len(found.workdays)} worked weekend days, {what}"
    )
    return 0
