"""The export's reader thread (services/disclosure/export.py ``_prefetched``): every chunk
in order, the reader's error raised in the writer, and no thread left reading when the
writer stops early (the cursor and its transaction close right after)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from services.disclosure import export


class Cursor:
    """A cursor handing out ``chunks`` chunks of rows, then failing if told to."""

    def __init__(self, chunks: int, fail_at: int | None = None) -> None:
        self.left, self.fail_at, self.fetched = chunks, fail_at, 0

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        if self.fetched == self.fail_at:
            raise RuntimeError("the connection was lost")
        if not self.left:
            return []
        self.left -= 1
        self.fetched += 1
        return [(f"r{self.fetched}-{i}", *[None] * 9, "clean") for i in range(3)]


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "export-reader"]


def test_every_chunk_comes_in_order() -> None:
    got = [chunk[0][0] for chunk, steps in export._prefetched(None, Cursor(50))]
    assert got == [f"r{i}-0" for i in range(1, 51)]
    assert not _readers()


def test_the_readers_error_is_raised_in_the_writer() -> None:
    seen = []
    with pytest.raises(RuntimeError, match="connection was lost"):
        for chunk, _ in export._prefetched(None, Cursor(10, fail_at=4)):
            seen.append(chunk[0][0])
    assert seen == ["r1-0", "r2-0", "r3-0", "r4-0"]
    assert not _readers()


def test_a_writer_stopping_early_leaves_no_reader_behind() -> None:
    cursor = Cursor(1_000)
    chunks = export._prefetched(None, cursor)
    next(chunks)
    chunks.close()  # what a failing writer's `for` does
    assert not _readers()
    assert cursor.fetched <= 4  # it stopped reading, at most a chunk or two ahead
