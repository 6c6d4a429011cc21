"""立卷归档 — one task's case file as a ZIP, and its offline check (002 第二十条).

Format ``ssj-case-1``, standard library only:

- ``events/000001.json`` … the task's stored events, byte for byte as the event store holds
  them; each names the SHA-256 of its predecessor (``meta.prev_hash``, the first names 64
  zeros), so the chain's head fixes the whole history;
- ``files/<sha256>.<ext>``: every file named on the task (evidence, follow-up documents);
- ``record.json``: the task as it stands (forms, report, review, follow-up), for reading;
- ``manifest.json``: every other file's path, size and SHA-256, the events' chain and its
  head. Compare the head with ``GET /v1/tasks/{id}/verification`` or the task's last event on
  the stream to know the file is the record, not merely consistent.

The offline check is services/results/caseverify.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import IO, Any

FORMAT = "ssj-case-1"
GENESIS = "0" * 64
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
README = """检查任务案卷（ssj-case-1）

events/  任务事件（与事件库逐字节一致，每个事件记录前一事件的 SHA-256）
files/   证据和文书（文件名为其 SHA-256）
record.json   任务现状（检查表、检查记录、审核、后续处置）
manifest.json 清单：各文件的 SHA-256、事件哈希链及链头

离线核验：ssj results verify-case 本文件.zip
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _prev_hash(state: bytes) -> str | None:
    meta = json.loads(state).get("meta") or {}
    value = meta.get("prev_hash")
    return value if isinstance(value, str) else None


class CaseWriter:
    """Writes a case file into ``target`` one part at a time, so a task's files (up to 200
    of 20 MiB) pass through memory one by one. Files are stored, not deflated: photos and
    PDFs are compressed already."""

    def __init__(self, target: IO[bytes]) -> None:
        self.archive = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED)
        self.events: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []

    def add_events(self, stored: Sequence[tuple[int, str, bytes]]) -> None:
        """The task's (version, topic, state) events, as stored."""
        for version, topic, state in stored:
            path = f"events/{version:06d}.json"
            self.archive.writestr(path, state)
            self.events.append(
                {
                    "version": version,
                    "topic": topic,
                    "path": path,
                    "sha256": _sha(state),
                    "prev_hash": _prev_hash(state),
                }
            )

    def add_file(self, media_type: str, content: bytes, named: Mapping[str, Any]) -> None:
        """One stored file and how the task names it."""
        sha256 = _sha(content)
        path = f"files/{sha256}.{EXTENSIONS.get(media_type, 'bin')}"
        self.archive.writestr(path, content, compress_type=zipfile.ZIP_STORED)
        self.files.append(
            {
                "path": path,
                "sha256": sha256,
                "size": len(content),
                "media_type": media_type,
                **dict(named),
            }
        )

    def finish(self, record: Mapping[str, Any]) -> None:
        """The record as read, the README and the manifest; closes the archive."""
        documents = []
        for path, data in (
            ("record.json", json.dumps(record, ensure_ascii=False, indent=1, default=str).encode()),
            ("README.txt", README.encode()),
        ):
            self.archive.writestr(path, data)
            documents.append({"path": path, "sha256": _sha(data)})
        manifest = {
            "format": FORMAT,
            "task_id": str(record["id"]),
            "events": self.events,
            "chain_head": self.events[-1]["sha256"] if self.events else GENESIS,
            "files": self.files,
            "documents": documents,
        }
        self.archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        self.archive.close()


def build(
    record: Mapping[str, Any],
    stored: Sequence[tuple[int, str, bytes]],
    files: Mapping[str, tuple[str, bytes]],
    names: Mapping[str, Mapping[str, Any]],
) -> bytes:
    """The whole ZIP in memory (small tasks and tests): ``files`` sha256 → (media type,
    bytes), ``names`` sha256 → how the task names it."""
    out = io.BytesIO()
    writer = CaseWriter(out)
    writer.add_events(stored)
    for sha256, (media_type, content) in sorted(files.items()):
        writer.add_file(media_type, content, names.get(sha256, {}))
    writer.finish(record)
    return out.getvalue()
