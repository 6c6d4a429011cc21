"""Import a file of subjects or inspectors: validated and applied in one streaming pass.

- Default is all-or-nothing: one invalid row rejects the file and writes nothing.
  ``partial=True`` applies the valid rows and reports the others.
- Upsert by identifier: a new identifier is registered; an existing one gets only change
  events for the fields that differ, so re-importing an unchanged file writes zero events.
- Rows are read and checked in parts (:mod:`services.registry.imports.pipeline`: in a
  second process for a large file, so both cores work), and each part's events are staged
  in the database at once (:class:`libs.common.bulk.BulkWriter`), so a province-wide file
  never sits in memory as records or aggregates. The events become
  visible together when the whole file has been read, in one transaction: a crash leaves
  either nothing or everything of it, and re-running the same file is harmless. Once the
  file is known to be rejected, the rest is only validated (every error is still reported).
- An existing subject whose row matches the registry's read model, at the version of its
  last event, needs no aggregate to know that nothing changed; any other is loaded and
  upserted through the aggregate.
- A full sync (``mark_missing=<status>``) also gives every operating subject that is not in
  the file (within ``scope``, a region-code prefix) an explicit ``SubjectStatusChanged``
  to that status; nothing is deleted. Only a file without invalid rows may do this: a
  subject on a rejected row is in the file, just unreadable. It is the office's alone, and
  its scope must be named (an empty prefix would cover the whole country).
- A department's import stays within the department (domain/writing.py): an inspector row
  of another department, a subject row whose departments leave the caller out, or one
  about an existing subject the caller does not supervise or would take from another
  department, is a row error ``department_forbidden``.
"""

from __future__ import annotations

import csv
import gc
import io
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from libs.common.bulk import BulkWriter
from libs.common.faults import crash_point
from services.registry.application import JSON_COLUMNS, RegistryApplication
from services.registry.domain.ids import tag_id
from services.registry.domain.inspectors import Inspector
from services.registry.domain.subjects import CHANGEABLE, STATUSES, Subject
from services.registry.domain.writing import Caller, WriteForbidden, is_office, may_full_sync
from services.registry.imports.limits import Caps
from services.registry.imports.pipeline import Header, validated_parts
from services.registry.imports.reach import outside, own_subjects
from services.registry.imports.validate import RowError

KINDS = ("subjects", "inspectors")
_REGISTERED = {"subjects": "SubjectRegistered", "inspectors": "InspectorRegistered"}
# Fields of first events that older events lack, with the value the aggregate gives them.
_ADDED_LATER = {"subjects": {"supervising_unit": ""}, "inspectors": {"unit": ""}}
# What the upsert of an existing subject can change (identity aside), in this order.
_COMPARED = (*CHANGEABLE, "status", "risk_class", "abnormal_operation", "serious_violation")
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
    errors: list[RowError] = field(default_factory=list)  # the first ``_listed`` of them
    errors_total: int = 0  # every error found (the list stops at the cap)
    _listed: int = field(default_factory=lambda: Caps.from_env().reported_errors, repr=False)

    def add(self, errors: Iterable[RowError]) -> None:
        """Count every error; list them up to the cap (a million bad rows would otherwise
        make a report of hundreds of megabytes)."""
        for error in errors:
            self.errors_total += 1
            if len(self.errors) < self._listed:
                self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        """The JSON report."""
        out = asdict(self)
        del out["_listed"]
        return out

    def errors_csv(self) -> str:
        """The errors as a CSV operators open next to their file."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "column", "code", "message"])
        writer.writerows((e.row, e.column, e.code, e.message) for e in self.errors)
        return out.getvalue()


def check_full_sync(kind: str, status: str, scope: str, by: Caller | None = None) -> None:
    """A full sync marks subjects with a closing status, within a named region-code prefix,
    by the office (:class:`WriteForbidden` for anyone else)."""
    if by is not None and not may_full_sync(by):
        raise WriteForbidden("a full sync (mark_missing) is the office's alone (联席会议办公室)")
    if kind != "subjects":
        raise ValueError("only a subject import can mark missing records")
    if status not in STATUSES or status == "operating":
        raise ValueError(f"mark_missing must be one of {[s for s in STATUSES if s != 'operating']}")
    if not (scope.isascii() and scope.isdigit() and 1 <= len(scope) <= 6):
        raise ValueError(
            "scope is the region-code prefix the full sync covers, one to six digits "
            "(it must be named: an empty prefix would cover every region)"
        )


class _Plan:
    """What one import is: its kind, its date, whether it is partial; and how a row of a
    new record becomes the record's first event."""

    def __init__(self, kind: str, today: date, partial: bool, by: Caller | None = None) -> None:
        self.kind, self.today, self.partial = kind, today, partial
        # Who imports: None is a trusted local command (``ssj import`` on the server, a
        # benchmark), with the office's reach; the API always names the caller.
        self.by = None if by is None or is_office(by) else by
        self.header_row = 1
        aggregate: type[Aggregate] = Subject if kind == "subjects" else Inspector
        self._event = getattr(aggregate, _REGISTERED[kind])
        self._topic = get_topic(aggregate)
        self._defaults = _ADDED_LATER[kind]

    def registered(self, key: UUID, fields: dict[str, Any]) -> Any:
        """``SubjectRegistered`` / ``InspectorRegistered`` of a new record, as the aggregate
        would record it (tests/unit/test_registry_import_events.py holds the two equal), made
        without the aggregate: at a million rows the aggregate's machinery is most of the
        cost, and only the event is kept."""
        return self._event(
            originator_topic=self._topic,
            originator_id=key,
            originator_version=1,
            timestamp=self._event.create_timestamp(),
            **{**self._defaults, **fields},
        )


