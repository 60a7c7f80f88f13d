"""File primitives the caches rely on: a cross-process lock and durable writes."""

from __future__ import annotations

import ctypes
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20
"""The unit in which image files are streamed: large enough that Python's per-chunk overhead
vanishes beside hashing and I/O, small enough never to matter for memory."""

WRITEBACK_EVERY = 8 << 20
"""How much a cache file being written may grow between two ``start_writeback`` calls."""

_SYNC_FILE_RANGE_WRITE = 2
# The running interpreter's own symbols, libc's among them: no search for the library.
_libc = ctypes.CDLL(None, use_errno=True)
_sync_file_range = getattr(_libc, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Holds an exclusive ``flock`` on ``path`` (created if needed) for the block, so threads and
    processes working on the same cache entry take turns."""
    # "a" creates the file without truncating one that another process holds.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def start_writeback(fd: int) -> None:
    """Starts writing the file's dirty pages to disk, without waiting for them, so that the
    ``fsync`` making it durable finds little left to write.

    That fsync is on the path of every image: of a 256 MiB download or conversion just written,
    four at once, it waited 0.6-0.8 s here, with both cores idle. Linux's ``sync_file_range``
    (what PostgreSQL's ``*_flush_after`` settings use, for the same reason); where it is missing,
    the fsync does all the writing as before. Advisory: a failure changes nothing."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def fsync(path: Path) -> None:
    """Flushes a file (or a directory's entries) to disk: renaming is atomic, but without this a
    crash could leave a complete name on incomplete data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
