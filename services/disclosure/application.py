"""DisclosureApplication — the disclosure service's own event store: the record of every
file sent to the national system (报送记录, domain/export.py). The public read models are
built from the other services' events."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from libs.common.eventstore import EventStoreApp
from libs.common.infra import process_alive
from services.disclosure.domain.export import ResultsExport, check_period, file_name
from services.disclosure.export import sha256_of, write_export

# Export files are named after the process writing them, so that one left by a process
# that died mid-export (kill -9, a crash) is recognised and removed by the next start.
EXPORT_PREFIX = "ssj-export-"


def sweep_exports(directory: Path | None = None) -> list[Path]:
    """Remove export files whose writing process is gone; return them."""
    removed = []
    for path in Path(directory or tempfile.gettempdir()).glob(f"{EXPORT_PREFIX}*"):
        pid = path.name[len(EXPORT_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


class DisclosureApplication(EventStoreApp):
    """报送记录 of 一公开."""

    service = "disclosure"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sweep_exports()

    def export_results(
        self,
        start: date,
        end: date,
        fmt: str,
        directory: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[ResultsExport, Path]:
        """Write the period's results to a file and record its SHA-256 (``ExportRecorded``)
        before it is handed out; returns the record and the file (the caller removes it)."""
        check_period(start, end)
        name = file_name(start, end, fmt)
        handle, raw = tempfile.mkstemp(
            prefix=f"{EXPORT_PREFIX}{os.getpid()}-", suffix=f".{fmt}", dir=directory
        )
        path = Path(raw)
        os.close(handle)
        try:
            with self.connection() as conn:
                rows = write_export(conn, start, end, fmt, path, progress)
            record = ResultsExport(
                period_from=start.isoformat(),
                period_to=end.isoformat(),
                format=fmt,
                rows=rows,
                sha256=sha256_of(path),
                size=path.stat().st_size,
                file_name=name,
            )
            self.save(record)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return record, path

    def get_export(self, export_id: UUID) -> ResultsExport:
        """One 报送记录; 404 for anything else of this store."""
        found: object = self.repository.get(export_id)
        if not isinstance(found, ResultsExport):
            raise AggregateNotFoundError(f"no export {export_id}")
        return found
