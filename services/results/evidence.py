"""证据库 — files of inspections (photos, scans, PDFs) and follow-up documents, stored once
by their SHA-256 in PostgreSQL, append-only: a trigger refuses UPDATE, DELETE and TRUNCATE,
as on the events table. The hash goes into the task's events; the bytes never leave the
service except to the group, reviewers and auditors (and in the case file)."""

from __future__ import annotations

import hashlib

import asyncpg

# What a file may be: its declared type must match its first bytes.
MEDIA_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
MAX_FILE_BYTES = 20 * 1024 * 1024  # a scanned decision or a phone photo, with room

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.files (
        sha256 text PRIMARY KEY, media_type text NOT NULL, size int NOT NULL,
        content bytea NOT NULL, stored_at timestamptz NOT NULL DEFAULT now(),
        stored_by text NOT NULL)""",
    """CREATE OR REPLACE FUNCTION {schema}.ssj_reject_file_change() RETURNS trigger
       LANGUAGE plpgsql AS $$ BEGIN
         RAISE EXCEPTION 'stored files are append-only: % rejected', TG_OP
           USING ERRCODE = 'restrict_violation';
       END $$""",
    """CREATE OR REPLACE TRIGGER ssj_files_append_only BEFORE UPDATE OR DELETE
       ON {schema}.files FOR EACH ROW EXECUTE FUNCTION {schema}.ssj_reject_file_change()""",
    """CREATE OR REPLACE TRIGGER ssj_files_no_truncate BEFORE TRUNCATE
       ON {schema}.files FOR EACH STATEMENT EXECUTE FUNCTION {schema}.ssj_reject_file_change()""",
]


class FileRefused(Exception):
    """A file the store does not take (type, content or size); the message says why."""


def check_file(content: bytes, media_type: str) -> str:
    """The file's SHA-256 once its size and type are acceptable."""
    if not content:
        raise FileRefused("the file is empty")
    if len(content) > MAX_FILE_BYTES:
        raise FileRefused(f"a file is at most {MAX_FILE_BYTES} bytes")
    signatures = MEDIA_TYPES.get(media_type)
    if signatures is None:
        raise FileRefused(f"Content-Type must be one of {sorted(MEDIA_TYPES)}, not {media_type!r}")
    if not any(content.startswith(s) for s in signatures):
        raise FileRefused(f"the content is not {media_type}")
    return hashlib.sha256(content).hexdigest()


async def store(pool: asyncpg.Pool, content: bytes, media_type: str, stored_by: str) -> str:
    """Store the file (once: the same bytes again are already there); its SHA-256."""
    sha256 = check_file(content, media_type)
    await pool.execute(
        """INSERT INTO results.files (sha256, media_type, size, content, stored_by)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING""",
        sha256,
        media_type,
        len(content),
        content,
        stored_by,
    )
    return sha256


async def fetch(pool: asyncpg.Pool, sha256: str) -> tuple[str, bytes] | None:
    """(media type, bytes) of a stored file, None if absent."""
    row = await pool.fetchrow(
        "SELECT media_type, content FROM results.files WHERE sha256 = $1", sha256
    )
    return None if row is None else (row["media_type"], bytes(row["content"]))
