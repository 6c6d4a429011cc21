"""Import a file of subjects or inspectors: validate everything, then apply atomically.

- Default is all-or-nothing: one invalid row rejects the file and writes nothing.
  ``partial=True`` applies the valid rows and reports the others.
- Upsert by identifier: a new identifier is registered; an existing one gets only change
  events for the fields that differ, so re-importing an unchanged file writes zero events.
- All events of one import are saved in a single transaction: a crash leaves either
  nothing or everything of it, and re-running the same file is harmless.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from services.registry.application import RegistryApplication
from services.registry.domain.ids import inspector_id, subject_id, tag_id
from services.registry.domain.inspectors import Inspector
from services.registry.domain.subjects import CHANGEABLE, Subject
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
    ) -> ImportReport:
        """Validate the whole file, then apply the valid rows (all, or none if any is bad)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
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
