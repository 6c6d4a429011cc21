"""A request body kept for an ``Idempotency-Key`` (:mod:`libs.common.idempotency`): hashed as
it arrives for the request's fingerprint, and given to the route again afterwards; in
memory up to a limit, in a temporary file beyond (an import of hundreds of MB)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from typing import IO

from starlette.types import Message

SPOOL_CHUNK = 1024 * 1024


class SpooledBody:
    """The request body as received: in memory up to ``memory_limit``, in a file beyond."""

    def __init__(self, memory_limit: int) -> None:
        self.memory_limit = memory_limit
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._chunks: list[bytes] = []
        self._file: IO[bytes] | None = None

    def add(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.size += len(chunk)
        if self._file is None and self.size > self.memory_limit:
            # Lives as long as the request; close() is called from the middleware's finally.
            self._file = tempfile.TemporaryFile(prefix="ssj-idempotency-")  # noqa: SIM115
            self._file.writelines(self._chunks)
            self._chunks = []
        if self._file is not None:
            self._file.write(chunk)
        elif chunk:
            self._chunks.append(chunk)

    def messages(self) -> Iterator[Message]:
        """The body again as ASGI messages: joined once if in memory, in chunks if spooled."""
        if self._file is None:
            body = b"".join(self._chunks)
            self._chunks = []
            yield {"type": "http.request", "body": body, "more_body": False}
            return
        self._file.seek(0)
        while chunk := self._file.read(SPOOL_CHUNK):
            yield {"type": "http.request", "body": chunk, "more_body": True}
        yield {"type": "http.request", "body": b"", "more_body": False}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
