"""File primitives the caches rely on: a cross-process lock and durable writes."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20
"""The unit in which image files are streamed: large enough that Python's per-chunk overhead
vanishes beside hashing and I/O, small enough never to matter for memory."""


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Holds an exclusive ``flock`` on ``path`` (created if needed) for the block, so threads and
    processes working on the same cache entry take turns."""
    # "a" creates the file without truncating one that another process holds.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def fsync(path: Path) -> None:
    """Flushes a file (or a directory's entries) to disk: renaming is atomic, but without this a
    crash could leave a complete name on incomplete data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
