"""Import a file of subjects or inspectors: validate everything, then apply atomically.

- Default is all-or-nothing: one invalid row rejects the file and writes nothing.
  ``partial=True`` applies the valid rows and reports the others.
- Upsert by identifier: a new identifier is registered; an existing one gets only change
  events for the fields that differ, so re-importing an unchanged file writes zero events.
- All events of one import are saved in a single transaction: a crash leaves either
  nothing or everything of it, and re-running the same file is harmless.
- A full sync (``mark_missing=<status>``) also gives every operating subject that is not in
  the file (within ``scope``, a region-code prefix) an explicit ``SubjectStatusChanged``
  to that status; nothing is deleted. Only a file without invalid rows may do this: a
  subject on a rejected row is in the file, just unreadable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from services.registry.application import RegistryApplication
from services.registry.domain.ids import inspector_id, subject_id, tag_id
from services.registry.domain.inspectors import Inspector
from services.registry.domain.subjects import CHANGEABLE, STATUSES, Subject
from services.registry.imports.columns import (
    INSPECTOR_COLUMNS,
    INSPECTOR_REQUIRED,
    SUBJECT_COLUMNS,
    SUBJECT_REQUIRED,
    header_map,
)
from services.registry.imports.reader import read_rows
from services.registry.imports.validate import RowError, inspector_row, subject_row

KINDS = ("subjects", "inspectors")
SUBJECT_TOPIC = get_topic(Subject.SubjectRegistered)  # type: ignore[attr-defined]
Progress = Callable[[int], None]
IMPORT_REASON = "bulk import"


@dataclass
class ImportReport:
    """What an import did, row by row (row numbers as in the file)."""

    kind: str
    rows_total: int = 0
    rows_applied: int = 0
    events_written: int = 0
    rejected: bool = False
    missing_marked: int = 0  # full sync: subjects absent from the file, given the status
    missing_skipped: str = ""  # full sync: why nobody was marked, if so
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON report."""
        return asdict(self)

    def errors_csv(self) -> str:
        """The errors as a CSV operators open next to their file."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "column", "code", "message"])
        writer.writerows((e.row, e.column, e.code, e.message) for e in self.errors)
        return out.getvalue()


def check_full_sync(kind: str, status: str, scope: str) -> None:
    """A full sync marks subjects with a closing status, within a region-code prefix."""
    if kind != "subjects":
        raise ValueError("only a subject import can mark missing records")
    if status not in STATUSES or status == "operating":
        raise ValueError(f"mark_missing must be one of {[s for s in STATUSES if s != 'operating']}")
    if not (scope.isascii() and scope.isdigit() and len(scope) <= 6) and scope != "":
        raise ValueError("scope is a region-code prefix of at most six digits")


def _key(kind: str, fields: dict[str, Any]) -> UUID:
    if kind == "subjects":
        return subject_id(fields["identifier"])
    return inspector_id(fields["department"], fields["certificate_no"])


class Importer:
    """Runs imports against the registry application."""

    def __init__(self, app: RegistryApplication) -> None:
        self.app = app

    def run(
        self,
        kind: str,
        data: bytes,
        filename: str,
        *,
        partial: bool = False,
        progress: Progress | None = None,
        today: date | None = None,
        mark_missing: str | None = None,
        scope: str = "",
    ) -> ImportReport:
        """Validate the whole file, then apply the valid rows (all, or none if any is bad);
        with ``mark_missing``, mark operating subjects of ``scope`` absent from the file."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if mark_missing is not None:
            check_full_sync(kind, mark_missing, scope)
        report = ImportReport(kind=kind)
        valid = self._validate(kind, data, filename, report, progress)
        if report.errors and (not partial or any(e.row == 1 for e in report.errors)):
            report.rejected = True
            return report
        keys = [_key(kind, fields) for _, fields in valid]
        existing = self.app.load_many(list(self.app.existing(keys)))
        aggregates = [
            self._upsert(kind, fields, existing.get(key), today or date.today())
            for key, (_, fields) in zip(keys, valid, strict=True)
        ]
        changed = [a for a in aggregates if a.pending_events]
        if mark_missing is not None:
            if report.errors:
                report.missing_skipped = (
                    f"{len(report.errors)} rows are invalid; a subject on one of them is in "
                    "the file, so nobody is marked missing"
                )
            else:
                marked = self._mark_missing(set(keys), mark_missing, scope, filename)
                report.missing_marked = len(marked)
                changed += marked
        report.events_written = sum(len(a.pending_events) for a in changed)
        if changed:
            self.app.save(*changed)
        report.rows_applied = len(valid)
        return report

    def _validate(
        self,
        kind: str,
        data: bytes,
        filename: str,
        report: ImportReport,
        progress: Progress | None,
    ) -> list[tuple[int, dict[str, Any]]]:
        columns, required, check = (
            (SUBJECT_COLUMNS, SUBJECT_REQUIRED, subject_row)
            if kind == "subjects"
            else (INSPECTOR_COLUMNS, INSPECTOR_REQUIRED, inspector_row)
        )
        rows = read_rows(data, filename)
        header = next(rows, None)
        if header is None:
            report.errors.append(RowError(1, "", "empty_file", "the file has no header row"))
            return []
        positions = header_map(header[1], columns)
        for missing in sorted(set(required) - set(positions.values())):
            aliases = " / ".join(columns[missing][:3])
            report.errors.append(
                RowError(header[0], missing, "missing_column", f"no column for {aliases}")
            )
        if report.errors:
            return []
        valid: list[tuple[int, dict[str, Any]]] = []
        first_row_of: dict[UUID, int] = {}
        for number, cells in rows:
            report.rows_total += 1
            values = {f: cells[i] if i < len(cells) else "" for i, f in positions.items()}
            fields, errors = check(number, values)
            if fields is not None:
                key = _key(kind, fields)
                if key in first_row_of:
                    errors = [
                        RowError(
                            number,
                            "identifier" if kind == "subjects" else "certificate_no",
                            "duplicate",
                            f"same record as row {first_row_of[key]}",
                        )
                    ]
                else:
                    first_row_of[key] = number
            report.errors.extend(errors)
            if not errors and fields is not None:
                valid.append((number, fields))
            if progress:
                progress(report.rows_total)
        if kind == "subjects":
            valid = self._known_tags_only(valid, report)
        return valid

    def _known_tags_only(
        self, valid: list[tuple[int, dict[str, Any]]], report: ImportReport
    ) -> list[tuple[int, dict[str, Any]]]:
        tags = {t for _, fields in valid for t in fields["tags"]}
        unknown = {t for t in tags if tag_id(t) not in self.app.repository}
        kept = []
        for number, fields in valid:
            bad = sorted(set(fields["tags"]) & unknown)
            if bad:
                report.errors.append(
                    RowError(number, "tags", "unknown_tag", f"not in the tag dictionary: {bad}")
                )
            else:
                kept.append((number, fields))
        return kept

    def _mark_missing(
        self, present: set[UUID], status: str, scope: str, filename: str
    ) -> list[Subject]:
        """Operating subjects of ``scope`` not in the file, with their status changed."""
        absent = [i for i in self.app.ids_created_by(SUBJECT_TOPIC) if i not in present]
        marked = []
        for subject in self.app.load_many(absent).values():
            if subject.status == "operating" and subject.region_code.startswith(scope):
                subject.change_status(status, f"absent from full sync {filename}")
                marked.append(subject)
        return marked

    def _upsert(self, kind: str, fields: dict[str, Any], current: Any, today: date) -> Any:
        if current is None:
            return Subject(**fields) if kind == "subjects" else Inspector(**fields)
        if kind == "subjects":
            current.change(**{k: fields[k] for k in CHANGEABLE if k in fields})
            current.change_status(fields["status"], IMPORT_REASON)
            current.classify(fields["risk_class"], IMPORT_REASON, today)
            for list_name in ("abnormal_operation", "serious_violation"):
                if fields[list_name] != getattr(current, list_name):
                    current.set_listing(list_name, fields[list_name], IMPORT_REASON, today)
        else:
            current.change(
                **{
                    k: fields[k]
                    for k in fields
                    if k not in ("department", "certificate_no", "status")
                }
            )
            current.change_status(fields["status"], IMPORT_REASON)
        return current
