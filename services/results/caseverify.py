"""``ssj results verify-case FILE.zip`` — the offline check of a case file (casefile.py),
standard library only.

Trusted is only what the hash chain covers: the events' bytes. Everything else must agree
with them — the manifest's listing (paths, sizes, SHA-256, event topics, file names and
types), the task id (derived from the first event), the files present (exactly those the
events attach), and ``record.json``: every field but the entrants is what the events make
of the task (case_record.py replays them). The chain's
head is printed: compared with the live service (``GET /v1/tasks/{id}/verification``) or
the stream, it shows the file is the record and not a consistent rewrite.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections import Counter
from collections.abc import Sequence
from typing import Any

from services.results.case_record import RecordReplica
from services.results.casefile import FORMAT, GENESIS

# services/results/domain/task.py NAMESPACE (a unit test keeps the two equal).
TASK_NAMESPACE = uuid.UUID("2f4b8d1e-7a3c-4e59-9b06-c81d5e3f7a12")
# Fields of each event of a task (a unit test keeps them equal to the aggregate's).
EVENT_FIELDS: dict[str, frozenset[str]] = {
    name: frozenset(fields.split())
    for name, fields in {
        "TaskDispatched": "draw_id subject_id batch_id plan_id subject_identifier subject_name "
        "implementing_department initiating_department group forms ends_on due_on dispatched_on",
        "InspectionRecorded": "report recorded_by",
        "EvidenceAttached": "sha256 name media_type size purpose",
        "ResultSubmitted": "draw_id subject_id submitted_on late submitted_by",
        "TaskWithdrawn": "replaced_by",
        "DeadlinesRecounted": "year due_on due_on_provisional publication_due "
        "publication_due_provisional",
        "ResultReturned": "reason returned_on",
        "ResultApproved": "reviewed_on",
        "ResultPublished": "category category_text severity pending_kind non_cooperation_case "
        "inspected_from inspected_to items draw_id plan_id batch_id subject_identifier "
        "subject_name department edition decided_on published_on publication_due "
        "publication_due_provisional late",
        "CorrectionSubmitted": "report reason proposed_by",
        "CorrectionApproved": "reviewed_on",
        "CorrectionReturned": "reason",
        "CorrectionOrdered": "decided_on deadline decision_no documents",
        "Reinspected": "reinspected_on corrected finding documents",
        "FollowUpClosed": "outcome decided_on receiving_department decision_no documents",
    }.items()
}
ENVELOPE = frozenset({"timestamp", "originator_topic", "meta"})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# A part larger than this is refused unread: a task's files are 20 MiB at most, and a zip
# entry's declared size is what zipfile reads up to (a "zip bomb" claims little).
MAX_PART = 64 << 20


def _read(archive: zipfile.ZipFile, path: str) -> bytes:
    """One part's bytes, if its declared size is one a case file has."""
    if archive.getinfo(path).file_size > MAX_PART:
        raise ValueError(f"{path}: larger than {MAX_PART >> 20} MiB")
    return archive.read(path)