def _unchanged(view: tuple[Any, ...] | None, fields: dict[str, Any]) -> bool:
    """Whether a subject's read-model row (:data:`_COMPARED` columns, current at the
    subject's last event) already says everything the file's row says: then the upsert
    would record nothing. Without such a row the aggregate decides. JSON columns come as
    PostgreSQL's text of the jsonb, which ``json.dumps`` matches for lists of strings (any
    other difference of form only sends the row to the aggregate)."""
    if view is None:
        return False
    for name, current in zip(_COMPARED, view, strict=True):
        if name in fields:
            value = fields[name]
            if name in JSON_COLUMNS:
                value = _json_text(value)
            if current != value:
                return False
    return True


_json_texts: dict[tuple[str, ...], str] = {}


def _json_text(value: list[str]) -> str:
    """``json.dumps`` of a list of strings as PostgreSQL writes jsonb; departments and tags
    repeat from one subject to the next, so a bounded number of texts is remembered."""
    key = tuple(value)
    text = _json_texts.get(key)
    if text is None:
        text = json.dumps(value, ensure_ascii=False)
        if len(_json_texts) < 4096:
            _json_texts[key] = text
    return text


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during an import: it makes millions of objects that
    live until the end (the keys seen) and no cycles, and each full collection would walk
    them all again (at a million rows, a quarter of the run)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        by: Caller | None = None,
    ) -> ImportReport:
        """Validate every row and apply the valid ones (all, or none if any is bad); with
        ``mark_missing``, mark operating subjects of ``scope`` absent from the file. ``by``
        is the caller, whose department bounds the rows (None: a trusted local command)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if mark_missing is not None:
            check_full_sync(kind, mark_missing, scope, by)
        report = ImportReport(kind=kind)
        plan = _Plan(kind, today or date.today(), partial, by)
        with _collector_paused(), self.app.bulk_writer() as bulk:
            keys = self._stream(plan, data, filename, report, progress, bulk)
            header_broken = any(e.row <= plan.header_row for e in report.errors)
            if report.errors and (not partial or header_broken):
                report.rejected = True
                report.rows_applied = report.events_written = 0
                bulk.rollback()
                return report
            if mark_missing is not None:
                if report.errors:
                    report.missing_skipped = (
                        f"{report.errors_total} errors in the file; a subject on an invalid row is "
                        "in the file, so nobody is marked missing"
                    )
                else:
                    marked = self._mark_missing(keys, mark_missing, scope, filename)
                    report.missing_marked = len(marked)
                    report.events_written += bulk.write(
                        e for subject in marked for e in subject.collect_events()
                    )
            bulk.commit()
        return report

    def _stream(
        self,
        plan: _Plan,
        data: bytes,
        filename: str,
        report: ImportReport,
        progress: Progress | None,
        bulk: BulkWriter,
    ) -> set[UUID]:
        """Stage the file's checked rows part by part; the keys of its valid rows."""
        first_row_of: dict[UUID, int] = {}
        known_tags: dict[str, bool] = {}
        # Whether each department code seen is active in the register, read once per code
        # and import from the event store (a department registered a moment ago counts).
        known_departments: dict[str, bool] = {}
        for item in validated_parts(plan.kind, data, filename):
            if isinstance(item, Header):
                plan.header_row = item.row
                report.add(item.errors)
                continue
            part: list[tuple[int, UUID, dict[str, Any]]] = []
            for number, key, fields, errors in item:
                report.rows_total += 1
                if fields is not None and key is not None:
                    if key in first_row_of:
                        errors = [
                            RowError(
                                number,
                                "identifier" if plan.kind == "subjects" else "certificate_no",
                                "duplicate",
                                f"same record as row {first_row_of[key]}",
                            )
                        ]
                    else:
                        first_row_of[key] = number
                        # An unknown department says more than "not yours".
                        errors = self._unknown_departments(
                            number, plan.kind, fields, known_departments
                        ) or outside(number, plan.kind, plan.by, fields)
                        if plan.kind == "subjects":
                            errors += self._unknown_tags(number, fields["tags"], known_tags)
                    if not errors:
                        part.append((number, key, fields))
                report.add(errors)
            self._apply(plan, part, report, bulk)
            if progress:
                progress(report.rows_total)
        return set(first_row_of)

    def _unknown_departments(
        self, number: int, kind: str, fields: dict[str, Any], known: dict[str, bool]
    ) -> list[RowError]:
        column = "departments" if kind == "subjects" else "department"
        unit_column = "supervising_unit" if kind == "subjects" else "unit"
        codes = fields[column] if kind == "subjects" else [fields[column]]
        units = [fields[unit_column]] if fields.get(unit_column) else []
        unseen = [c for c in {*codes, *units} if c not in known]
        if unseen:
            known.update(self.app.departments_active(unseen))
        errors = []
        bad = sorted({c for c in codes if not known[c]})
        if bad:
            message = f"not active departments of the department register (部门名录): {bad}"
            errors.append(RowError(number, column, "unknown_department", message))
        if units and not known[units[0]]:
            message = (
                f"{units[0]!r} is not an active unit of the department register (部门名录): "
                "register the unit (所) under its department first"
            )
            errors.append(RowError(number, unit_column, "unknown_unit", message))
        return errors

    def _unknown_tags(self, number: int, tags: list[str], known: dict[str, bool]) -> list[RowError]:
        for tag in tags:
            if tag not in known:
                known[tag] = tag_id(tag) in self.app.repository
        bad = sorted(t for t in set(tags) if not known[t])
        if bad:
            return [RowError(number, "tags", "unknown_tag", f"not in the tag dictionary: {bad}")]
        return []

    def _apply(
        self,
        plan: _Plan,
        part: list[tuple[int, UUID, dict[str, Any]]],
        report: ImportReport,
        bulk: BulkWriter,
    ) -> None:
        """Stage the events of one part's valid rows (nothing once the file is rejected)."""
        checks_owners = plan.by is not None and plan.kind == "subjects"
        if not part or (report.errors and not plan.partial and not checks_owners):
            return
        keys = [key for _, key, _ in part]
        states = (
            self.app.subject_states(keys, _COMPARED)
            if plan.kind == "subjects"
            else {key: (version, None) for key, version in self.app.versions(keys).items()}
        )
        if plan.by is not None and checks_owners:
            existing = [key for _, key, _ in part if key in states]
            current = self.app.load_many(existing) if existing else {}
            refused: list[RowError] = []
            part = own_subjects(plan.by, part, current, refused)
            report.add(refused)
        if report.errors and not plan.partial:
            return  # rejected: a department's rows were still checked, for the report
        events: list[Any] = []
        stale: list[tuple[UUID, dict[str, Any]]] = []
        for _, key, fields in part:
            state = states.get(key)
            if state is None:
                events.append(plan.registered(key, fields))
            elif not _unchanged(state[1], fields):
                stale.append((key, fields))
        if stale:
            loaded = self.app.load_many([key for key, _ in stale])
            for key, fields in stale:
                aggregate = self._upsert(plan.kind, fields, loaded[key], plan.today)
                events.extend(aggregate.collect_events())
        report.events_written += bulk.write(events)
        report.rows_applied += len(part)
        crash_point("import.after_part")

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