class _Check:
    """Problems found, and what the events establish."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.attached: dict[str, dict[str, Any]] = {}
        self.report: Any = None
        self.pending: Any = None
        self.submitted = False  # a result waits for review (ResultApproved may follow)
        self.task_id: str | None = None
        self.replica = RecordReplica()  # what record.json must say

    def event(self, n: int, topic: str, body: dict[str, Any]) -> None:
        """One event: its kind must be what its fields say, in an order the task allows."""
        name = topic.rsplit(".", 1)[-1]
        fields = frozenset(body) - ENVELOPE
        if EVENT_FIELDS.get(name) != fields:
            self.problems.append(f"event {n}: its fields are not those of {name} (topic forged)")
            return
        if n == 1:
            if name != "TaskDispatched":
                self.problems.append("event 1 is not TaskDispatched")
                return
            key = f"task:{body['draw_id']}:{body['subject_id']}"
            self.task_id = str(uuid.uuid5(TASK_NAMESPACE, key))
        self.replica.apply(name, body)
        if name == "EvidenceAttached":
            self.attached[body["sha256"]] = body
        elif name == "InspectionRecorded":
            self.report = body["report"]
        elif name == "CorrectionSubmitted":
            self.pending = body["report"]
        elif name == "ResultSubmitted":
            self.submitted = True
        elif name == "ResultReturned":
            self.submitted = False
        elif name == "ResultApproved":
            # Its fields are CorrectionApproved's: the order tells the two apart, and the
            # topic (outside the hashed state) cannot relabel one as the other.
            if not self.submitted:
                self.problems.append(f"event {n}: ResultApproved without a submitted result")
            self.submitted = False
        elif name == "CorrectionApproved":
            if self.pending is None:
                self.problems.append(f"event {n}: CorrectionApproved without a correction")
            self.report, self.pending = self.pending, None
        elif name == "CorrectionReturned":
            self.pending = None


def _open(data: bytes) -> tuple[zipfile.ZipFile, dict[str, Any]] | str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        twice = sorted(n for n, c in Counter(names).items() if c > 1)
        if twice:
            return f"entries stored twice (a reader may show either): {twice}"
        manifest = json.loads(_read(archive, "manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return f"not a case file: {exc}"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return "unknown format"
    return archive, manifest


def _listing(archive: zipfile.ZipFile, manifest: dict[str, Any], check: _Check) -> None:
    names = set(archive.namelist())
    listed = [
        *manifest.get("events", []),
        *manifest.get("files", []),
        *manifest.get("documents", []),
    ]
    hashes: dict[str, str] = {}  # each part read once, however often it is listed
    for entry in listed:
        path = entry.get("path")
        if path not in names:
            check.problems.append(f"{path}: listed but absent")
            continue
        if path not in hashes:
            hashes[path] = _sha(_read(archive, path))
        if hashes[path] != entry.get("sha256"):
            check.problems.append(f"{path}: SHA-256 differs from the manifest")
    extra = names - {e.get("path") for e in listed} - {"manifest.json"}
    check.problems += [f"{p}: not in the manifest" for p in sorted(extra)]


def _chain(archive: zipfile.ZipFile, manifest: dict[str, Any], check: _Check) -> str:
    prev = GENESIS
    for n, entry in enumerate(manifest.get("events", []), start=1):
        if entry.get("version") != n:
            check.problems.append(f"event {n}: version {entry.get('version')} out of order")
        try:
            state = _read(archive, entry["path"])
            body = json.loads(state)
        except (KeyError, ValueError):
            check.problems.append(f"event {n}: absent or unreadable")
            continue
        recorded = (body.get("meta") or {}).get("prev_hash")
        if recorded != prev:
            check.problems.append(
                f"event {n}: prev_hash {recorded} != {prev} (the chain is broken)"
            )
        check.event(n, str(entry.get("topic", "")), body)
        prev = _sha(state)
    if manifest.get("chain_head") != prev:
        check.problems.append(f"chain_head {manifest.get('chain_head')} != {prev}")
    return prev


def _files(manifest: dict[str, Any], check: _Check) -> None:
    present = {f.get("sha256"): f for f in manifest.get("files", [])}
    for sha256, body in check.attached.items():
        entry = present.get(sha256)
        if entry is None:
            check.problems.append(f"file {sha256} attached by an event but absent")
            continue
        for key in ("name", "media_type", "size", "purpose"):
            if entry.get(key) != body[key]:
                check.problems.append(f"file {sha256}: {key} differs from its event")
    for sha256 in sorted(set(present) - set(check.attached)):
        check.problems.append(f"file {sha256} in the case file but never attached")


def _record(archive: zipfile.ZipFile, manifest: dict[str, Any], check: _Check) -> None:
    try:
        record = json.loads(_read(archive, "record.json"))
    except (KeyError, ValueError):
        check.problems.append("record.json: absent or unreadable")
        return
    events = len(manifest.get("events", []))
    if record.get("id") != check.task_id or record.get("version") != events:
        check.problems.append("record.json: not the task and version of the events")
    if record.get("report") != check.report:
        check.problems.append("record.json: its report is not the one the events record")
    if set(record.get("files") or {}) != set(check.attached):
        check.problems.append("record.json: its files are not those the events attach")
    check.problems += [
        f"record.json: its {k} is not what the events say"
        for k in check.replica.differences(record)
    ]


def verify(data: bytes) -> tuple[list[str], dict[str, Any]]:
    """(problems, summary) of a case file; no problems: it is intact. A file this cannot
    read in any way (hostile structure) is one problem, and ``summary["unreadable"]``."""
    try:
        return _verify(data)
    except Exception as exc:  # any shape a forger can give the parts: unreadable, not a crash
        return [f"not a case file this can read: {type(exc).__name__}: {exc}"], {"unreadable": True}


def _verify(data: bytes) -> tuple[list[str], dict[str, Any]]:
    opened = _open(data)
    if isinstance(opened, str):
        return [opened], {"unreadable": True}
    archive, manifest = opened
    check = _Check()
    _listing(archive, manifest, check)
    head = _chain(archive, manifest, check)
    if manifest.get("task_id") != check.task_id:
        check.problems.append(f"task_id {manifest.get('task_id')} is not the events' task")
    _files(manifest, check)
    _record(archive, manifest, check)
    summary = {
        "task_id": check.task_id,
        "events": len(manifest.get("events", [])),
        "files": len(check.attached),
        "chain_head": head,
    }
    return check.problems, summary


def main(argv: Sequence[str]) -> int:
    """``ssj results verify-case FILE.zip``: 0 intact, 1 not, 2 unreadable."""
    if len(argv) != 1:
        print("usage: ssj results verify-case FILE.zip")
        return 2
    try:
        with open(argv[0], "rb") as handle:
            data = handle.read()
    except OSError as exc:
        print(f"{argv[0]}: {exc}")
        return 2
    problems, summary = verify(data)
    for problem in problems:
        print(f"FAIL {problem}")
    if summary.get("unreadable"):
        return 2
    if not problems:
        print(
            f"OK task {summary['task_id']}: {summary['events']} events, {summary['files']} "
            f"files, chain head {summary['chain_head']}"
        )
    return 1 if problems else 0
